import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CostAttribution, CurExport, GatewayConfig, TenantInferenceProfiles } from '../../../lib';
import { profileName } from '../../../lib/attribution/tenant-inference-profiles';
import { CUR_COLUMNS, USAGE_COLUMNS } from '../../../lib/attribution/schema';
import { acknowledgeBasicExecutionRole } from '../../../lib/nag';
import { unacknowledgedNagFindings } from '../../support/nag';

const env = (region: string) => ({ account: '111122223333', region });
const fn = (s: Stack) => {
  const f = new lambda.Function(s, 'Router', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') });
  acknowledgeBasicExecutionRole(f);
  return f;
};

describe('CostAttribution', () => {
  it('delivers usage through Firehose as Parquet by day into a TLS-only, access-logged bucket, with the schema from Glue', () => {
    const s = new Stack(new App(), 'A', { env: env('eu-west-1') });
    new CostAttribution(s, 'Attribution', { databaseName: 'llm_finops' });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'DirectPut',
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'usage/dt=!{timestamp:yyyy-MM-dd}/',
        ErrorOutputPrefix: 'usage-errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 128 },
        CompressionFormat: 'UNCOMPRESSED',
        DataFormatConversionConfiguration: {
          Enabled: true,
          InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: false } } },
          OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
          SchemaConfiguration: { CatalogId: '111122223333', DatabaseName: 'llm_finops', TableName: 'usage_log', Region: 'eu-west-1', RoleARN: Match.anyValue(), VersionId: 'LATEST' },
        },
      }),
    });
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'sts:ExternalId': '111122223333' } } }] },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'], Resource: [
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111122223333:catalog']] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111122223333:database/llm_finops']] },
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':glue:eu-west-1:111122223333:table/llm_finops/usage_log']] },
      ] }]) },
    });
    t.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'usage/' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ Status: 'Enabled', Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 90 }] }] },
    });
  });

  it('defines the usage table with every record field and day-partition projection (no crawler)', () => {
    const s = new Stack(new App(), 'A', { env: env('eu-west-1') });
    new CostAttribution(s, 'Attribution', { databaseName: 'llm_finops' });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Glue::Crawler', 0);
    t.hasResourceProperties('AWS::Glue::Database', { CatalogId: { Ref: 'AWS::AccountId' }, DatabaseInput: { Name: 'llm_finops' } });
    t.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'llm_finops',
      TableInput: {
        Name: 'usage_log',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'dt', Type: 'string' }],
        Parameters: {
          classification: 'parquet', 'projection.enabled': 'true', 'projection.dt.type': 'date', 'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2025-01-01,NOW', 'projection.dt.interval': '1', 'projection.dt.interval.unit': 'DAYS',
          'storage.location.template': { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('Usage') }, '/usage/dt=${dt}/']] },
        },
        StorageDescriptor: Match.objectLike({
          Columns: USAGE_COLUMNS.map((c) => ({ Name: c.name, Type: c.type })),
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        }),
      },
    });
  });

  it('gives Athena an enforced workgroup with a scan cutoff and expiring encrypted results, and saves the usage-log queries', () => {
    const s = new Stack(new App(), 'A', { env: env('eu-west-1') });
    const a = new CostAttribution(s, 'Attribution', { databaseName: 'llm_finops', bytesScannedCutoffPerQuery: 1_000_000_000 });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'llm-finops-attribution',
      State: 'ENABLED',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true, BytesScannedCutoffPerQuery: 1_000_000_000, PublishCloudWatchMetricsEnabled: true,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: { OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('QueryResults') }, '/results/']] }, EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } },
      },
    });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [{ Status: 'Enabled', ExpirationInDays: 30, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] } });
    expect(Object.keys(a.namedQueries)).toEqual(['spend-by-dimension', 'unit-economics', 'savings', 'savings-by-lever', 'focus-gateway']);
    const q = Object.values(t.findResources('AWS::Athena::NamedQuery')).map((r) => r.Properties);
    expect(q.find((p) => p.Name === 'llm-finops spend-by-dimension')).toMatchObject({ Database: 'llm_finops', WorkGroup: { Ref: expect.stringMatching(/WorkGroup/) } });
    expect(q.find((p) => p.Name === 'llm-finops spend-by-dimension').QueryString).toContain('FROM "llm_finops"."usage_log"');
  });

  it('with the CUR and FOCUS exports: their Glue tables by billing period, and every query saved with the tag keys filled in', () => {
    const s = new Stack(new App(), 'A', { env: env('eu-west-1') });
    const bucket = s3.Bucket.fromBucketName(s, 'Exports', 'my-billing-exports');
    const a = new CostAttribution(s, 'Attribution', {
      databaseName: 'llm_finops',
      cur: { bucket, prefix: 'cur', exportName: 'llm-finops-cur2' },
      focus: { bucket, prefix: 'cur', exportName: 'llm-finops-focus' },
      tenantTagKey: 'tenant',
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'cur',
        PartitionKeys: [{ Name: 'billing_period', Type: 'string' }],
        Parameters: Match.objectLike({
          'projection.billing_period.type': 'date', 'projection.billing_period.format': 'yyyy-MM', 'projection.billing_period.interval.unit': 'MONTHS',
          'storage.location.template': 's3://my-billing-exports/cur/llm-finops-cur2/data/BILLING_PERIOD=${billing_period}/',
        }),
        StorageDescriptor: Match.objectLike({ Location: 's3://my-billing-exports/cur/llm-finops-cur2/data/', Columns: CUR_COLUMNS.map((c) => ({ Name: c.name, Type: c.type })) }),
      }),
    });
    t.hasResourceProperties('AWS::Glue::Table', { TableInput: Match.objectLike({ Name: 'focus', StorageDescriptor: Match.objectLike({ Columns: Match.arrayWith([{ Name: 'billedcost', Type: 'double' }, { Name: 'tags', Type: 'map<string,string>' }]) }) }) });
    expect(Object.keys(a.namedQueries)).toEqual(['spend-by-dimension', 'unit-economics', 'savings', 'savings-by-lever', 'bedrock-spend', 'sagemaker-hosting', 'reconciliation', 'focus']);
    const sql = Object.values(t.findResources('AWS::Athena::NamedQuery')).map((r) => r.Properties.QueryString as string);
    expect(sql.find((x) => x.includes("element_at(resource_tags, 'user_tenant')"))).toBeDefined();
    expect(sql.find((x) => x.includes("element_at(Tags, 'user:tenant')"))).toBeDefined();
    expect(sql.every((x) => !x.includes('{{'))).toBe(true);
  });

  it('lets the router deliver to the stream only, and refuses bad props', () => {
    const s = new Stack(new App(), 'A', { env: env('eu-west-1') });
    const a = new CostAttribution(s, 'Attribution', { databaseName: 'llm_finops' });
    a.bindRouter(fn(s));
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { LLM_FINOPS_USAGE_STREAM: { Ref: Match.stringLikeRegexp('Delivery') } } } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('RouterServiceRole') }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['firehose:PutRecordBatch', 'firehose:PutRecord'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('Delivery'), 'Arn'] } }] },
    });
    expect(() => new CostAttribution(new Stack(), 'B', { databaseName: 'Bad-Name', bytesScannedCutoffPerQuery: 5 })).toThrow(/databaseName: lower-case[\s\S]*bytesScannedCutoffPerQuery: at least 10,000,000/);
  });

  it("reads each export's partition folder, BILLING_PERIOD unless told otherwise", () => {
    const s = new Stack(new App(), 'S', { env: env('us-east-1') });
    const bucket = s3.Bucket.fromBucketName(s, 'E', 'exports');
    new CostAttribution(s, 'Attribution', {
      databaseName: 'llm_finops',
      cur: { bucket, prefix: 'cur', exportName: 'llm-finops-cur2' },
      focus: { bucket, prefix: 'cur', exportName: 'llm-finops-focus', partitionFolder: 'billing_period' },
    });
    const templates = JSON.stringify(Template.fromStack(s).findResources('AWS::Glue::Table'));
    expect(templates).toContain('llm-finops-cur2/data/BILLING_PERIOD=${billing_period}/');
    expect(templates).toContain('llm-finops-focus/data/billing_period=${billing_period}/');
    expect(() => new CostAttribution(new Stack(), 'B', { focus: { bucket: s3.Bucket.fromBucketName(new Stack(), 'X', 'exports'), prefix: 'p', exportName: 'e', partitionFolder: 'bad folder' } }))
      .toThrow("focus.partitionFolder: letters, digits and _ (as the export's folder is named), got 'bad folder'");
  });

  it('lets Firehose only put usage records, never delete them (the audit trail)', () => {
    const s = new Stack(new App(), 'S', { env: env('us-east-1') });
    new CostAttribution(s, 'Attribution', { databaseName: 'llm_finops' });
    const policies = JSON.stringify(Template.fromStack(s).findResources('AWS::IAM::Policy'));
    expect(policies).toContain('s3:PutObject');
    expect(policies).not.toMatch(/s3:DeleteObject/);
  });

  it('has no unacknowledged cdk-nag findings', () => {
    const app = new App();
    const s = new Stack(app, 'Nag', { env: env('eu-west-1') });
    new CostAttribution(s, 'Attribution', { cur: { bucket: s3.Bucket.fromBucketName(s, 'E', 'exports'), prefix: 'cur', exportName: 'x' } }).bindRouter(fn(s));
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});

