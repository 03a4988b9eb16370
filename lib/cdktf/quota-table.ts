import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { Construct } from 'constructs';
import { QUOTA_TABLE } from '../../lambda/contract';

export interface TfQuotaTableProps {
  /** Table name. */
  readonly name: string;
  /** @default true */
  readonly pointInTimeRecovery?: boolean;
  /** @default true: `terraform destroy` cannot delete the table and its controls by accident */
  readonly deletionProtection?: boolean;
}

/**
 * The quota store on Terraform's AWS provider: the same schema as the CDK TokenQuotaTable (lambda/contract.ts
 * QUOTA_TABLE): on-demand, encrypted, point-in-time recovery, TTL, the reservations-by-expiry index.
 */
export class TfQuotaTable extends Construct {
  readonly table: DynamodbTable;

  constructor(scope: Construct, id: string, props: TfQuotaTableProps) {
    super(scope, id);
    this.table = new DynamodbTable(this, 'Table', {
      name: props.name,
      billingMode: 'PAY_PER_REQUEST',
      hashKey: QUOTA_TABLE.partitionKey,
      attribute: [
        { name: QUOTA_TABLE.partitionKey, type: 'S' },
        { name: QUOTA_TABLE.expiryIndexPartitionKey, type: 'S' },
        { name: QUOTA_TABLE.expiryIndexSortKey, type: 'N' },
      ],
      globalSecondaryIndex: [{
        name: QUOTA_TABLE.expiryIndex,
        hashKey: QUOTA_TABLE.expiryIndexPartitionKey,
        rangeKey: QUOTA_TABLE.expiryIndexSortKey,
        projectionType: 'KEYS_ONLY',
      }],
      ttl: { attributeName: QUOTA_TABLE.ttlAttribute, enabled: true },
      pointInTimeRecovery: { enabled: props.pointInTimeRecovery ?? true },
      serverSideEncryption: { enabled: true },
      deletionProtectionEnabled: props.deletionProtection ?? true,
    });
  }

  get arn(): string {
    return this.table.arn;
  }

  get name(): string {
    return this.table.name;
  }
}
