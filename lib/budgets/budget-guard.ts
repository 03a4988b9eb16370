import { Annotations, CustomResource, Duration, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as ce from 'aws-cdk-lib/aws-ce';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { BUNDLES, ENV_ALERT_TOPIC_ARN, ENV_KILL_SWITCH_RULES, ENV_QUOTA_TABLE } from '../../lambda/contract';
import { bundleCode } from '../bundle-code';
import { acknowledgeBasicExecutionRole, acknowledgeTopicKeyGrant } from '../nag';
import type { ITokenQuotaTable } from '../quota/token-quota-table';
import { AlertTopic, type AlertTopicProps } from './alert-topic';

/** What the kill switch does to premium tiers (quota.premiumTiers in the gateway config). */
export enum KillSwitchMode {
  /** Premium requests answer 429 `budget_kill_switch`. */
  BLOCK = 'block',
  /** Premium requests go to the best non-premium tier. */
  DOWNGRADE = 'downgrade',
}

/** A monthly budget on one tenant's tagged AWS spend. */
export interface TenantBudget {
  /** The tenant id, as in the gateway config (and the value of the tenant cost allocation tag). */
  readonly tenant: string;
  /** Monthly limit in USD. */
  readonly monthlyLimitUsd: number;
}

export interface KillSwitchOptions {
  /** The quota table whose kill-switch flags the router reads. */
  readonly quotaTable: ITokenQuotaTable;

  /**
   * What the switch does to premium tiers.
   * @default KillSwitchMode.DOWNGRADE
   */
  readonly mode?: KillSwitchMode;

  /**
   * Percent of a budget's limit (ACTUAL spend) that sets the switch: the gateway's switch for the total and service
   * budgets, the tenant's own for a tenant budget.
   * @default 100
   */
  readonly thresholdPercent?: number;
}

export interface PremiumDenyOptions {
  /** The role to attach the deny policy to: the router function's role. */
  readonly role: iam.IRole;

  /**
   * The premium model resources to deny invoking: Bedrock foundation-model / inference-profile ARNs and SageMaker
   * endpoint ARNs. `RouterFunction.premiumModelResources()` lists them from the gateway config.
   */
  readonly resources: string[];

  /**
   * Percent of the total budget (ACTUAL) at which AWS Budgets attaches the policy.
   * @default 100
   */
  readonly thresholdPercent?: number;
}

/** The budgets and alert thresholds, shared by BudgetGuard and the platform's `budgets` option. */
export interface BudgetLimits {
  /** Monthly limit of the total budget in USD. */
  readonly monthlyLimitUsd: number;

  /**
   * Services the total budget counts (Cost Explorer service names, e.g. "Amazon Bedrock").
   * @default - every service in the account: deploy the platform in its own account, or list its services here
   */
  readonly totalServices?: string[];

  /**
   * Monthly limit of a budget on the service "Amazon Bedrock". Third-party models billed through AWS Marketplace
   * appear under their own service names and are not counted here (the total budget counts them).
   * @default - no Bedrock budget
   */
  readonly bedrockMonthlyLimitUsd?: number;

  /**
   * Monthly limit of a budget on the service "Amazon SageMaker" (inference endpoints).
   * @default - no SageMaker budget
   */
  readonly sageMakerMonthlyLimitUsd?: number;

  /**
   * Budgets per tenant on the tenant cost allocation tag (`tenantTagKey`). They count only AWS spend that carries
   * the tag: Bedrock application inference profiles and endpoints tagged per tenant. The tag key must be activated
   * as a cost allocation tag; activation is not retroactive.
   * @default - none
   */
  readonly tenantBudgets?: TenantBudget[];

  /**
   * The cost allocation tag key that names the tenant.
   * @default 'llm-finops:tenant'
   */
  readonly tenantTagKey?: string;

  /**
   * ACTUAL-spend thresholds, in percent of each budget, that notify the alert topic.
   * @default [50, 80, 100]
   */
  readonly actualThresholds?: number[];

  /**
   * FORECASTED-spend thresholds, in percent of each budget, that notify the alert topic.
   * @default [100]
   */
  readonly forecastedThresholds?: number[];

  /**
   * A Cost Anomaly Detection monitor with an IMMEDIATE subscription to the alert topic.
   * @default true
   */
  readonly anomalyDetection?: boolean;

  /**
   * Make the account's AWS-services monitor (DIMENSIONAL / SERVICE) as a plain stack resource, deleted with the stack,
   * instead of the default's reuse-or-create at deploy. An account may have only one AWS-services monitor
   * (https://docs.aws.amazon.com/cost-management/latest/userguide/management-limits.html): the deploy fails where one
   * exists.
   * @default false
   */
  readonly anomalyMonitorAwsServices?: boolean;

  /**
   * Total impact in USD from which an anomaly is sent.
   * @default 100
   */
  readonly anomalyImpactThresholdUsd?: number;
}

export interface BudgetGuardProps extends BudgetLimits {
  /**
   * The topic alerts go to. Pass the topic of an AlertTopic (or any topic made in this app; an imported topic needs
   * the Budgets and Cost Anomaly Detection statements in its policy).
   * @default - a new AlertTopic with `notifications`
   */
  readonly alertTopic?: sns.ITopic;

  /**
   * Subscribers and encryption of the alert topic made here (ignored when `alertTopic` is given).
   * @default - a TLS-only topic without subscribers
   */
  readonly notifications?: AlertTopicProps;

  /**
   * An existing anomaly monitor to subscribe to instead of making one (`aws ce get-anomaly-monitors` lists yours).
   * @default - the account's AWS-services monitor, reused when it exists and created otherwise, at deploy (a custom
   * resource): the one monitor type a member or standalone account may create (linked-account, tag and cost-category
   * monitors are management-account only), and one per account, so every platform in the account shares it. It is
   * kept when the stack is deleted (monitors are free).
   */
  readonly anomalyMonitorArn?: string;

  /**
   * The gateway kill switch: a Lambda that sets the quota table's flag when a budget passes its kill threshold.
   * @default - no kill switch
   */
  readonly killSwitch?: KillSwitchOptions;

  /**
   * A Budget Action (APPLY_IAM_POLICY) on the total budget that attaches a deny-premium-models policy to the router
   * role: the hard stop behind the kill switch, enforced by IAM even if the flag is cleared by mistake.
   * @default - no budget action
   */
  readonly premiumDeny?: PremiumDenyOptions;

  /**
   * Prefix of the budget names (unique per account).
   * @default - derived from the construct path
   */
  readonly budgetNamePrefix?: string;
}

const MAX_NOTIFICATIONS = 10;

/**
 * Spend guard rails outside the request path: AWS Budgets (total, per service, per tenant tag) with ACTUAL and
 * FORECASTED notifications, Cost Anomaly Detection, the kill switch and an IAM budget action, all reporting to one
 * alert topic. AWS Budgets evaluates billing data a few times a day, so these complement the gateway's own
 * per-request quotas (which stop a burst within a request) rather than replace them.
 */
export class BudgetGuard extends Construct {
  /** The topic every alert goes to. */
  readonly alertTopic: sns.ITopic;
  /** The AlertTopic made here (when `alertTopic` was not given). */
  readonly alerts?: AlertTopic;
  /** Budget names by role: total, bedrock, sagemaker, tenant-<id>. */
  readonly budgetNames: Record<string, string> = {};
  readonly budgets: budgets.CfnBudget[] = [];
  /** The kill-switch Lambda, when `killSwitch` is set. */
  readonly killSwitchFunction?: lambda.Function;
  /** The topic only kill-threshold notifications go to (the Lambda's trigger). */
  readonly killSwitchTopic?: sns.Topic;
  /** The policy the budget action attaches to the router role. */
  readonly premiumDenyPolicy?: iam.ManagedPolicy;
  readonly budgetAction?: budgets.CfnBudgetsAction;
  readonly anomalyMonitorArn?: string;

  constructor(scope: Construct, id: string, props: BudgetGuardProps) {
    super(scope, id);
    const d = derive(props, Names.uniqueResourceName(this, { maxLength: 60, separator: '-' }).toLowerCase());
    this.validate(props, d);
    const topics = this.buildTopics(props);
    this.alertTopic = topics.alertTopic;
    this.alerts = topics.alerts;
    this.killSwitchTopic = topics.killSwitchTopic;
    const { total, rules } = this.addBudgets(props, d);
    if (props.anomalyDetection ?? true) this.anomalyMonitorArn = this.addAnomalyDetection(props, d.prefix);
    if (props.killSwitch && this.killSwitchTopic) this.killSwitchFunction = this.addKillSwitch(props.killSwitch, this.killSwitchTopic, rules);
    if (props.premiumDeny) {
      const { policy, action } = this.addPremiumDeny(props, props.premiumDeny, total, d.denyAt);
      this.premiumDenyPolicy = policy;
      this.budgetAction = action;
    }
  }

  /** Every rule, each problem named. */
  private validate(props: BudgetGuardProps, d: Derived): void {
    const problems: string[] = [];
    const amount = (field: string, v: number | undefined): void => {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) problems.push(`${field}: expected a positive number of USD, got ${v}`);
    };
    amount('monthlyLimitUsd', props.monthlyLimitUsd);
    amount('bedrockMonthlyLimitUsd', props.bedrockMonthlyLimitUsd);
    amount('sageMakerMonthlyLimitUsd', props.sageMakerMonthlyLimitUsd);
    amount('anomalyImpactThresholdUsd', props.anomalyImpactThresholdUsd);
    const percents = (field: string, list: number[]): void => {
      for (const p of list) if (!(Number.isFinite(p) && p > 0 && p <= 1000)) problems.push(`${field}: expected percents in (0, 1000], got ${p}`);
      if (new Set(list).size !== list.length) problems.push(`${field}: duplicate thresholds ${list.join(', ')}`);
    };
    percents('actualThresholds', d.actual);
    percents('forecastedThresholds', d.forecasted);
    percents('killSwitch.thresholdPercent', [d.killAt]);
    percents('premiumDeny.thresholdPercent', [d.denyAt]);
    if (!/^[A-Za-z0-9_.-]{1,60}$/.test(d.prefix)) problems.push(`budgetNamePrefix: letters, digits, '_', '.', '-' only, at most 60, got '${d.prefix}'`);
    if (!/^[A-Za-z0-9_.:/=+@-]{1,128}$/.test(d.tagKey) || d.tagKey.startsWith('aws:')) problems.push(`tenantTagKey: not a valid user tag key: '${d.tagKey}'`);
    const seen = new Set<string>();
    for (const [i, t] of (props.tenantBudgets ?? []).entries()) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(t.tenant ?? '')) problems.push(`tenantBudgets[${i}].tenant: expected a tenant id (letters, digits, '_', '.', '-'), got '${t.tenant}'`);
      if (seen.has(t.tenant)) problems.push(`tenantBudgets[${i}].tenant: '${t.tenant}' has two budgets`);
      seen.add(t.tenant);
      amount(`tenantBudgets[${i}].monthlyLimitUsd`, t.monthlyLimitUsd);
    }
    if (props.premiumDeny && !props.premiumDeny.resources.length) problems.push('premiumDeny.resources: no premium model resources to deny (does the config name quota.premiumTiers with Bedrock or SageMaker models?)');
    const perBudget = d.humanActual.length + d.forecasted.length + (props.killSwitch ? 1 : 0);
    if (perBudget > MAX_NOTIFICATIONS) problems.push(`thresholds: ${perBudget} notifications per budget, AWS Budgets allows ${MAX_NOTIFICATIONS}`);
    if (problems.length) throw new Error(`Invalid BudgetGuard props:\n  - ${problems.join('\n  - ')}`);
  }

  /** The alert topic (given, or an AlertTopic made here) and the kill switch's machine topic. */
  private buildTopics(props: BudgetGuardProps): { alertTopic: sns.ITopic; alerts?: AlertTopic; killSwitchTopic?: sns.Topic } {
    let alertTopic: sns.ITopic;
    let alerts: AlertTopic | undefined;
    if (props.alertTopic) {
      alertTopic = props.alertTopic;
      AlertTopic.admitBillingPublishers(props.alertTopic);
    } else {
      alerts = new AlertTopic(this, 'Alerts', props.notifications);
      alertTopic = alerts.topic;
    }
    if (!props.killSwitch) return { alertTopic, alerts };
    const killSwitchTopic = new sns.Topic(this, 'KillSwitchTopic', { displayName: 'LLM budget kill switch (machine use)', enforceSSL: true, masterKey: alertTopic.masterKey });
    AlertTopic.admitBillingPublishers(killSwitchTopic);
    return { alertTopic, alerts, killSwitchTopic };
  }

  /** The budgets (total, Bedrock, SageMaker, per tenant), each notifying the alert topic and the kill switch's. */
  private addBudgets(props: BudgetGuardProps, d: Derived): { total: budgets.CfnBudget; rules: { budgetName: string; tenant?: string; mode: string }[] } {
    const rules: { budgetName: string; tenant?: string; mode: string }[] = [];
    const mode = props.killSwitch?.mode ?? KillSwitchMode.DOWNGRADE;
    const { humanActual, forecasted, killAt, prefix, tagKey } = d;
    const add = (key: string, limit: number, costFilters: Record<string, string[]> | undefined, tenant?: string): budgets.CfnBudget => {
      const budgetName = `${prefix}-${key}`.slice(0, 100);
      const notify = (type: 'ACTUAL' | 'FORECASTED', threshold: number, topicArn: string): budgets.CfnBudget.NotificationWithSubscribersProperty => ({
        notification: { notificationType: type, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
        subscribers: [{ subscriptionType: 'SNS', address: topicArn }],
      });
      const notifications = [
        ...humanActual.map((p) => notify('ACTUAL', p, this.alertTopic.topicArn)),
        ...forecasted.map((p) => notify('FORECASTED', p, this.alertTopic.topicArn)),
        ...(this.killSwitchTopic ? [notify('ACTUAL', killAt, this.killSwitchTopic.topicArn)] : []),
      ];
      const budget = new budgets.CfnBudget(this, `Budget-${key}`, {
        budget: {
          budgetName,
          budgetType: 'COST',
          timeUnit: 'MONTHLY',
          budgetLimit: { amount: limit, unit: 'USD' },
          ...(costFilters ? { costFilters } : {}),
        },
        notificationsWithSubscribers: notifications,
      });
      // Budgets validates its SNS subscribers when the budget is created: the topic policy must exist first.
      for (const t of [this.alertTopic, this.killSwitchTopic]) {
        const policy = t?.node.tryFindChild('Policy');
        if (policy) budget.node.addDependency(policy);
      }
      this.budgetNames[key] = budgetName;
      this.budgets.push(budget);
      if (this.killSwitchTopic) rules.push({ budgetName, ...(tenant ? { tenant } : {}), mode });
      return budget;
    };
    const total = add('total', props.monthlyLimitUsd, props.totalServices?.length ? { Service: props.totalServices } : undefined);
    if (props.bedrockMonthlyLimitUsd !== undefined) add('bedrock', props.bedrockMonthlyLimitUsd, { Service: ['Amazon Bedrock'] });
    if (props.sageMakerMonthlyLimitUsd !== undefined) add('sagemaker', props.sageMakerMonthlyLimitUsd, { Service: ['Amazon SageMaker'] });
    for (const t of props.tenantBudgets ?? []) add(`tenant-${t.tenant}`, t.monthlyLimitUsd, { TagKeyValue: [`user:${tagKey}$${t.tenant}`] }, t.tenant);

    return { total, rules };
  }

  /** Cost Anomaly Detection: the account's AWS-services monitor (found, or made) and an immediate subscription. */
  private addAnomalyDetection(props: BudgetGuardProps, prefix: string): string {
    let monitorArn = props.anomalyMonitorArn;
    if (!monitorArn && props.anomalyMonitorAwsServices) {
      Annotations.of(this).addWarningV2('cdk-llm-finops:anomalyMonitorAwsServices',
        'anomalyMonitorAwsServices makes the account\'s one AWS-services anomaly monitor as a stack resource: the deploy fails if the account already has one (`aws ce get-anomaly-monitors` lists them); the default reuses it.');
      monitorArn = new ce.CfnAnomalyMonitor(this, 'AnomalyMonitor', { monitorName: `${prefix}-services`.slice(0, 1024), monitorType: 'DIMENSIONAL', monitorDimension: 'SERVICE' }).attrMonitorArn;
    } else if (!monitorArn) {
      monitorArn = this.accountServicesMonitor(`${prefix}-services`);
    }
    const subscription = new ce.CfnAnomalySubscription(this, 'AnomalySubscription', {
      subscriptionName: `${prefix}-immediate`,
      frequency: 'IMMEDIATE',
      monitorArnList: [monitorArn],
      subscribers: [{ type: 'SNS', address: this.alertTopic.topicArn }],
      thresholdExpression: JSON.stringify({
        Dimensions: { Key: 'ANOMALY_TOTAL_IMPACT_ABSOLUTE', MatchOptions: ['GREATER_THAN_OR_EQUAL'], Values: [String(props.anomalyImpactThresholdUsd ?? 100)] },
      }),
    });
    const policy = this.alertTopic.node.tryFindChild('Policy');
    if (policy) subscription.node.addDependency(policy);
    return monitorArn;
  }

  /** The kill-switch function on the machine topic, and an alarm when it fails. */
  private addKillSwitch(killSwitch: KillSwitchOptions, killSwitchTopic: sns.Topic, rules: { budgetName: string; tenant?: string; mode: string }[]): lambda.Function {
    const fn = new lambda.Function(this, 'KillSwitch', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: bundleCode(BUNDLES.budgetAction),
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroup: new logs.LogGroup(this, 'KillSwitchLogs', { retention: logs.RetentionDays.ONE_YEAR }),
      environment: {
        [ENV_QUOTA_TABLE]: killSwitch.quotaTable.tableName,
        [ENV_KILL_SWITCH_RULES]: JSON.stringify(rules),
        [ENV_ALERT_TOPIC_ARN]: this.alertTopic.topicArn,
      },
      description: 'cdk-llm-finops kill switch: sets the quota table flag when an AWS budget passes its kill threshold',
    });
    killSwitch.quotaTable.grantKillSwitch(fn);
    this.alertTopic.grantPublish(fn);
    if (this.alertTopic.masterKey) acknowledgeTopicKeyGrant(fn);
    killSwitchTopic.addSubscription(new subs.LambdaSubscription(fn));
    acknowledgeBasicExecutionRole(fn);
    // A kill switch that fails is itself an alert.
    new cloudwatch.Alarm(this, 'KillSwitchErrors', {
      alarmDescription: 'The budget kill-switch Lambda failed: a budget passed its kill threshold and the flag may not be set. Check its log, then set it by hand: llm-finops quota kill-switch --on downgrade --store dynamodb --dynamodb-table <table>.',
      metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(new cwActions.SnsAction(this.alertTopic));
    return fn;
  }

  /** The budget action: an IAM deny on the premium models, which AWS Budgets attaches to the router's role. */
  private addPremiumDeny(props: BudgetGuardProps, premiumDeny: PremiumDenyOptions, total: budgets.CfnBudget, denyAt: number): { policy: iam.ManagedPolicy; action: budgets.CfnBudgetsAction } {
    const stack = Stack.of(this);
    const sagemaker = premiumDeny.resources.filter((r) => !Token.isUnresolved(r) && r.includes(':sagemaker:'));
    const bedrock = premiumDeny.resources.filter((r) => !sagemaker.includes(r));
    const policy = new iam.ManagedPolicy(this, 'PremiumDenyPolicy', {
      description: 'cdk-llm-finops: attached by AWS Budgets when the total budget is spent; denies invoking premium models',
      statements: [
        ...(bedrock.length ? [new iam.PolicyStatement({ sid: 'DenyPremiumBedrock', effect: iam.Effect.DENY, actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], resources: bedrock })] : []),
        ...(sagemaker.length ? [new iam.PolicyStatement({ sid: 'DenyPremiumSageMaker', effect: iam.Effect.DENY, actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], resources: sagemaker })] : []),
      ],
    });
    const executionRole = new iam.Role(this, 'BudgetActionRole', {
      assumedBy: new iam.ServicePrincipal('budgets.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:budgets::${stack.account}:budget/${this.budgetNames.total}*` } },
      }),
      description: 'AWS Budgets attaches and detaches the premium-deny policy on the router role',
    });
    executionRole.addToPolicy(new iam.PolicyStatement({
      actions: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
      resources: [premiumDeny.role.roleArn],
      conditions: { ArnEquals: { 'iam:PolicyARN': policy.managedPolicyArn } },
    }));
    const action = new budgets.CfnBudgetsAction(this, 'PremiumDenyAction', {
      budgetName: total.ref,
      notificationType: 'ACTUAL',
      actionType: 'APPLY_IAM_POLICY',
      actionThreshold: { type: 'PERCENTAGE', value: denyAt },
      approvalModel: 'AUTOMATIC',
      executionRoleArn: executionRole.roleArn,
      definition: { iamActionDefinition: { policyArn: policy.managedPolicyArn, roles: [premiumDeny.role.roleName] } },
      subscribers: [{ type: 'SNS', address: this.alertTopic.topicArn }],
    });
    action.node.addDependency(executionRole);
    if (!props.killSwitch) {
      Annotations.of(this).addInfoV2('cdk-llm-finops:denyWithoutKillSwitch', 'premiumDeny without killSwitch: premium requests fail with a 502 once IAM denies them, instead of being downgraded by the gateway.');
    }
    return { policy, action };
  }

  /**
   * The account's AWS-services monitor, found or created at deploy by a custom resource (core/budgets/anomaly-monitor.ts
   * says why: the only monitor every kind of account may create, one per account).
   */
  private accountServicesMonitor(name: string): string {
    const fn = new lambda.Function(this, 'AnomalyMonitorResolver', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: bundleCode(BUNDLES.anomalyMonitor),
      memorySize: 256,
      timeout: Duration.minutes(1),
      logGroup: new logs.LogGroup(this, 'AnomalyMonitorResolverLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      description: 'cdk-llm-finops: reuses or creates the account\'s AWS-services Cost Anomaly Detection monitor at deploy',
    });
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ce:GetAnomalyMonitors', 'ce:CreateAnomalyMonitor'], resources: ['*'] }));
    acknowledgeBasicExecutionRole(fn);
    Validations.of(fn).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ce:GetAnomalyMonitors lists the account\'s monitors and ce:CreateAnomalyMonitor makes one whose ARN does not exist yet: neither takes a resource ARN.' });
    const resource = new CustomResource(this, 'AnomalyMonitor', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::LlmFinopsAnomalyMonitor',
      properties: { MonitorName: name.slice(0, 1024) },
    });
    return resource.getAttString('MonitorArn');
  }
}

/** The props with their defaults applied. */
interface Derived {
  readonly actual: number[];
  readonly forecasted: number[];
  readonly killAt: number;
  readonly denyAt: number;
  readonly tagKey: string;
  readonly prefix: string;
  /** The kill notification replaces the alert at the same percent (the Lambda's own notice tells people). */
  readonly humanActual: number[];
}

function derive(props: BudgetGuardProps, uniquePrefix: string): Derived {
  const actual = props.actualThresholds ?? [50, 80, 100];
  const killAt = props.killSwitch?.thresholdPercent ?? 100;
  return {
    actual,
    forecasted: props.forecastedThresholds ?? [100],
    killAt,
    denyAt: props.premiumDeny?.thresholdPercent ?? 100,
    tagKey: props.tenantTagKey ?? 'llm-finops:tenant',
    prefix: props.budgetNamePrefix ?? uniquePrefix,
    humanActual: props.killSwitch ? actual.filter((p) => p !== killAt) : actual,
  };
}