describe('CurExport', () => {
  it('exports CUR 2.0 with an explicit column list, resources, split cost and IAM principal data, as Parquet overwritten daily', () => {
    const s = new Stack(new App(), 'Billing', { env: env('us-east-1') });
    const e = new CurExport(s, 'Cur', { focus: true });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::BCMDataExports::Export', {
      Export: {
        Name: 'llm-finops-cur2',
        Description: Match.anyValue(),
        DataQuery: {
          QueryStatement: `SELECT ${CUR_COLUMNS.map((c) => c.name).join(', ')} FROM COST_AND_USAGE_REPORT`,
          TableConfigurations: { COST_AND_USAGE_REPORT: { TIME_GRANULARITY: 'HOURLY', INCLUDE_RESOURCES: 'TRUE', INCLUDE_SPLIT_COST_ALLOCATION_DATA: 'TRUE', INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY: 'FALSE', INCLUDE_IAM_PRINCIPAL_DATA: 'TRUE' } },
        },
        DestinationConfigurations: { S3Destination: { S3Bucket: { Ref: Match.stringLikeRegexp('CurBucket') }, S3Prefix: 'cur', S3Region: 'us-east-1', S3OutputConfigurations: { OutputType: 'CUSTOM', Format: 'PARQUET', Compression: 'PARQUET', Overwrite: 'OVERWRITE_REPORT' } } },
        RefreshCadence: { Frequency: 'SYNCHRONOUS' },
      },
    });
    expect(JSON.stringify(t.toJSON())).not.toContain('SELECT *');
    t.hasResourceProperties('AWS::BCMDataExports::Export', { Export: Match.objectLike({ Name: 'llm-finops-focus', DataQuery: { QueryStatement: Match.stringLikeRegexp('^SELECT BillingPeriodStart, .* FROM FOCUS_1_2_AWS$'), TableConfigurations: { FOCUS_1_2_AWS: { TIME_GRANULARITY: 'HOURLY' } } } }) });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([{
        Sid: 'AllowDataExportsWrite', Effect: 'Allow',
        Principal: { Service: ['bcm-data-exports.amazonaws.com', 'billingreports.amazonaws.com'] },
        Action: ['s3:PutObject', 's3:GetBucketPolicy'],
        Resource: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('CurBucket'), 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('CurBucket'), 'Arn'] }, '/*']] }],
        Condition: {
          StringLike: { 'aws:SourceArn': [
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cur:us-east-1:111122223333:definition/*']] },
            { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bcm-data-exports:us-east-1:111122223333:export/*']] },
          ] },
          StringEquals: { 'aws:SourceAccount': '111122223333' },
        },
      }]) },
    });
    // The export is created after the policy that lets it write.
    const exp = Object.values(t.findResources('AWS::BCMDataExports::Export'))[0];
    expect(exp.DependsOn).toEqual([expect.stringMatching(/CurBucketPolicy/)]);
    expect(e.curLocation).toMatchObject({ prefix: 'cur', exportName: 'llm-finops-cur2' });
  });

  it('refuses a region other than us-east-1 and guards an environment-agnostic stack with a deploy-time rule', () => {
    expect(() => new CurExport(new Stack(new App(), 'EU', { env: env('eu-west-1') }), 'Cur')).toThrow('region: AWS Data Exports exists in us-east-1 only; put CurExport in a us-east-1 stack (this one is eu-west-1)');
    const s = new Stack(new App(), 'Agnostic');
    new CurExport(s, 'Cur');
    const rules = Template.fromStack(s).toJSON().Rules;
    expect(JSON.stringify(rules)).toContain('us-east-1');
    expect(() => new CurExport(new Stack(new App(), 'X', { env: env('us-east-1') }), 'Cur', { exportName: 'bad name', timeGranularity: 'WEEKLY' })).toThrow(/exportName[\s\S]*timeGranularity: HOURLY or DAILY/);
  });

  it('expires the daily-overwritten copies of its export bucket (noncurrent versions after 30 days)', () => {
    const s = new Stack(new App(), 'Own', { env: env('us-east-1') });
    new CurExport(s, 'Cur');
    Template.fromStack(s).hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' })]) },
    });
  });

  it('writes to a bucket in the attribution region and has no unacknowledged cdk-nag findings', () => {
    const app = new App();
    const s = new Stack(app, 'Billing', { env: env('us-east-1') });
    const bucket = s3.Bucket.fromBucketAttributes(s, 'Remote', { bucketName: 'exports-eu', region: 'eu-west-1' });
    new CurExport(s, 'Cur', { bucket });
    const own = new Stack(app, 'Own', { env: env('us-east-1') });
    new CurExport(own, 'Cur');
    Template.fromStack(s).hasResourceProperties('AWS::BCMDataExports::Export', { Export: Match.objectLike({ DestinationConfigurations: { S3Destination: Match.objectLike({ S3Bucket: 'exports-eu', S3Region: 'eu-west-1' }) } }) });
    expect(Annotations.fromStack(s).findWarning('*', Match.stringLikeRegexp('bucketPolicyStatements'))).toHaveLength(1);
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});

describe('TenantInferenceProfiles', () => {
  const gatewayConfig = GatewayConfig.fromObject({
    providers: [{ type: 'bedrock', id: 'bedrock' }, { type: 'openai-compatible', id: 'oa', baseUrl: 'https://api.openai.com/v1' }],
    models: [
      { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' },
      { id: 'titan', provider: 'bedrock', upstreamModel: 'amazon.titan-text-express-v1' },
      { id: 'gpt', provider: 'oa', upstreamModel: 'gpt-4o-mini' },
    ],
    tiers: [{ name: 't', models: ['nova-lite'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-lite' },
    tenants: [{ id: 'acme', team: 'platform', apiKeys: [] }, { id: 'globex', apiKeys: [] }],
  });

  it('makes a tagged application inference profile per tenant and Bedrock model, activates the tag keys, and hands the ARNs to the router', () => {
    const s = new Stack(new App(), 'P', { env: env('us-east-1') });
    const p = new TenantInferenceProfiles(s, 'Profiles', { gatewayConfig, tenants: [{ tenant: 'acme' }, { tenant: 'globex', models: ['nova-lite'] }] });
    const router = fn(s);
    p.bindRouter(router);
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Bedrock::ApplicationInferenceProfile', 3);
    t.hasResourceProperties('AWS::Bedrock::ApplicationInferenceProfile', {
      InferenceProfileName: Match.stringLikeRegexp('^[0-9a-f]{8}-acme-nova-lite$'),
      ModelSource: { CopyFrom: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-lite-v1:0']] } },
      Tags: [{ Key: 'llm-finops:team', Value: 'platform' }, { Key: 'llm-finops:tenant', Value: 'acme' }],
    });
    t.hasResourceProperties('AWS::Bedrock::ApplicationInferenceProfile', {
      InferenceProfileName: Match.stringLikeRegexp('^[0-9a-f]{8}-acme-titan$'),
      ModelSource: { CopyFrom: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1']] } },
    });
    t.hasResourceProperties('AWS::Bedrock::ApplicationInferenceProfile', { InferenceProfileName: Match.stringLikeRegexp('^[0-9a-f]{8}-globex-nova-lite$'), Tags: [{ Key: 'llm-finops:tenant', Value: 'globex' }] });
    // Tag activation: a scheduled function (at deploy, asynchronously, and every 6 hours) and an alarm, never a
    // custom resource that could fail or roll back the stack.
    t.resourceCountIs('Custom::AWS', 0);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('activates the tenant and team cost allocation tags'),
      Environment: { Variables: { LLM_FINOPS_COST_ALLOCATION_TAGS: '["llm-finops:tenant","llm-finops:team"]' } },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('TagActivatorLogs') } },
    });
    t.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: ['ce:ListCostAllocationTags', 'ce:UpdateCostAllocationTagsStatus'], Resource: '*' }]) } });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(6 hours)', Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 2 } })] });
    t.hasResourceProperties('Custom::Trigger', { InvocationType: 'Event' });
    // The CDK Trigger provider's log group, made before the trigger runs, with an expiry (Lambda would make it with none).
    t.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['/aws/lambda/', { Ref: Match.stringLikeRegexp('^AWSCDKTriggerCustomResourceProviderCustomResourceProviderHandler') }]] }, RetentionInDays: 30,
    });
    const trigger = Object.values(t.findResources('Custom::Trigger'))[0] as { DependsOn?: string[] };
    expect(trigger.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^TriggerProviderLogs/)]));
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'LlmFinOps', MetricName: 'InactiveCostAllocationTags', Statistic: 'Minimum', Period: 21600, EvaluationPeriods: 5, Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const vars = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.LLM_FINOPS_TENANT_UPSTREAMS)!.Properties.Environment.Variables;
    // The ARN prefix once and each profile's id: a sixth of the bytes of full ARNs in the 4 KB environment.
    const upstreams = JSON.stringify(vars.LLM_FINOPS_TENANT_UPSTREAMS);
    expect(upstreams).toContain(':application-inference-profile/');
    expect(upstreams).toContain('InferenceProfileId');
    expect(upstreams).not.toContain('InferenceProfileArn');
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('RouterServiceRole') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('ProfileacmenovaLite|Profileacmenova'), 'InferenceProfileArn'] }]) })] },
    });
  });

  it('has no unacknowledged cdk-nag findings', () => {
    const app = new App();
    const s = new Stack(app, 'P', { env: env('us-east-1') });
    new TenantInferenceProfiles(s, 'Profiles', { gatewayConfig, tenants: [{ tenant: 'acme' }] }).bindRouter(fn(s));
    expect(unacknowledgedNagFindings(app)).toBe('');
  });

  it('names profiles the way Bedrock accepts (letters and digits, single separators)', () => {
    const re = /^([0-9a-zA-Z][ _-]?)+$/;
    expect(profileName('acme', 'claude-sonnet-4.5')).toBe('acme-claude-sonnet-4-5');
    expect(profileName('acme', 'claude-sonnet-4.5', 'c8a1b2c3')).toBe('c8a1b2c3-acme-claude-sonnet-4-5');
    // Two long names that share their first 64 characters stay distinct and within 64.
    const long = (m: string) => profileName('t'.repeat(60), m, 'c8a1b2c3');
    expect(long('model-a')).not.toBe(long('model-b'));
    for (const n of [long('model-a'), long('model-b')]) expect(n.length).toBeLessThanOrEqual(64);
    expect(profileName('team.a', 'x:y--z')).toBe('team-a-x-y-z');
    for (const n of ['acme-nova-lite', profileName('acme', 'claude-sonnet-4.5'), profileName('a_b', 'm..n')]) expect(n).toMatch(re);
  });

  it('refuses tenants and models the config does not have', () => {
    expect(() => new TenantInferenceProfiles(new Stack(), 'P', { gatewayConfig, tenants: [{ tenant: 'initech' }, { tenant: 'acme', models: ['gpt'] }] }))
      .toThrow(/tenants\[0\].tenant: 'initech' is not a tenant[\s\S]*tenants\[1\].models: 'gpt' is not a Bedrock model/);
  });
});
