import { Annotations, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, type IConstruct } from 'constructs';

/** A Slack channel that receives the alerts through AWS Chatbot. */
export interface SlackTarget {
  /** The Slack workspace (team) id, e.g. T0123ABCD. The workspace must be authorised once in the AWS Chatbot console. */
  readonly workspaceId: string;
  /** The channel id, e.g. C0123ABCD (in Slack: channel details, bottom). For a private channel, invite @aws first. */
  readonly channelId: string;
  /**
   * Name of the Chatbot channel configuration (unique in the account).
   * @default - derived from the construct path
   */
  readonly configurationName?: string;
}

export interface AlertTopicProps {
  /**
   * Encrypt the topic with a customer-managed KMS key (rotation on) whose policy admits AWS Budgets, Cost Anomaly
   * Detection and CloudWatch alarms as publishers, for their own account only. Pass a key of your own, or true for
   * one made here (about $1/month).
   * @default - not encrypted with a customer-managed key (SNS's own encryption in transit and at rest applies)
   */
  readonly encryption?: boolean;

  /**
   * Your customer-managed key for the topic; its key policy must admit the publishers (see `encryption`): use
   * `AlertTopic.allowPublishersOnKey(key)`.
   * @default - see `encryption`
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Addresses that receive every alert by email (each confirms the subscription once).
   * @default - none
   */
  readonly emails?: string[];

  /**
   * A Slack channel through AWS Chatbot.
   * @default - none
   */
  readonly slack?: SlackTarget;

  /**
   * PagerDuty: the Events API integration URL of an "Amazon CloudWatch" (or "Amazon SNS") integration on a PagerDuty
   * service, e.g. https://events.pagerduty.com/integration/<integration key>/enqueue. It holds the integration key:
   * pass it from a parameter or SSM rather than committing it.
   * @default - none
   */
  readonly pagerDutyEventsUrl?: string;

  /**
   * Name of the topic.
   * @default - generated
   */
  readonly topicName?: string;
}

const PUBLISHERS = ['budgets.amazonaws.com', 'costalerts.amazonaws.com', 'cloudwatch.amazonaws.com'] as const;
const admitted = new WeakSet<sns.ITopic>();

/** The alert topic as budgets, quotas, alarms and subscribers use it: an AlertTopic, or one imported by ARN. */
export interface IAlertTopic extends IConstruct {
  /** The SNS topic (subscribe queues, Lambdas or other endpoints to it directly). */
  readonly topic: sns.ITopic;
  /** The topic's ARN. */
  readonly topicArn: string;
  /** The customer-managed key, when the topic is encrypted with one. */
  readonly encryptionKey?: kms.IKey;
  /** Grants sns:Publish on the topic (and use of its key, if any). */
  grantPublish(grantee: iam.IGrantable): iam.Grant;
  /** Notifications SNS failed to deliver to a subscriber: alerts nobody received (Sum). */
  metricNumberOfNotificationsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Messages published to the topic: every alert raised (Sum). */
  metricNumberOfMessagesPublished(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** An alert topic another stack or app made with `AlertTopic`. */
export interface AlertTopicAttributes {
  /** ARN of the topic (output `AlertTopicArn` of a CostManagedAiPlatform). */
  readonly topicArn: string;
  /**
   * The topic's customer-managed key, if it has one (publishers then need to use it).
   * @default - not encrypted with a customer-managed key
   */
  readonly encryptionKey?: kms.IKey;
}

/** What the topic made here and an imported one share: the grant and the metrics of `topic` (extend AlertTopic, not this). */
export abstract class AlertTopicBase extends Construct implements IAlertTopic {
  abstract readonly topic: sns.ITopic;
  abstract readonly encryptionKey?: kms.IKey;

  /** The topic's ARN. */
  get topicArn(): string {
    return this.topic.topicArn;
  }

  /** Grants sns:Publish on the topic (and use of its key, if any). */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.topic.grantPublish(grantee);
  }

  /** Notifications SNS failed to deliver to a subscriber: alerts nobody received (Sum). */
  metricNumberOfNotificationsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.topic.metricNumberOfNotificationsFailed(props);
  }

