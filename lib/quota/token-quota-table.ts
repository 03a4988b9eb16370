import { RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledgeTopicKeyGrant } from '../nag';
import { ENV_ALERT_TOPIC_ARN, ENV_QUOTA_TABLE, QUOTA_TABLE } from '../../lambda/contract';

export interface TokenQuotaTableProps {
  /**
   * Customer-managed key for the table.
   * @default - encrypted with an AWS owned key
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Point-in-time recovery (continuous backups), so a bad `quota limits` or kill-switch change can be undone.
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;

  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Topic for quota threshold alerts (80% by default). Pass one to share it with budgets and other alerts.
   * @default - a new topic that enforces TLS
   */
  readonly alertTopic?: sns.ITopic;
}

/**
 * The DynamoDB table behind per-tenant token and dollar quotas: on-demand, encrypted, point-in-time recovery, a TTL
 * attribute for finished windows, and the `reservations-by-expiry` index the sweeper reads. Also the SNS topic the
 * router publishes threshold alerts to.
 */
export class TokenQuotaTable extends Construct {
  readonly table: dynamodb.Table;
  readonly alertTopic: sns.ITopic;
  private readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: TokenQuotaTableProps = {}) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: QUOTA_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: props.encryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.DEFAULT,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      timeToLiveAttribute: QUOTA_TABLE.ttlAttribute,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: QUOTA_TABLE.expiryIndex,
      partitionKey: { name: QUOTA_TABLE.expiryIndexPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: QUOTA_TABLE.expiryIndexSortKey, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    this.alertTopic = props.alertTopic ?? new sns.Topic(this, 'Alerts', { displayName: 'LLM quota alerts', enforceSSL: true });
  }

  /**
   * Lets a router function keep quotas here and publish alerts: sets its environment and grants
   * dynamodb:GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, Query (table and index) and sns:Publish.
   */
  bindRouter(fn: { addEnvironment(key: string, value: string): unknown; readonly grantPrincipal: iam.IPrincipal }): void {
    fn.addEnvironment(ENV_QUOTA_TABLE, this.table.tableName);
    fn.addEnvironment(ENV_ALERT_TOPIC_ARN, this.alertTopic.topicArn);
    this.grantQuotaAccess(fn.grantPrincipal);
    this.alertTopic.grantPublish(fn.grantPrincipal);
    if (this.alertTopic.masterKey && fn instanceof Construct) acknowledgeTopicKeyGrant(fn);
  }

  /**
   * Lets the key authorizer resolve run-time tenants (`llm-finops tenants`): sets the table variable and grants
   * dynamodb:GetItem on the table (the `key#<sha256>` items).
   */
  bindAuthorizer(fn: { addEnvironment(key: string, value: string): unknown; readonly grantPrincipal: iam.IPrincipal }): void {
    fn.addEnvironment(ENV_QUOTA_TABLE, this.table.tableName);
    this.encryptionKey?.grantDecrypt(fn);
    iam.Grant.addToPrincipalOrResource({ grantee: fn, actions: ['dynamodb:GetItem'], resourceArns: [this.table.tableArn], resource: this.table });
  }

  /** Grants the item operations the quota store uses, on the table and its one index (and the key, if any). */
  grantQuotaAccess(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey?.grantEncryptDecrypt(grantee);
    return iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:DescribeTable'],
      resourceArns: [this.table.tableArn, `${this.table.tableArn}/index/${QUOTA_TABLE.expiryIndex}`],
      resource: this.table,
    });
  }

  /**
   * Lets the kill-switch Lambda set and clear kill switches: PutItem and DeleteItem on the table, limited by
   * dynamodb:LeadingKeys to the `k#` items (it can touch no counter, limit or key).
   */
  grantKillSwitch(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey?.grantEncryptDecrypt(grantee);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
      resourceArns: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['k#*'] } },
    });
  }

  /** Requests DynamoDB throttled on the table (a quota store under pressure answers 503 when fail-closed). */
  metricThrottledRequests(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.table.metricThrottledRequestsForOperations({ ...props });
  }

  /** Table name, for `llm-finops ... --store dynamodb --dynamodb-table`. */
  get tableName(): string {
    return Token.asString(this.table.tableName);
  }
}
