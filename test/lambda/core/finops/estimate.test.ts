import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { estimate, quotaCountersPerRequest, type CfnTemplate } from '../../../../lambda/core/finops/estimate';
import { GatewayConfig, ReferencePlatformStack, RouterFunction } from '../../../../lib';

describe('estimate', () => {
  it('prices the reference platform: the cache domain fixed; API, Lambda, quota and cache I/O, the sentence encoder compute per request (hand-computed)', () => {
    const config = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
    const stack = new ReferencePlatformStack(new App(), 'Ref', { gatewayConfig: GatewayConfig.fromObject(config) });
    const e = estimate({ Ref: Template.fromStack(stack).toJSON() as CfnTemplate });
    // The development cache domain: 730 h x $0.073 (t3.medium.search) + 10 GB x $0.122 = 53.29 + 1.22; the dashboard
    // $3; eight alarms, one reading two metrics: 9 x $0.10.
    expect(e.fixedUsdPerMonth).toBe(58.41);
    // $3.50 REST API, 1 GB x 3 s x 1M x $0.0000133334 (arm64) = $40.00, $0.20 of Lambda requests,
    // DynamoDB for the quota: a tenant's day and month USD and token counters and the hour counter of the forecast,
    // each raised at reserve and updated at settle, plus the reservation item's put, update and delete: 13 x $0.625;
    // and the cache: 1 x $0.125 + 2 x $0.625 of DynamoDB (1.375 -> 1.38); the sentence encoder's 18 ms on one vCPU
    // take 18 x 1769 / 1024 = 31.1 ms on the 1 GB router: 1 GB x 0.0311 s x 1M x $0.0000133334 = $0.41 (no tokens billed);
    // usage records to Firehose: 1M x 5 KB billed = 4.77 GB x ($0.029 ingest + $0.018 Parquet) = $0.22.
    // One 1.5 KB usage record per request in the router's log group: 1.43 GB per 1M at $0.50 = $0.72.
    expect(e.variablePerMillionRequests).toEqual({
      'API Gateway REST requests': 3.5, 'Lambda requests': 0.2, 'Lambda compute (1 GB x 3 s)': 40, 'CloudWatch Logs ingestion of usage records (1.5 KB each)': 0.72, 'DynamoDB quota: 5 counters, 13 writes': 8.13,
      'DynamoDB exact cache read (1) and write (2)': 1.38, 'Firehose usage delivery (5 KB billed per record, Parquet conversion)': 0.22,
      'Sentence encoding in the router (31 ms at 1 GB)': 0.41,
    });
    expect(e.variableUsdPerMillionRequests).toBe(54.56);
  });

  it('prices the sentence encoder for a router whose own config names it (no SemanticCache), at the router\'s memory', () => {
    const config = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
    const withEncoder = { ...config, cache: { semantic: { enabled: true, embedder: { type: 'sentence' }, index: { type: 'opensearch', endpoint: 'https://search-x.us-east-1.es.amazonaws.com' } } } };
    const stack = new Stack(new App(), 'Own', { env: { account: '111122223333', region: 'us-east-1' } });
    new RouterFunction(stack, 'Router', { config: GatewayConfig.fromObject(withEncoder), memorySize: 2048 });
    const e = estimate({ Own: Template.fromStack(stack).toJSON() as CfnTemplate });
    // 18 ms on one vCPU; 2,048 MB has more than one: 2 GB x 0.018 s x 1M x $0.0000133334 = $0.48.
    expect(e.variablePerMillionRequests['Sentence encoding in the router (18 ms at 2 GB)']).toBe(0.48);
  });

  it('counts the quota counters a request touches under the config\'s policies (6 scopes x 3 windows)', () => {
    const base = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
    const per = ['tenant', 'feature', 'team', 'endUser', 'session', 'apiKey'];
    const policies = per.map((p) => ({ id: `per-${p.toLowerCase()}`, per: p, limits: ['minute', 'hour', 'day'].map((window) => ({ window, usd: 10 })) }));
    // 18 policy counters (their hour counters double as the forecast's), the tenant's 4 and its month's hour counter.
    expect(quotaCountersPerRequest(JSON.stringify({ ...base, quota: { ...base.quota, policies } }))).toBe(23);
    expect(quotaCountersPerRequest(JSON.stringify(base))).toBe(5);
    expect(quotaCountersPerRequest(JSON.stringify({ ...base, quota: { ...base.quota, forecast: { enabled: false } } }))).toBe(4);
    expect(quotaCountersPerRequest('{"not": "a config"}')).toBeUndefined();
    expect(quotaCountersPerRequest({ 'Fn::Join': [] })).toBeUndefined();
  });

  it('itemises a fuller platform and totals it (hand-computed)', () => {
    const t: CfnTemplate = {
      Resources: {
        Nat: { Type: 'AWS::EC2::NatGateway' },
        Vectors: { Type: 'AWS::OpenSearchServerless::Collection', Properties: { Type: 'VECTORSEARCH' } },
        Domain: { Type: 'AWS::OpenSearchService::Domain', Properties: { ClusterConfig: { InstanceType: 't3.small.search', InstanceCount: 1 }, EBSOptions: { EBSEnabled: true, VolumeSize: 10 } } },
        Odd: { Type: 'AWS::OpenSearchService::Domain', Properties: { ClusterConfig: { InstanceType: 'x9.large.search' } } },
        EpConfig: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ InstanceType: 'ml.inf2.xlarge', InitialInstanceCount: 1 }] } },
        Ep: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointConfigName: { 'Fn::GetAtt': ['EpConfig', 'EndpointConfigName'] } } },
        Dash: { Type: 'AWS::CloudWatch::Dashboard' },
        A1: { Type: 'AWS::CloudWatch::Alarm' },
        A2: { Type: 'AWS::CloudWatch::Alarm' },
        Ratio: { Type: 'AWS::CloudWatch::Alarm', Properties: { Metrics: [{ Id: 'e', Expression: '100 * a / b' }, { Id: 'a', MetricStat: {} }, { Id: 'b', MetricStat: {} }] } },
        Api: { Type: 'AWS::ApiGateway::RestApi' },
        Quota: { Type: 'AWS::DynamoDB::Table' },
        Router: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 1024, Architectures: ['arm64'], Environment: { Variables: { LLM_FINOPS_CONFIG: '{}' } } } },
      },
    };
    const e = estimate({ Platform: t }, { requestsPerMonth: 2_000_000, meanDurationSeconds: 3 });
    const cost = Object.fromEntries(e.fixed.map((f) => [f.resource, f.usdPerMonth]));
    expect(cost).toEqual({
      Nat: 32.85, // 730 h x $0.045
      Vectors: 350.4, // 2 OCU x 730 h x $0.24
      Domain: 27.5, // 730 h x $0.036 + 10 GB x $0.122
      Odd: null,
      Ep: 722.7, // 730 h x $0.99 (ml.inf2.xlarge, catalog)
      Dash: 3,
      A1: 0.1,
      A2: 0.1,
      Ratio: 0.2, // metric math on two metrics
    });
    expect(e.unpriced).toEqual(['Platform/Odd (no price for x9.large.search)']);
    expect(e.fixedUsdPerMonth).toBe(1136.85);
    // 3.50 API + 0.20 + 40.00 Lambda + 0.72 usage records in CloudWatch Logs + 10 x 0.625 + 5 x 0.125 DynamoDB (6.875 -> 6.88)
    expect(e.variableUsdPerMillionRequests).toBe(51.3);
    expect(e.usage).toMatchObject({ variableUsdPerMonth: 102.6, totalUsdPerMonth: 1239.45 });
  });

  it('prices Valkey replication groups by node count, cluster mode or not, and says when a node type has no price', () => {
    const e = estimate({ S: { Resources: {
      Dev: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'valkey', CacheNodeType: 'cache.t4g.medium', NumCacheClusters: 1 } },
      Prod: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'valkey', CacheNodeType: 'cache.r7g.large', NumCacheClusters: 2 } },
      Sharded: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'valkey', CacheNodeType: 'cache.r7g.large', NumNodeGroups: 2, ReplicasPerNodeGroup: 1 } },
      Redis: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { Engine: 'redis', CacheNodeType: 'cache.r7g.large' } },
    } } });
    const cost = Object.fromEntries(e.fixed.map((f) => [f.resource, [f.usdPerMonth, f.basis]]));
    expect(cost).toEqual({
      Dev: [37.96, '1 x cache.t4g.medium (valkey) x 730 h'], // 730 x 0.052
      Prod: [255.79, '2 x cache.r7g.large (valkey) x 730 h'], // 2 x 730 x 0.1752 = 255.792
      Sharded: [511.58, '4 x cache.r7g.large (valkey) x 730 h'], // 2 shards x (1 + 1 replica)
      Redis: [null, 'no price for redis cache.r7g.large'],
    });
  });

  it('prices the committed capacity a router\'s config declares (Provisioned Throughput, PTU) as fixed monthly items', () => {
    const config = JSON.stringify({ models: [
      { id: 'sonnet-pt', commitment: { type: 'bedrock-provisioned', units: 2, usdPerUnitHour: 39.6, term: '1-month' } },
      { id: 'gpt-ptu', commitment: { type: 'azure-ptu', units: 15, usdPerUnitHour: 1, term: 'monthly' } },
      { id: 'plain' },
    ] });
    const e = estimate({ S: { Resources: { Router: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 1024, Architectures: ['arm64'], Environment: { Variables: { LLM_FINOPS_CONFIG: config } } } } } } });
    // 2 x $39.60 x 730 h = $57,816; 15 x $1 x 730 = $10,950.
    expect(e.fixed).toEqual([
      { stack: 'S', resource: 'Router/sonnet-pt', type: 'commitment:bedrock-provisioned', usdPerMonth: 57_816, basis: '2 x $39.6/h x 730 h (1-month), from the gateway config' },
      { stack: 'S', resource: 'Router/gpt-ptu', type: 'commitment:azure-ptu', usdPerMonth: 10_950, basis: '15 x $1/h x 730 h (monthly), from the gateway config' },
    ]);
    expect(e.fixedUsdPerMonth).toBe(68_766);
  });

  it('adds the dedicated masters of a production domain', () => {
    const e = estimate({ S: { Resources: { D: { Type: 'AWS::OpenSearchService::Domain', Properties: {
      ClusterConfig: { InstanceType: 'r7g.large.search', InstanceCount: 3, DedicatedMasterEnabled: true, DedicatedMasterType: 'm7g.large.search', DedicatedMasterCount: 3 },
      EBSOptions: { EBSEnabled: true, VolumeSize: 100 },
    } } } } });
    // 3 x 730 x 0.178 = 389.82; 3 x 100 x 0.122 = 36.60; 3 x 730 x 0.139 = 304.41
    expect(e.fixed[0]).toMatchObject({ usdPerMonth: 730.83, basis: '3 x r7g.large.search x 730 h + 3 x 100 GB gp3 + 3 x m7g.large.search masters x 730 h' });
  });

  it('says when a scheduled minimum is never lowered again (the endpoint then runs around the clock)', () => {
    const withSchedules = (actions: unknown[]) => estimate({ S: { Resources: {
      C: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, ManagedInstanceScaling: { MinInstanceCount: 0, MaxInstanceCount: 2 } }] } },
      E: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointName: 'ep', EndpointConfigName: { 'Fn::GetAtt': ['C', 'EndpointConfigName'] } } },
      T: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { ResourceId: 'endpoint/ep/variant/AllTraffic', MinCapacity: 0, MaxCapacity: 2, ScheduledActions: actions } },
    } } });
    const warm = { ScheduledActionName: 'warm', Schedule: 'cron(0 8 ? * MON-FRI *)', ScalableTargetAction: { MinCapacity: 1 } };
    const raiseOnly = withSchedules([warm]);
    expect(raiseOnly.fixed[0].basis).toMatch(/1 x 730 h a month at the scheduled minimums \(no schedule lowers the minimum again/);
    const paired = withSchedules([warm, { ScheduledActionName: 'night', Schedule: 'cron(0 19 * * ? *)', ScalableTargetAction: { MinCapacity: 0 } }]);
    expect(paired.fixed[0].basis).not.toMatch(/no schedule lowers/);
    expect(paired.fixedUsdPerMonth).toBeLessThan(raiseOnly.fixedUsdPerMonth);
  });

  it('uses an endpoint\'s managed minimum instance count (scale to zero)', () => {
    const e = estimate({ S: { Resources: {
      C: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, ManagedInstanceScaling: { MinInstanceCount: 0 } }] } },
      E: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointConfigName: { 'Fn::GetAtt': ['C', 'EndpointConfigName'] } } },
    } } });
    expect(e.fixedUsdPerMonth).toBe(0);
  });
});