  /** Messages published to the topic: every alert raised (Sum). */
  metricNumberOfMessagesPublished(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.topic.metricNumberOfMessagesPublished(props);
  }
}

/** An AlertTopic deployed elsewhere; its policy (made by AlertTopic) already admits the billing publishers. */
class ImportedAlertTopic extends AlertTopicBase {
  readonly topic: sns.ITopic;
  readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, attrs: AlertTopicAttributes) {
    super(scope, id);
    const arn = attrs.topicArn;
    if (typeof arn !== 'string' || (!Token.isUnresolved(arn) && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(arn))) {
      throw new Error(`AlertTopic.fromAlertTopicAttributes:\n  - topicArn: expected an SNS topic ARN, got '${arn}'`);
    }
    this.encryptionKey = attrs.encryptionKey;
    this.topic = sns.Topic.fromTopicAttributes(this, 'Topic', { topicArn: arn, keyArn: attrs.encryptionKey?.keyArn });
    admitted.add(this.topic);
  }
}

/**
 * The one SNS topic every cost alert goes to: AWS Budgets thresholds, Cost Anomaly Detection, the gateway's 80% quota
 * events, the kill switch's own notices and CloudWatch alarms. The topic enforces TLS and admits the AWS billing
 * publishers only for this account (aws:SourceAccount and aws:SourceArn conditions); subscribers are email, Slack
 * through AWS Chatbot and PagerDuty over HTTPS. Any other SNS consumer (a queue, a Lambda, another account) can
 * subscribe to `topic` directly.
 */
export class AlertTopic extends AlertTopicBase {
  /**
   * A topic another stack or app made with `AlertTopic` (its policy admits AWS Budgets and Cost Anomaly Detection
   * already). For a topic made any other way, pass `sns.Topic.fromTopicArn(...)` to `BudgetGuard`'s `alertTopic`
   * instead: synthesis then warns that its policy must admit those publishers.
   */
  static fromAlertTopicAttributes(scope: Construct, id: string, attrs: AlertTopicAttributes): IAlertTopic {
    return new ImportedAlertTopic(scope, id, attrs);
  }

  /**
   * Adds the statements that let AWS Budgets, Cost Anomaly Detection and CloudWatch alarms of this account use a key
   * to publish to a topic it encrypts. For a key you pass in; done for you when this construct makes the key.
   */
  static allowPublishersOnKey(scope: Construct, key: kms.IKey): void {
    const stack = Stack.of(scope);
    for (const service of PUBLISHERS) {
      key.addToResourcePolicy(new iam.PolicyStatement({
        sid: `Allow${service.split('.')[0]}Publish`,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': AlertTopic.sourceArnPattern(stack, service) } },
      }));
    }
  }

