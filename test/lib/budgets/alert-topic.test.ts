import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AlertTopic } from '../../../lib';

const stack = () => new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });

describe('AlertTopic', () => {
  it('admits AWS Budgets and Cost Anomaly Detection of this account only, over TLS only', () => {
    const s = stack();
    new AlertTopic(s, 'Alerts');
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'AllowbudgetsPublish', Effect: 'Allow', Principal: { Service: 'budgets.amazonaws.com' }, Action: 'SNS:Publish', Resource: { Ref: Match.anyValue() },
            Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' }, ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':budgets::111122223333:*']] } } },
          },
          {
            Sid: 'AllowcostalertsPublish', Effect: 'Allow', Principal: { Service: 'costalerts.amazonaws.com' }, Action: 'SNS:Publish', Resource: { Ref: Match.anyValue() },
            Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' }, ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ce::111122223333:anomalysubscription/*']] } } },
          },
        ]),
      },
    });
    t.resourceCountIs('AWS::KMS::Key', 0);
    t.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('encrypts with a rotating customer-managed key whose policy admits Budgets, anomaly alerts and CloudWatch alarms', () => {
    const s = stack();
    new AlertTopic(s, 'Alerts', { encryption: true });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, PendingWindowInDays: 7 });
    // Scheduled for deletion with the stack, not retained (and billed) for ever.
    expect(Object.values(t.findResources('AWS::KMS::Key'))[0].DeletionPolicy).toBe('Delete');
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('AlertsKey'), 'Arn'] } });
    const statement = (service: string, sourceArn: string) => ({
      Sid: `Allow${service}Publish`,
      Effect: 'Allow',
      Principal: { Service: `${service}.amazonaws.com` },
      Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' }, ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, sourceArn]] } } },
    });
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          statement('budgets', ':budgets::111122223333:*'),
          statement('costalerts', ':ce::111122223333:anomalysubscription/*'),
          statement('cloudwatch', ':cloudwatch:eu-west-1:111122223333:alarm:*'),
        ]),
      },
    });
  });

  it('subscribes email, PagerDuty over HTTPS and a Slack channel through AWS Chatbot with a deny-all guardrail', () => {
    const s = stack();
    new AlertTopic(s, 'Alerts', {
      emails: ['finops@example.com'],
      pagerDutyEventsUrl: 'https://events.pagerduty.com/integration/0123456789abcdef/enqueue',
      slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCDE' },
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'finops@example.com' });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://events.pagerduty.com/integration/0123456789abcdef/enqueue' });
    t.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0123ABCDE',
      SnsTopicArns: [{ Ref: Match.anyValue() }],
      LoggingLevel: 'ERROR',
      GuardrailPolicies: [{ Ref: Match.stringLikeRegexp('SlackGuardrail') }],
    });
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', { PolicyDocument: { Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] } });
  });

  it('refuses bad targets, naming each', () => {
    expect(() => new AlertTopic(stack(), 'A', {
      emails: ['not-an-address'],
      pagerDutyEventsUrl: 'http://events.pagerduty.com/x',
      slack: { workspaceId: 'my-team', channelId: '#alerts' },
    })).toThrow(/emails: 'not-an-address'.*\n.*pagerDutyEventsUrl: must be https.*\n.*slack.workspaceId.*\n.*slack.channelId/);
    expect(() => new AlertTopic(stack(), 'A', { pagerDutyEventsUrl: 'nope' })).toThrow('pagerDutyEventsUrl: not a URL');
  });

  it('warns when the HTTPS endpoint is not PagerDuty, and when an imported topic cannot take the billing statements', () => {
    const s = stack();
    new AlertTopic(s, 'A', { pagerDutyEventsUrl: 'https://hooks.example.com/x' });
    AlertTopic.admitBillingPublishers(sns.Topic.fromTopicArn(s, 'Imported', 'arn:aws:sns:eu-west-1:111122223333:theirs'));
    const warnings = Annotations.fromStack(s).findWarning('*', Match.anyValue()).map((w) => String(w.entry.data));
    expect(warnings.join('\n')).toMatch(/hooks.example.com is not pagerduty.com/);
    expect(warnings.join('\n')).toMatch(/This topic was imported: allow budgets.amazonaws.com/);
  });
});
