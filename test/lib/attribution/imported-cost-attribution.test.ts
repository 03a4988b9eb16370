import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CostAttribution, type CostAttributionAttributes } from '../../../lib';

const env = { account: '111122223333', region: 'eu-west-1' };
const code = lambda.Code.fromInline('exports.handler = async () => {}');
const streamArn = 'arn:aws:firehose:eu-west-1:111122223333:deliverystream/llm-usage';

describe('CostAttribution.fromCostAttributionAttributes', () => {
  it('a router in a second stack delivers to the first stack\'s stream; the owner is not made to depend on it', () => {
    const app = new App();
    const owner = new Stack(app, 'Owner', { env });
    const attribution = new CostAttribution(owner, 'Attribution');
    const other = new Stack(app, 'Consumer', { env });
    const fn = new lambda.Function(other, 'Router', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code });
    const imported = CostAttribution.fromCostAttributionAttributes(other, 'Attribution', {
      deliveryStreamArn: attribution.deliveryStreamArn, databaseName: attribution.databaseName, workGroupName: attribution.workGroupName,
      usageBucket: attribution.usageBucket, resultsBucket: attribution.resultsBucket,
    });
    imported.bindRouter(fn);
    const t = Template.fromStack(other);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { LLM_FINOPS_USAGE_STREAM: Match.anyValue() } } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [Match.objectLike({ Action: ['firehose:PutRecordBatch', 'firehose:PutRecord'], Resource: { 'Fn::ImportValue': Match.stringLikeRegexp('^Owner:ExportsOutputFnGetAttAttributionDelivery') } })] },
    });
    const assembly = app.synth();
    expect(assembly.getStackByName('Owner').dependencies.map((d) => d.id)).not.toContain('Consumer');
  });

  it('names the stream from its ARN, and grants the same queries as the attribution made here', () => {
    const stack = new Stack(new App(), 'Consumer', { env });
    const attrs: CostAttributionAttributes = {
      deliveryStreamArn: streamArn, databaseName: 'llm_attribution', workGroupName: 'llm-attribution',
      usageBucket: s3.Bucket.fromBucketName(stack, 'Usage', 'llm-usage-bucket'), resultsBucket: s3.Bucket.fromBucketName(stack, 'Results', 'llm-results-bucket'),
    };
    const imported = CostAttribution.fromCostAttributionAttributes(stack, 'Attribution', attrs);
    const fn = new lambda.Function(stack, 'Router', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code });
    imported.bindRouter(fn);
    const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    imported.grantQuery(analyst);
    expect(imported.deliveryStreamName).toBe('llm-usage');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { LLM_FINOPS_USAGE_STREAM: 'llm-usage' } } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Analyst') }],
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: Match.arrayWith(['athena:StartQueryExecution']), Resource: { 'Fn::Join': ['', Match.arrayWith([':athena:eu-west-1:111122223333:workgroup/llm-attribution'])] } }),
        Match.objectLike({ Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'] }),
      ]) },
    });
  });

  it.each<[string, Partial<CostAttributionAttributes>, string]>([
    ['a Kinesis stream ARN', { deliveryStreamArn: 'arn:aws:kinesis:eu-west-1:111122223333:stream/x' }, 'deliveryStreamArn: expected a Firehose delivery stream ARN'],
    ['an upper-case database', { databaseName: 'Usage' }, "databaseName: expected a Glue database name (lower-case letters, digits, _), got 'Usage'"],
    ['a workgroup with spaces', { workGroupName: 'my group' }, "workGroupName: expected an Athena workgroup name, got 'my group'"],
    ['no results bucket', { resultsBucket: undefined }, 'resultsBucket: required'],
  ])('refuses %s', (_name, override, message) => {
    const stack = new Stack(new App(), 'Consumer', { env });
    const attrs = {
      deliveryStreamArn: streamArn, databaseName: 'llm_attribution', workGroupName: 'llm-attribution',
      usageBucket: s3.Bucket.fromBucketName(stack, 'Usage', 'llm-usage'), resultsBucket: s3.Bucket.fromBucketName(stack, 'Results', 'llm-results'), ...override,
    } as CostAttributionAttributes;
    expect(() => CostAttribution.fromCostAttributionAttributes(stack, 'Attribution', attrs)).toThrow(message);
  });
});