  /**
   * Adds the topic-policy statements that let AWS Budgets and Cost Anomaly Detection of this account (only) publish
   * to a topic made in this app. An imported topic's policy cannot be changed here: add the same statements to it
   * yourself (a synth warning says so). Safe to call more than once for the same topic.
   */
  static admitBillingPublishers(topic: sns.ITopic): void {
    if (admitted.has(topic)) return;
    admitted.add(topic);
    const stack = Stack.of(topic);
    let added = true;
    for (const service of ['budgets.amazonaws.com', 'costalerts.amazonaws.com'] as const) {
      added = topic.addToResourcePolicy(new iam.PolicyStatement({
        sid: `Allow${service.split('.')[0]}Publish`,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['SNS:Publish'],
        resources: [topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': AlertTopic.sourceArnPattern(stack, service) } },
      })).statementAdded && added;
    }
    if (!added) {
      Annotations.of(topic).addWarningV2('cdk-llm-finops:importedAlertTopic', 'This topic was imported: allow budgets.amazonaws.com and costalerts.amazonaws.com to SNS:Publish in its policy (with aws:SourceAccount), or budget and anomaly alerts will not arrive.');
    }
  }

  private static sourceArnPattern(stack: Stack, service: (typeof PUBLISHERS)[number]): string {
    if (service === 'budgets.amazonaws.com') return `arn:${stack.partition}:budgets::${stack.account}:*`;
    if (service === 'costalerts.amazonaws.com') return `arn:${stack.partition}:ce::${stack.account}:anomalysubscription/*`;
    return `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`;
  }

  readonly topic: sns.Topic;
  /** The customer-managed key, when the topic is encrypted. */
  readonly encryptionKey?: kms.IKey;
  /** The Chatbot channel configuration, when `slack` is set. */
  readonly slackChannel?: chatbot.SlackChannelConfiguration;

  constructor(scope: Construct, id: string, props: AlertTopicProps = {}) {
    super(scope, id);
    const problems: string[] = [];
    for (const email of props.emails ?? []) {
      if (!Token.isUnresolved(email) && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) problems.push(`emails: '${email}' is not an email address`);
    }
    const pd = props.pagerDutyEventsUrl;
    if (pd !== undefined && !Token.isUnresolved(pd)) {
      let url: URL | undefined;
      try {
        url = new URL(pd);
      } catch {
        problems.push('pagerDutyEventsUrl: not a URL');
      }
      if (url && url.protocol !== 'https:') problems.push('pagerDutyEventsUrl: must be https (PagerDuty Events API)');
      else if (url && !/(^|\.)pagerduty\.com$/.test(url.hostname)) {
        Annotations.of(this).addWarningV2('cdk-llm-finops:pagerDutyHost', `pagerDutyEventsUrl host ${url.hostname} is not pagerduty.com: it receives every alert.`);
      }
    }
    if (props.slack) {
      if (!Token.isUnresolved(props.slack.workspaceId) && !/^[A-Z0-9]{9,12}$/.test(props.slack.workspaceId)) problems.push(`slack.workspaceId: expected a Slack team id like T0123ABCD, got '${props.slack.workspaceId}'`);
      if (!Token.isUnresolved(props.slack.channelId) && !/^[A-Z0-9]{9,12}$/.test(props.slack.channelId)) problems.push(`slack.channelId: expected a Slack channel id like C0123ABCD, got '${props.slack.channelId}'`);
    }
    if (problems.length) throw new Error(`Invalid AlertTopic props:\n  - ${problems.join('\n  - ')}`);

    if (props.encryptionKey) {
      this.encryptionKey = props.encryptionKey;
    } else if (props.encryption) {
      // Scheduled for deletion with the stack (after the shortest waiting period) rather than kept, and billed, forever.
      const key = new kms.Key(this, 'Key', {
        enableKeyRotation: true, description: 'cdk-llm-finops cost alerts topic', removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7),
      });
      AlertTopic.allowPublishersOnKey(this, key);
      this.encryptionKey = key;
    }
    this.topic = new sns.Topic(this, 'Resource', {
      displayName: 'LLM cost alerts',
      topicName: props.topicName,
      enforceSSL: true,
      masterKey: this.encryptionKey,
    });
    AlertTopic.admitBillingPublishers(this.topic);

    for (const email of props.emails ?? []) this.topic.addSubscription(new subs.EmailSubscription(email));
    if (pd !== undefined) this.topic.addSubscription(new subs.UrlSubscription(pd, { protocol: sns.SubscriptionProtocol.HTTPS }));
    if (props.slack) {
      // Notifications only: the guardrail caps what anyone in the channel can run through Chatbot at nothing.
      const guardrail = new iam.ManagedPolicy(this, 'SlackGuardrail', {
        description: 'cdk-llm-finops alerts channel: notifications only, no commands from Slack',
        statements: [new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['*'], resources: ['*'] })],
      });
      this.slackChannel = new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: props.slack.configurationName ?? `llm-finops-${this.node.addr.slice(0, 12)}`,
        slackWorkspaceId: props.slack.workspaceId,
        slackChannelId: props.slack.channelId,
        notificationTopics: [this.topic],
        guardrailPolicies: [guardrail],
        loggingLevel: chatbot.LoggingLevel.ERROR,
      });
    }
  }
}
