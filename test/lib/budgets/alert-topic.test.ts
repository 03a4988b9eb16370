import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AlertTopic, BudgetGuard } from '../../../lib';

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

  describe('fromAlertTopicAttributes', () => {
    const arn = 'arn:aws:sns:eu-west-1:111122223333:llm-cost-alerts';

    it('imports a topic another stack made: publish grant with its key, metrics, and a BudgetGuard without the imported-policy warning', () => {
      const s = stack();
      const key = kms.Key.fromKeyArn(s, 'Key', 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-1111-2222-333344445555');
      const alerts = AlertTopic.fromAlertTopicAttributes(s, 'Alerts', { topicArn: arn, encryptionKey: key });
      expect(alerts.topicArn).toBe(arn);
      expect(alerts.encryptionKey).toBe(key);
      const role = new iam.Role(s, 'Publisher', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      alerts.grantPublish(role);
      new BudgetGuard(s, 'Budgets', { monthlyLimitUsd: 100, alertTopic: alerts.topic, killSwitch: undefined });
      const t = Template.fromStack(s);
      t.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'sns:Publish', Resource: arn })]) } });
      t.resourceCountIs('AWS::SNS::Topic', 0);
      t.hasResourceProperties('AWS::Budgets::Budget', { NotificationsWithSubscribers: Match.arrayWith([Match.objectLike({ Subscribers: [{ SubscriptionType: 'SNS', Address: arn }] })]) });
      expect(s.resolve(alerts.metricNumberOfNotificationsFailed().dimensions)).toEqual({ TopicName: 'llm-cost-alerts' });
      expect(alerts.metricNumberOfMessagesPublished().metricName).toBe('NumberOfMessagesPublished');
      const warnings = Annotations.fromStack(s).findWarning('*', Match.anyValue()).map((w) => String(w.entry.data));
      expect(warnings.join('\n')).not.toMatch(/This topic was imported/);
    });

    it('refuses what is not an SNS topic ARN', () => {
      expect(() => AlertTopic.fromAlertTopicAttributes(stack(), 'Alerts', { topicArn: 'arn:aws:sqs:eu-west-1:111122223333:q' }))
        .toThrow("AlertTopic.fromAlertTopicAttributes:\n  - topicArn: expected an SNS topic ARN, got 'arn:aws:sqs:eu-west-1:111122223333:q'");
    });

    it('an AlertTopic made here has the same surface', () => {
      const s = stack();
      const alerts = new AlertTopic(s, 'Alerts');
      expect(s.resolve(alerts.topicArn)).toEqual({ Ref: s.getLogicalId(alerts.topic.node.defaultChild as sns.CfnTopic) });
      expect(alerts.metricNumberOfNotificationsFailed().namespace).toBe('AWS/SNS');
    });
  });
});
