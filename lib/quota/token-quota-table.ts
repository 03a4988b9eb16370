import { RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';
import type { IRouterBinding } from '../gateway/router-binding';
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

/** The quota store as the gateway, the kill switch and the CLI use it: a TokenQuotaTable, or one imported by ARN. */
export interface ITokenQuotaTable extends IConstruct {
  /** The table's name (`llm-finops ... --store dynamodb --dynamodb-table`). */
  readonly tableName: string;
  /** The table's ARN. */
  readonly tableArn: string;
  /** The topic the router publishes threshold, forecast, spike and brownout alerts to. */
  readonly alertTopic: sns.ITopic;
  /** Lets a router keep quotas here and publish alerts: its environment, the item operations, sns:Publish. */
  bindRouter(fn: IRouterBinding): void;
  /** Lets the key authorizer resolve run-time tenants: the table variable and dynamodb:GetItem. */
  bindAuthorizer(fn: IRouterBinding): void;
  /** The item operations the quota store uses, on the table and its one index (and the key, if any). */
  grantQuotaAccess(grantee: iam.IGrantable): iam.Grant;
  /** PutItem and DeleteItem on the `k#` (kill switch) items only. */
  grantKillSwitch(grantee: iam.IGrantable): iam.Grant;
  /** Requests DynamoDB throttled on the table. */
  metricThrottledRequests(props?: cloudwatch.MetricOptions): cloudwatch.IMetric;
}

/** An existing quota table (another stack's TokenQuotaTable, or one deployed by Terraform's `QuotaTable`). */
export interface TokenQuotaTableAttributes {
  /** ARN of the table (its schema must be the TokenQuotaTable's: lambda/contract.ts QUOTA_TABLE). */
  readonly tableArn: string;
  /** ARN of the alert topic the router publishes to. */
  readonly alertTopicArn: string;
  /**
   * The table's customer-managed key, if it has one (the grants then include the key).
   * @default - the table is encrypted with an AWS owned or managed key
   */
  readonly encryptionKey?: kms.IKey;
}

/** What the defined and the imported quota table share: the bindings and grants, on a table and a topic. */
abstract class TokenQuotaTableBase extends Construct implements ITokenQuotaTable {
  abstract readonly table: dynamodb.ITable;
  abstract readonly alertTopic: sns.ITopic;
  protected abstract readonly encryptionKey?: kms.IKey;

  /** Table name, for `llm-finops ... --store dynamodb --dynamodb-table`. */
  get tableName(): string {
    return Token.asString(this.table.tableName);
  }

  get tableArn(): string {
    return this.table.tableArn;
  }

  /**
   * Lets a router function keep quotas here and publish alerts: sets its environment and grants
   * dynamodb:GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, Query (table and index) and sns:Publish.
   */
  bindRouter(fn: IRouterBinding): void {
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
  bindAuthorizer(fn: IRouterBinding): void {
    fn.addEnvironment(ENV_QUOTA_TABLE, this.table.tableName);
    this.encryptionKey?.grantDecrypt(fn);
    this.grantOnTable(fn, ['dynamodb:GetItem'], [this.table.tableArn]);
  }

  /** Grants the item operations the quota store uses, on the table and its one index (and the key, if any). */
  grantQuotaAccess(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey?.grantEncryptDecrypt(grantee);
    return this.grantOnTable(
      grantee,
      ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:DescribeTable'],
      [this.table.tableArn, `${this.table.tableArn}/index/${QUOTA_TABLE.expiryIndex}`],
    );
  }

  /** A grant in the principal's policy, or the table's resource policy for a principal of another account (defined tables only). */
  private grantOnTable(grantee: iam.IGrantable, actions: string[], resourceArns: string[]): iam.Grant {
    const t = this.table;
    return t instanceof dynamodb.Table
      ? iam.Grant.addToPrincipalOrResource({ grantee, actions, resourceArns, resource: t })
      : iam.Grant.addToPrincipal({ grantee, actions, resourceArns });
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
}

/**
 * The DynamoDB table behind per-tenant token and dollar quotas: on-demand, encrypted, point-in-time recovery, a TTL
 * attribute for finished windows, and the `reservations-by-expiry` index the sweeper reads. Also the SNS topic the
 * router publishes threshold alerts to. `fromTokenQuotaTableAttributes` imports one another stack (or Terraform)
 * deployed, so a second gateway shares its quotas.
 */
export class TokenQuotaTable extends TokenQuotaTableBase {
  /** An existing quota table and its alert topic, by ARN: bind routers, authorizers and kill switches to it. */
  static fromTokenQuotaTableAttributes(scope: Construct, id: string, attrs: TokenQuotaTableAttributes): ITokenQuotaTable {
    if (!Token.isUnresolved(attrs.tableArn) && !/^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}$/.test(attrs.tableArn)) {
      throw new Error(`TokenQuotaTable.fromTokenQuotaTableAttributes: tableArn: expected arn:aws:dynamodb:<region>:<account>:table/<name>, got '${attrs.tableArn}'`);
    }
    if (!Token.isUnresolved(attrs.alertTopicArn) && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(attrs.alertTopicArn)) {
      throw new Error(`TokenQuotaTable.fromTokenQuotaTableAttributes: alertTopicArn: expected arn:aws:sns:<region>:<account>:<topic>, got '${attrs.alertTopicArn}'`);
    }
    return new ImportedTokenQuotaTable(scope, id, attrs);
  }

  readonly table: dynamodb.Table;
  readonly alertTopic: sns.ITopic;
  protected readonly encryptionKey?: kms.IKey;

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

}

class ImportedTokenQuotaTable extends TokenQuotaTableBase {
  readonly table: dynamodb.ITable;
  readonly alertTopic: sns.ITopic;
  protected readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, attrs: TokenQuotaTableAttributes) {
    super(scope, id);
    this.encryptionKey = attrs.encryptionKey;
    this.table = dynamodb.Table.fromTableAttributes(this, 'Table', { tableArn: attrs.tableArn, encryptionKey: attrs.encryptionKey });
    this.alertTopic = sns.Topic.fromTopicArn(this, 'Alerts', attrs.alertTopicArn);
  }
}
