import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { BatchLane, GatewayConfig, LlmGateway, TokenQuotaTable } from '../../../lib';
import { unacknowledgedNagFindings } from '../../support/nag';

const gatewayConfig = () => GatewayConfig.fromFile(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'));

function lane(props: Partial<ConstructorParameters<typeof BatchLane>[2]> = {}) {
  const app = new App();
  const stack = new Stack(app, 'Lane', { env: { account: '111122223333', region: 'us-east-1' } });
  const gateway = new LlmGateway(stack, 'Gateway', { config: gatewayConfig(), quotaTable: new TokenQuotaTable(stack, 'Quota'), setUpApiGatewayAccountLogging: false });
  const topic = new sns.Topic(stack, 'Alerts', { enforceSSL: true });
  const batch = new BatchLane(stack, 'Batch', { gateway, alarmTopic: topic, ...props });
  return { app, stack, gateway, batch };
}

describe('BatchLane', () => {
  it('is clean under cdk-nag and the CloudFormation resource specification', () => {
    const { app } = lane();
    expect(unacknowledgedNagFindings(app)).toBe('');
  });

  it('makes a private bucket with a lifecycle, a table with its two indexes, TTL and recovery', () => {
    const t = Template.fromStack(lane({ retention: Duration.days(14) }).stack);
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 14, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }] },
      LoggingConfiguration: { LogFilePrefix: 'batch/' },
    });
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({ IndexName: 'by-owner', KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }, { AttributeName: 'created', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }),
        Match.objectLike({ IndexName: 'active', Projection: { ProjectionType: 'KEYS_ONLY' } }),
      ],
    });
  });

  it('lets only this account\'s Bedrock batch jobs assume the service role, which reads and writes jobs/ and invokes the config\'s models', () => {
    const t = Template.fromStack(lane().stack);
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{
        Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'bedrock.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':model-invocation-job/*']] } },
        },
      }] },
    });
    const policies = t.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[]);
    const s3Job = statements.find((s) => JSON.stringify(s.Action) === JSON.stringify(['s3:GetObject', 's3:PutObject']))!;
    expect(JSON.stringify(s3Job.Resource)).toContain('/jobs/*');
    expect(s3Job.Condition).toEqual({ StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } });
    const invoke = statements.find((s) => s.Action === 'bedrock:InvokeModel')!;
    expect(JSON.stringify(invoke.Resource)).toContain('foundation-model/amazon.nova-micro-v1:0');
    // The router: the job API, and passing the role to Bedrock only.
    expect(statements.find((s) => s.Action === 'bedrock:CreateModelInvocationJob')).toBeDefined();
    expect(statements.find((s) => JSON.stringify(s.Action) === JSON.stringify(['bedrock:GetModelInvocationJob', 'bedrock:StopModelInvocationJob']))).toBeDefined();
    expect(statements.find((s) => s.Action === 'iam:PassRole')!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'bedrock.amazonaws.com' } });
  });

  it('runs the poller on the router\'s code, role and environment, on Bedrock\'s job events and a sweep, with alarms to the topic', () => {
    const { stack } = lane({ sweepInterval: Duration.minutes(10) });
    const t = Template.fromStack(stack);
    const fns = t.findResources('AWS::Lambda::Function');
    const router = Object.values(fns).find((f) => f.Properties.Handler === 'index.handler' && String(f.Properties.Description).includes('router'))!;
    const poller = Object.values(fns).find((f) => f.Properties.Handler === 'index.batchPoller')!;
    expect(poller.Properties.Code).toEqual(router.Properties.Code);
    expect(poller.Properties.Role).toEqual(router.Properties.Role);
    expect(poller.Properties.Environment).toEqual(router.Properties.Environment);
    expect(poller.Properties.Timeout).toBe(900);
    expect(poller.Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(Object.keys(router.Properties.Environment.Variables)).toEqual(expect.arrayContaining([
      'LLM_FINOPS_BATCH_BUCKET', 'LLM_FINOPS_BATCH_TABLE', 'LLM_FINOPS_BATCH_ROLE_ARN', 'LLM_FINOPS_BATCH_RETENTION_DAYS',
    ]));
    t.hasResourceProperties('AWS::Events::Rule', { EventPattern: { source: ['aws.bedrock'], 'detail-type': ['Batch Inference Job State Change'] } });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    t.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($._type = "llm_batch_job") && (($.state = "failed") || ($.state = "expired")) }',
      MetricTransformations: [Match.objectLike({ MetricName: 'BatchJobsFailed', MetricValue: '1' })],
    });
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(3);
    for (const a of alarms) expect(a.Properties.AlarmActions).toHaveLength(1);
  });

  it('adds the Files, Batch and Message Batches routes: Bearer on the OpenAI shapes, x-api-key on Anthropic\'s', () => {
    const t = Template.fromStack(lane().stack);
    const resources = t.findResources('AWS::ApiGateway::Resource');
    const parts = new Set(Object.values(resources).map((r) => r.Properties.PathPart));
    for (const p of ['files', '{file_id}', 'content', 'batches', '{batch_id}', 'cancel', '{message_batch_id}', 'results']) expect(parts).toContain(p);
    const methods = Object.values(t.findResources('AWS::ApiGateway::Method')).filter((m) => m.Properties.AuthorizationType === 'CUSTOM');
    const byAuthorizer = new Map<string, number>();
    for (const m of methods) byAuthorizer.set(JSON.stringify(m.Properties.AuthorizerId), (byAuthorizer.get(JSON.stringify(m.Properties.AuthorizerId)) ?? 0) + 1);
    // Before: 6 Bearer methods and 2 x-api-key (Messages); the lane adds 9 Bearer and 5 x-api-key.
    expect([...byAuthorizer.values()].sort((a, b) => a - b)).toEqual([7, 15]);
  });

  it('refuses a retention shorter than a day or in part days, and a sweep under a minute', () => {
    expect(() => lane({ retention: Duration.hours(12) })).toThrow(/retention: a whole number of days of at least 1/);
    expect(() => lane({ sweepInterval: Duration.seconds(30) })).toThrow(/sweepInterval: a whole number of minutes of at least 1/);
  });
});
