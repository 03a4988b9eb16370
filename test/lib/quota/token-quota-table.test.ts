import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { GatewayConfig, LlmGateway, TokenQuotaTable } from '../../../lib';
import { BEDROCK_CONSTRUCT_CONFIG } from '../../support/config';

const stack = () => new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });

describe('TokenQuotaTable', () => {
  it('creates an on-demand table with the quota store schema, TTL, PITR and the expiry index', () => {
    const s = stack();
    new TokenQuotaTable(s, 'Quota');
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: [{
        IndexName: 'reservations-by-expiry',
        KeySchema: [{ AttributeName: 'gsi1pk', KeyType: 'HASH' }, { AttributeName: 'gsi1sk', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      }],
    });
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('uses a customer-managed key, a given topic and removal policy when asked', () => {
    const s = stack();
    const key = new kms.Key(s, 'Key');
    const topic = new sns.Topic(s, 'Shared');
    new TokenQuotaTable(s, 'Quota', { encryptionKey: key, alertTopic: topic, pointInTimeRecovery: false, removalPolicy: RemovalPolicy.DESTROY });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
    t.resourceCountIs('AWS::SNS::Topic', 1);
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  describe('grants', () => {
    it('gives a bound router the quota item operations on the table and index, publish on the topic, and its environment', () => {
      const s = stack();
      const quota = new TokenQuotaTable(s, 'Quota');
      const fn = new lambda.Function(s, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>{}') });
      quota.bindRouter(fn);
      const t = Template.fromStack(s);
      const tableLogical = Object.keys(t.findResources('AWS::DynamoDB::Table'))[0];
      const topicLogical = Object.keys(t.findResources('AWS::SNS::Topic'))[0];
      t.hasResourceProperties('AWS::Lambda::Function', {
        Environment: { Variables: { LLM_FINOPS_QUOTA_TABLE: { Ref: tableLogical }, LLM_FINOPS_ALERT_TOPIC_ARN: { Ref: topicLogical } } },
      });
      t.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:DescribeTable'],
              Resource: [{ 'Fn::GetAtt': [tableLogical, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableLogical, 'Arn'] }, '/index/reservations-by-expiry']] }],
            }),
            Match.objectLike({ Action: 'sns:Publish', Resource: { Ref: topicLogical } }),
          ]),
        },
      });
    });

    it('adds key permissions when the table uses a customer-managed key', () => {
      const s = stack();
      const key = new kms.Key(s, 'Key');
      const quota = new TokenQuotaTable(s, 'Quota', { encryptionKey: key });
      const role = new iam.Role(s, 'R', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      quota.grantQuotaAccess(role);
      Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt', 'kms:Encrypt']) })]) },
      });
    });
  });
});

describe('TokenQuotaTable.fromTokenQuotaTableAttributes', () => {
  const config = GatewayConfig.fromObject(BEDROCK_CONSTRUCT_CONFIG);

  it('lets a second stack\'s gateway share the quotas of a table another stack (or Terraform) deployed', () => {
    const app = new App();
    const env = { account: '111122223333', region: 'us-east-1' };
    const first = new Stack(app, 'Shared', { env });
    const owned = new TokenQuotaTable(first, 'Quota');
    const second = new Stack(app, 'Team', { env });
    const quota = TokenQuotaTable.fromTokenQuotaTableAttributes(second, 'Quota', { tableArn: owned.tableArn, alertTopicArn: owned.alertTopic.topicArn });
    new LlmGateway(second, 'Gateway', { config, quotaTable: quota });
    const t = Template.fromStack(second);
    // No table of its own: the router and the authorizer point at the first stack's, through its exports.
    t.resourceCountIs('AWS::DynamoDB::Table', 0);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_QUOTA_TABLE: Match.objectLike({ 'Fn::Select': Match.anyValue() }), LLM_FINOPS_ALERT_TOPIC_ARN: { 'Fn::ImportValue': Match.anyValue() } }) },
    });
    const statements = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    for (const action of ['dynamodb:UpdateItem', 'dynamodb:Query', 'sns:Publish']) expect(statements).toContain(action);
    expect(statements).toContain('/index/reservations-by-expiry');
  });

  it('takes literal ARNs, and refuses what is not one', () => {
    const s = stack();
    const quota = TokenQuotaTable.fromTokenQuotaTableAttributes(s, 'Quota', {
      tableArn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/llm-quota', alertTopicArn: 'arn:aws:sns:eu-west-1:111122223333:llm-alerts',
    });
    expect(quota.tableName).toBe('llm-quota');
    const fn = new lambda.Function(s, 'Fn', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
    quota.bindRouter(fn);
    quota.grantKillSwitch(new iam.Role(s, 'Switch', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { LLM_FINOPS_QUOTA_TABLE: 'llm-quota', LLM_FINOPS_ALERT_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:llm-alerts' } } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], Resource: 'arn:aws:dynamodb:eu-west-1:111122223333:table/llm-quota', Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['k#*'] } } })]) },
    });
    expect(() => TokenQuotaTable.fromTokenQuotaTableAttributes(s, 'Bad', { tableArn: 'llm-quota', alertTopicArn: 'arn:aws:sns:eu-west-1:111122223333:x' })).toThrow("tableArn: expected arn:aws:dynamodb:<region>:<account>:table/<name>, got 'llm-quota'");
    expect(() => TokenQuotaTable.fromTokenQuotaTableAttributes(s, 'Bad2', { tableArn: 'arn:aws:dynamodb:eu-west-1:111122223333:table/quota', alertTopicArn: 'topic' }).tableArn).toThrow("alertTopicArn: expected arn:aws:sns");
  });
});
