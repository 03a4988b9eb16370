import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AlertTopic, BudgetGuard, KillSwitchMode, TokenQuotaTable } from '../../../lib';

const stack = () => new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'eu-west-1' } });
const role = (s: Stack) => new iam.Role(s, 'RouterRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
const PREMIUM = 'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0';

const notification = (type: string, threshold: number) => ({
  Notification: { NotificationType: type, ComparisonOperator: 'GREATER_THAN', Threshold: threshold, ThresholdType: 'PERCENTAGE' },
  Subscribers: [{ SubscriptionType: 'SNS', Address: { Ref: Match.anyValue() } }],
});

describe('BudgetGuard', () => {
  it('makes the total, service and tenant-tag budgets with ACTUAL and FORECASTED notifications to the alert topic', () => {
    const s = stack();
    new BudgetGuard(s, 'Guard', {
      monthlyLimitUsd: 5000,
      bedrockMonthlyLimitUsd: 3000,
      sageMakerMonthlyLimitUsd: 1500,
      tenantBudgets: [{ tenant: 'acme', monthlyLimitUsd: 400 }],
      budgetNamePrefix: 'ai',
      anomalyDetection: false,
    });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::Budgets::Budget', 4);
    const all = [notification('ACTUAL', 50), notification('ACTUAL', 80), notification('ACTUAL', 100), notification('FORECASTED', 100)];
    t.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetName: 'ai-total', BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 5000, Unit: 'USD' }, CostFilters: Match.absent() },
      NotificationsWithSubscribers: all,
    });
    t.hasResourceProperties('AWS::Budgets::Budget', { Budget: { BudgetName: 'ai-bedrock', BudgetLimit: { Amount: 3000, Unit: 'USD' }, CostFilters: { Service: ['Amazon Bedrock'] } } });
    t.hasResourceProperties('AWS::Budgets::Budget', { Budget: { BudgetName: 'ai-sagemaker', CostFilters: { Service: ['Amazon SageMaker'] } } });
    t.hasResourceProperties('AWS::Budgets::Budget', { Budget: { BudgetName: 'ai-tenant-acme', BudgetLimit: { Amount: 400, Unit: 'USD' }, CostFilters: { TagKeyValue: ['user:llm-finops:tenant$acme'] } } });
    // Budgets checks its SNS subscriber when the budget is made: the topic policy comes first.
    const budget = Object.values(t.findResources('AWS::Budgets::Budget'))[0];
    expect(budget.DependsOn).toEqual([expect.stringMatching(/GuardAlertsPolicy/)]);
    t.resourceCountIs('AWS::CE::AnomalyMonitor', 0);
    t.resourceCountIs('AWS::Lambda::Function', 0);
  });

  it('restricts the total budget to listed services and uses custom thresholds', () => {
    const s = stack();
    new BudgetGuard(s, 'Guard', { monthlyLimitUsd: 100, totalServices: ['Amazon Bedrock', 'Amazon SageMaker'], actualThresholds: [90], forecastedThresholds: [], anomalyDetection: false });
    Template.fromStack(s).hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { CostFilters: { Service: ['Amazon Bedrock', 'Amazon SageMaker'] } },
      NotificationsWithSubscribers: [notification('ACTUAL', 90)],
    });
  });

  it('subscribes a Cost Anomaly Detection monitor IMMEDIATE to the topic, or reuses a given monitor', () => {
    const s = stack();
    new BudgetGuard(s, 'Guard', { monthlyLimitUsd: 100, anomalyImpactThresholdUsd: 25 });
    const t = Template.fromStack(s);
    // No monitor resource: linked-account (custom) monitors are management-account only, so the account's one
    // AWS-services monitor is reused or created at deploy by a custom resource, which may only list and create monitors.
    t.resourceCountIs('AWS::CE::AnomalyMonitor', 0);
    t.hasResourceProperties('Custom::LlmFinopsAnomalyMonitor', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('GuardAnomalyMonitorResolver'), 'Arn'] }, MonitorName: Match.stringLikeRegexp('-services$'),
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('GuardAnomalyMonitorResolverServiceRole') }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['ce:GetAnomalyMonitors', 'ce:CreateAnomalyMonitor'], Resource: '*' }] },
    });
    t.hasResourceProperties('AWS::CE::AnomalySubscription', {
      Frequency: 'IMMEDIATE',
      MonitorArnList: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('GuardAnomalyMonitor'), 'MonitorArn'] }],
      Subscribers: [{ Type: 'SNS', Address: { Ref: Match.stringLikeRegexp('GuardAlerts') } }],
      ThresholdExpression: JSON.stringify({ Dimensions: { Key: 'ANOMALY_TOTAL_IMPACT_ABSOLUTE', MatchOptions: ['GREATER_THAN_OR_EQUAL'], Values: ['25'] } }),
    });

    const s2 = stack();
    new BudgetGuard(s2, 'Guard', { monthlyLimitUsd: 100, anomalyMonitorArn: 'arn:aws:ce::111122223333:anomalymonitor/0123abcd-0000-0000-0000-000000000000' });
    const t2 = Template.fromStack(s2);
    t2.resourceCountIs('AWS::CE::AnomalyMonitor', 0);
    t2.hasResourceProperties('AWS::CE::AnomalySubscription', { MonitorArnList: ['arn:aws:ce::111122223333:anomalymonitor/0123abcd-0000-0000-0000-000000000000'] });

    const s3 = stack();
    new BudgetGuard(s3, 'Guard', { monthlyLimitUsd: 100, anomalyMonitorAwsServices: true });
    Template.fromStack(s3).hasResourceProperties('AWS::CE::AnomalyMonitor', { MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' });
    Annotations.fromStack(s3).hasWarning('*', Match.stringLikeRegexp('one AWS-services anomaly monitor'));
  });

  it('lets two platforms in one account deploy: neither makes a monitor resource, both subscribe to the account\'s', () => {
    const app = new App();
    const env = { account: '111122223333', region: 'us-east-1' };
    const stacks = ['Staging', 'Prod'].map((n) => {
      const s = new Stack(app, n, { env });
      new BudgetGuard(s, 'Guard', { monthlyLimitUsd: 100 });
      return s;
    });
    for (const s of stacks) {
      const t = Template.fromStack(s);
      t.resourceCountIs('AWS::CE::AnomalyMonitor', 0);
      t.resourceCountIs('Custom::LlmFinopsAnomalyMonitor', 1);
      t.resourceCountIs('AWS::CE::AnomalySubscription', 1);
    }
  });

  it('wires the kill switch: a machine topic gets the kill-threshold notification, the Lambda sets only k# items and tells the alert topic', () => {
    const s = stack();
    const quota = new TokenQuotaTable(s, 'Quota');
    const guard = new BudgetGuard(s, 'Guard', {
      monthlyLimitUsd: 1000,
      tenantBudgets: [{ tenant: 'acme', monthlyLimitUsd: 100 }],
      budgetNamePrefix: 'ai',
      anomalyDetection: false,
      killSwitch: { quotaTable: quota, mode: KillSwitchMode.BLOCK },
    });
    const t = Template.fromStack(s);
    const kill = { Notification: { NotificationType: 'ACTUAL', ComparisonOperator: 'GREATER_THAN', Threshold: 100, ThresholdType: 'PERCENTAGE' }, Subscribers: [{ SubscriptionType: 'SNS', Address: { Ref: Match.stringLikeRegexp('KillSwitchTopic') } }] };
    // 100% ACTUAL goes to the kill topic only (the Lambda's notice replaces the human alert at that percent).
    t.hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetName: 'ai-total' },
      NotificationsWithSubscribers: [notification('ACTUAL', 50), notification('ACTUAL', 80), notification('FORECASTED', 100), kill],
    });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: Match.stringLikeRegexp('KillSwitchTopic') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'AllowbudgetsPublish', Principal: { Service: 'budgets.amazonaws.com' } })]) },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: {
          LLM_FINOPS_QUOTA_TABLE: { Ref: Match.stringLikeRegexp('Quota') },
          LLM_FINOPS_ALERT_TOPIC_ARN: { Ref: Match.stringLikeRegexp('GuardAlerts') },
          LLM_FINOPS_KILL_SWITCH_RULES: JSON.stringify([{ budgetName: 'ai-total', mode: 'block' }, { budgetName: 'ai-tenant-acme', tenant: 'acme', mode: 'block' }]),
        },
      },
    });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', TopicArn: { Ref: Match.stringLikeRegexp('KillSwitchTopic') } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('Quota'), 'Arn'] },
            Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['k#*'] } },
          },
          Match.objectLike({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: Match.stringLikeRegexp('GuardAlerts') } }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('GuardKillSwitchServiceRole') }],
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('GuardAlerts') }],
    });
    expect(guard.budgetNames).toEqual({ total: 'ai-total', 'tenant-acme': 'ai-tenant-acme' });
  });

  it('encrypts the kill topic with the alert topic key', () => {
    const s = stack();
    const alerts = new AlertTopic(s, 'Alerts', { encryptionKey: new kms.Key(s, 'MyKey') });
    new BudgetGuard(s, 'Guard', { monthlyLimitUsd: 10, alertTopic: alerts.topic, anomalyDetection: false, killSwitch: { quotaTable: new TokenQuotaTable(s, 'Q') } });
    Template.fromStack(s).resourcePropertiesCountIs('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('MyKey'), 'Arn'] } }, 2);
  });

  it('adds the APPLY_IAM_POLICY budget action: deny premium models on the router role, run by a role that can only attach that policy', () => {
    const s = stack();
    new BudgetGuard(s, 'Guard', {
      monthlyLimitUsd: 1000,
      budgetNamePrefix: 'ai',
      anomalyDetection: false,
      premiumDeny: { role: role(s), resources: [PREMIUM, 'arn:aws:sagemaker:eu-west-1:111122223333:endpoint/big-llm'], thresholdPercent: 110 },
    });
    const t = Template.fromStack(s);
    t.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          { Sid: 'DenyPremiumBedrock', Effect: 'Deny', Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], Resource: PREMIUM },
          { Sid: 'DenyPremiumSageMaker', Effect: 'Deny', Action: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], Resource: 'arn:aws:sagemaker:eu-west-1:111122223333:endpoint/big-llm' },
        ],
      },
    });
    // Not attached to anything at deploy time: AWS Budgets attaches it.
    const managed = Object.values(t.findResources('AWS::IAM::ManagedPolicy'))[0];
    expect(managed.Properties.Roles).toBeUndefined();
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'budgets.amazonaws.com' },
          Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' }, ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':budgets::111122223333:budget/ai-total*']] } } },
        }],
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{
          Effect: 'Allow', Action: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('RouterRole'), 'Arn'] },
          Condition: { ArnEquals: { 'iam:PolicyARN': { Ref: Match.stringLikeRegexp('PremiumDenyPolicy') } } },
        }],
      },
    });
    t.hasResourceProperties('AWS::Budgets::BudgetsAction', {
      BudgetName: { Ref: Match.stringLikeRegexp('Budgettotal') },
      NotificationType: 'ACTUAL',
      ActionType: 'APPLY_IAM_POLICY',
      ActionThreshold: { Type: 'PERCENTAGE', Value: 110 },
      ApprovalModel: 'AUTOMATIC',
      ExecutionRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('BudgetActionRole'), 'Arn'] },
      Definition: { IamActionDefinition: { PolicyArn: { Ref: Match.stringLikeRegexp('PremiumDenyPolicy') }, Roles: [{ Ref: Match.stringLikeRegexp('RouterRole') }] } },
      Subscribers: [{ Type: 'SNS', Address: { Ref: Match.stringLikeRegexp('GuardAlerts') } }],
    });
    expect(Annotations.fromStack(s).findInfo('*', Match.stringLikeRegexp('premiumDeny without killSwitch'))).toHaveLength(1);
  });

  it('refuses bad props, naming each', () => {
    const s = stack();
    expect(() => new BudgetGuard(s, 'A', {
      monthlyLimitUsd: 0,
      bedrockMonthlyLimitUsd: -1,
      actualThresholds: [50, 50],
      forecastedThresholds: [2000],
      tenantBudgets: [{ tenant: 'a b', monthlyLimitUsd: 1 }, { tenant: 'x', monthlyLimitUsd: 1 }, { tenant: 'x', monthlyLimitUsd: 1 }],
      tenantTagKey: 'aws:tenant',
      premiumDeny: { role: role(s), resources: [] },
    })).toThrow(new RegExp([
      'monthlyLimitUsd: expected a positive number of USD, got 0',
      'bedrockMonthlyLimitUsd: expected a positive number of USD, got -1',
      'actualThresholds: duplicate thresholds 50, 50',
      'forecastedThresholds: expected percents in \\(0, 1000\\], got 2000',
      "tenantTagKey: not a valid user tag key: 'aws:tenant'",
      "tenantBudgets\\[0\\].tenant: expected a tenant id",
      "tenantBudgets\\[2\\].tenant: 'x' has two budgets",
      'premiumDeny.resources: no premium model resources',
    ].join('[\\s\\S]*')));
    expect(() => new BudgetGuard(stack(), 'B', { monthlyLimitUsd: 1, actualThresholds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], anomalyDetection: false }))
      .toThrow('thresholds: 11 notifications per budget, AWS Budgets allows 10');
  });
});
