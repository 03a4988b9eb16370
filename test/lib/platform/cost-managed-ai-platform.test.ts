import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AlertTopic, CacheEngine, CostManagedAiPlatform, type CostManagedAiPlatformProps, GatewayConfig, RouterEgress } from '../../../lib';
import { estimate, type CfnTemplate } from '../../../lambda/core/finops/estimate';

const document = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
const gatewayConfig = GatewayConfig.fromObject(document);

function synth(extra: Partial<CostManagedAiPlatformProps> = {}) {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
  const platform = new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig, ...extra });
  return { platform, template: Template.fromStack(stack) };
}

describe('CostManagedAiPlatform', () => {
  it('wires the router to the quota table and to the semantic cache by default', () => {
    const { template, platform } = synth();
    expect(platform.cache).toBeDefined();
    template.resourceCountIs('AWS::OpenSearchService::Domain', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_QUOTA_TABLE: Match.anyValue(), LLM_FINOPS_SEMANTIC_INDEX: Match.anyValue(), LLM_FINOPS_EXACT_CACHE_TABLE: Match.anyValue() }) },
    });
    template.hasOutput('*', { Description: 'OpenSearch endpoint of the semantic cache' });
  });

  it('takes the cache options, or none at all', () => {
    synth({ semanticCache: { engine: CacheEngine.serverless() } }).template.resourceCountIs('AWS::OpenSearchServerless::Collection', 1);
    const none = synth({ enableSemanticCache: false });
    expect(none.platform.cache).toBeUndefined();
    none.template.resourceCountIs('AWS::OpenSearchService::Domain', 0);
    none.template.resourcePropertiesCountIs('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ LLM_FINOPS_SEMANTIC_INDEX: Match.anyValue() }) } }, 0);
    // Nor the encoder's layer.
    none.template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    expect(() => synth({ enableSemanticCache: false, semanticCache: { engine: CacheEngine.serverless() } })).toThrow('semanticCache: settings for a cache enableSemanticCache: false leaves out');
    expect(() => synth({ enableCostAttribution: false, costAttribution: {} })).toThrow('costAttribution: settings for what enableCostAttribution: false leaves out');
  });

  it('puts the router in the VPC of a Valkey cache and admits it there; estimate prices the node (hand-computed)', () => {
    const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const platform = new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig, semanticCache: { engine: CacheEngine.valkey({ vpc }) } });
    const template = Template.fromStack(stack);
    expect(platform.gateway.router.function.isBoundToVpc).toBe(true);
    template.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 1);
    template.resourceCountIs('AWS::OpenSearchService::Domain', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      VpcConfig: { SubnetIds: [{ Ref: Match.stringLikeRegexp('^VpcPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('^VpcPrivateSubnet2') }] },
    });
    template.hasOutput('*', { Description: 'Valkey endpoint of the semantic cache' });
    const e = estimate({ Test: template.toJSON() as CfnTemplate });
    // One cache.t4g.medium Valkey node: 730 h x $0.052 = $37.96; the NAT gateway 730 h x $0.045 = $32.85.
    expect(e.fixed.filter((f) => /ReplicationGroup|NATGateway/.test(f.resource)).map((f) => [f.type, f.usdPerMonth]).sort()).toEqual([
      ['AWS::EC2::NatGateway', 32.85], ['AWS::ElastiCache::ReplicationGroup', 37.96],
    ]);
  });

  describe('a router in the VPC of a Valkey cache (issue 38: a way out)', () => {
    function isolated(extra: Partial<CostManagedAiPlatformProps> = {}, config = gatewayConfig) {
      const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      const platform = new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig: config, semanticCache: { engine: CacheEngine.valkey({ vpc }) }, ...extra });
      return { platform, template: () => Template.fromStack(stack) };
    }

    it('refuses isolated subnets without endpoints at synth, naming what the router calls', () => {
      expect(() => isolated().template()).toThrow(
        'RouterFunction: its subnets are isolated (no NAT route), so its calls to bedrock-runtime, kinesis-firehose, secretsmanager, sns, dynamodb would hang until they time out.',
      );
    });

    it('creates exactly the interface and gateway endpoints the router calls, in its subnets, with private DNS', () => {
      const { template, platform } = isolated({ routerEgress: RouterEgress.CREATE_ENDPOINTS });
      const t = template();
      const services = Object.values(t.findResources('AWS::EC2::VPCEndpoint')).map((r) => {
        const sn = r.Properties.ServiceName as unknown;
        // com.amazonaws.us-east-1.sns, or a gateway endpoint's Fn::Join of com.amazonaws., the Region and .dynamodb
        const name = typeof sn === 'string' ? sn.replace(/^com\.amazonaws\.[a-z0-9-]+\./, '') : /"\.([a-z.-]+)"/.exec(JSON.stringify(sn))?.[1];
        return `${r.Properties.VpcEndpointType} ${name}`;
      }).sort();
      // Titan embeddings and the Bedrock models, usage records, the cache's AUTH token, quota alerts; quota and exact-cache tables.
      expect(services).toEqual(['Gateway dynamodb', 'Interface bedrock-runtime', 'Interface kinesis-firehose', 'Interface secretsmanager', 'Interface sns']);
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Interface', PrivateDnsEnabled: true,
        SubnetIds: [{ Ref: Match.stringLikeRegexp('^VpcisolatedSubnet1') }, { Ref: Match.stringLikeRegexp('^VpcisolatedSubnet2') }],
      });
      t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        RouteTableIds: [{ Ref: Match.stringLikeRegexp('^VpcisolatedSubnet1RouteTable') }, { Ref: Match.stringLikeRegexp('^VpcisolatedSubnet2RouteTable') }],
      });
      // Each endpoint's security group admits the router's, on 443 only.
      t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        IpProtocol: 'tcp', FromPort: 443, ToPort: 443,
        GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PlatformGatewayRouterEndpointsns'), 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PlatformGatewayRouterSecurityGroup'), 'GroupId'] },
      });
      t.resourcePropertiesCountIs('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.anyValue() }, 0);
      // What doctor reads for EXISTING_ENDPOINTS, recorded in every mode.
      const meta = platform.gateway.router.function.node.metadata.find((m) => m.type === 'cdk-llm-finops:network')?.data;
      expect(meta).toEqual({ egress: 'create-endpoints', interfaceServices: ['bedrock-runtime', 'kinesis-firehose', 'secretsmanager', 'sns'], gatewayServices: ['dynamodb'], outside: [] });
    });

    it('creates nothing for EXISTING_ENDPOINTS, and refuses isolated subnets for a provider outside AWS', () => {
      isolated({ routerEgress: RouterEgress.EXISTING_ENDPOINTS }).template().resourceCountIs('AWS::EC2::VPCEndpoint', 0);
      const external = GatewayConfig.fromObject({ ...document, providers: [...document.providers, { type: 'anthropic', id: 'claude-api', apiKeySecret: 'llm/anthropic' }] });
      expect(() => isolated({ routerEgress: RouterEgress.CREATE_ENDPOINTS }, external).template())
        .toThrow("RouterFunction: its subnets are isolated, and no VPC endpoint reaches provider 'claude-api' (api.anthropic.com): choose PRIVATE_WITH_EGRESS subnets (a NAT gateway).");
    });
  });

  it('adds the batch lane only when asked, its alarms to the platform\'s topic; refuses its settings without it', () => {
    expect(synth().platform.batchLane).toBeUndefined();
    const { template, platform } = synth({ enableBatchLane: true, batchLane: { sweepInterval: Duration.minutes(15) } });
    expect(platform.batchLane).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.batchPoller' });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    // The platform's six alarms and the lane's three, all to the one topic.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 9);
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('PlatformAlerts') }] });
    expect(() => synth({ batchLane: { retention: Duration.days(7) } })).toThrow('batchLane: settings for a lane enableBatchLane (default false) leaves out');
  });

  it('sends quota alerts, budgets, anomalies and alarms to one alert topic, with the dashboard on by default', () => {
    const { template, platform } = synth({ notifications: { emails: ['finops@example.com'] } });
    expect(platform.budgetGuard).toBeUndefined();
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'finops@example.com' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_ALERT_TOPIC_ARN: { Ref: Match.stringLikeRegexp('PlatformAlerts') } }) },
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    // No budget: no spend-rate alarm; the four operational alarms and the forecast and spike alarms notify the topic.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('PlatformAlerts') }] });
    template.hasOutput('*', { Description: Match.stringLikeRegexp('Every cost alert') });
    synth({ dashboard: false }).template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  it('with budgets: the kill switch on the quota table, the IAM deny on the premium-only Bedrock model, a spend-rate alarm from the budget', () => {
    const { template, platform } = synth({ budgets: { monthlyLimitUsd: 730, tenantBudgets: [{ tenant: 'acme', monthlyLimitUsd: 50 }] } });
    expect(platform.budgetGuard?.killSwitchFunction).toBeDefined();
    template.resourceCountIs('AWS::Budgets::Budget', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_KILL_SWITCH_RULES: Match.stringLikeRegexp('"mode":"downgrade"'), LLM_FINOPS_QUOTA_TABLE: Match.anyValue() }) },
    });
    // quota.premiumTiers = [large]: Sonnet serves only the premium tier; Haiku also serves medium, so it stays allowed.
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [Match.objectLike({
          Effect: 'Deny',
          Resource: [
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0']] },
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0']] },
          ],
        })],
      },
    });
    template.hasResourceProperties('AWS::Budgets::BudgetsAction', { Definition: { IamActionDefinition: { Roles: [{ Ref: Match.stringLikeRegexp('PlatformGatewayRouterServiceRole') }] } } });
    // $730/month = $1/hour on average: the alarm fires above 4x.
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'CostUsd', Threshold: 4, Period: 3600, Statistic: 'Sum' });
    synth({ budgets: { monthlyLimitUsd: 10, premiumDeny: false } }).template.resourceCountIs('AWS::Budgets::BudgetsAction', 0);
  });

  it('refuses premiumDeny when the config has no premium-only Bedrock model', () => {
    const config = GatewayConfig.fromObject({ ...document, quota: { defaults: document.quota.defaults } });
    expect(() => synth({ gatewayConfig: config, budgets: { monthlyLimitUsd: 10, premiumDeny: true } })).toThrow('budgets.premiumDeny: the config has no premium Bedrock model to deny');
    // Left to its default, it is simply off.
    synth({ gatewayConfig: config, budgets: { monthlyLimitUsd: 10 } }).template.resourceCountIs('AWS::Budgets::BudgetsAction', 0);
  });

  it('delivers usage records to Firehose by default (Athena queries saved), none with enableCostAttribution: false', () => {
    const { template, platform } = synth();
    expect(platform.attribution).toBeDefined();
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_USAGE_STREAM: { Ref: Match.stringLikeRegexp('AttributionDelivery') } }) },
    });
    template.hasOutput('*', { Description: Match.stringLikeRegexp('Athena workgroup') });
    const none = synth({ enableCostAttribution: false });
    none.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 0);
    expect(none.platform.attribution).toBeUndefined();
  });

  it("routes a tenant's Bedrock calls through its tagged inference profiles when asked", () => {
    const config = GatewayConfig.fromObject({ ...document, tenants: [{ id: 'acme', apiKeys: [] }] });
    const { template } = synth({ gatewayConfig: config, tenantInferenceProfiles: [{ tenant: 'acme', models: ['claude-sonnet-4.5'] }] });
    template.hasResourceProperties('AWS::Bedrock::ApplicationInferenceProfile', { InferenceProfileName: Match.stringLikeRegexp('^[0-9a-f]{8}-acme-claude-sonnet-4-5$'), Tags: [{ Key: 'llm-finops:tenant', Value: 'acme' }] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_TENANT_UPSTREAMS: Match.anyValue() }) },
    });
  });

  it('shares an alert topic made elsewhere instead of making one, and refuses subscribers for it', () => {
    const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
    const alertTopic = AlertTopic.fromAlertTopicAttributes(stack, 'OrgAlerts', { topicArn: 'arn:aws:sns:us-east-1:111122223333:org-llm-alerts' });
    const platform = new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig, alertTopic, budgets: { monthlyLimitUsd: 500 } });
    expect(platform.alerts).toBe(alertTopic);
    const t = Template.fromStack(stack);
    expect(Object.values(t.findResources('AWS::SNS::Topic')).map((r) => r.Properties.DisplayName)).toEqual(['LLM budget kill switch (machine use)']);
    t.hasOutput('*', { Value: 'arn:aws:sns:us-east-1:111122223333:org-llm-alerts', Description: Match.stringLikeRegexp('^Every cost alert') });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:org-llm-alerts' }) },
    });
    const other = new Stack(new App(), 'Other');
    expect(() => new CostManagedAiPlatform(other, 'Platform', {
      gatewayConfig, alertTopic: AlertTopic.fromAlertTopicAttributes(other, 'OrgAlerts', { topicArn: 'arn:aws:sns:us-east-1:111122223333:org-llm-alerts' }), notifications: { emails: ['finops@example.com'] },
    })).toThrow('notifications: subscribers of an alertTopic made elsewhere are set where it was made; leave notifications out');
  });
});
