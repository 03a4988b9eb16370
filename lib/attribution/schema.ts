/**
 * Table shapes shared by the CostAttribution construct (Glue tables, the CUR export's column list) and the
 * `llm-finops report` command (DuckDB views). No imports: the CLI loads it without aws-cdk-lib.
 */

/** One usage record per row (lambda/core/usage.ts), as Firehose writes it to Parquet. Glue / Hive types. */
export const USAGE_COLUMNS: ReadonlyArray<{ readonly name: string; readonly type: string }> = [
  { name: 'ts', type: 'string' },
  { name: 'request_id', type: 'string' },
  { name: 'tenant', type: 'string' },
  { name: 'feature', type: 'string' },
  { name: 'team', type: 'string' },
  { name: 'end_user', type: 'string' },
  { name: 'provider', type: 'string' },
  { name: 'provider_type', type: 'string' },
  { name: 'model', type: 'string' },
  { name: 'upstream_model', type: 'string' },
  { name: 'tier', type: 'string' },
  { name: 'route_reason', type: 'string' },
  { name: 'cache', type: 'string' },
  { name: 'stream', type: 'boolean' },
  { name: 'input_tokens', type: 'bigint' },
  { name: 'output_tokens', type: 'bigint' },
  { name: 'cache_read_tokens', type: 'bigint' },
  { name: 'cache_write_tokens', type: 'bigint' },
  { name: 'cost_usd', type: 'double' },
  { name: 'cost_micros', type: 'bigint' },
  { name: 'baseline_cost_usd', type: 'double' },
  { name: 'baseline_cost_micros', type: 'bigint' },
  { name: 'cost_basis', type: 'string' },
  { name: 'usage_estimated', type: 'boolean' },
  { name: 'attempts', type: 'int' },
  { name: 'latency_ms', type: 'double' },
  { name: 'upstream_ms', type: 'double' },
  { name: 'overhead_ms', type: 'double' },
  { name: 'status', type: 'int' },
  { name: 'error_type', type: 'string' },
  { name: 'cache_error', type: 'string' },
  { name: 'quota_action', type: 'string' },
  { name: 'context_tokens_saved', type: 'bigint' },
  { name: 'context_saved_usd', type: 'double' },
  { name: 'embedding_tokens', type: 'bigint' },
  { name: 'cache_score', type: 'double' },
  { name: 'cascade', type: 'array<struct<model:string,input_tokens:bigint,output_tokens:bigint,cost_micros:bigint,accepted:boolean,reason:string>>' },
  { name: 'usage_flags', type: 'array<string>' },
  { name: 'usage_problem', type: 'string' },
  { name: 'service_tier', type: 'string' },
  { name: 'api', type: 'string' },
  { name: 'batch_id', type: 'string' },
  { name: 'batch_custom_id', type: 'string' },
  { name: 'savings', type: 'struct<cache:bigint,routing:bigint,cascade:bigint,context:bigint,prompt_cache:bigint,commitment:bigint,batch:bigint,failed_attempts:bigint>' },
];

/** The levers of a usage record's `savings` (lambda/core/pipeline/receipt.ts Savings), in column order. */
export const SAVINGS_LEVERS = ['cache', 'routing', 'cascade', 'context', 'prompt_cache', 'commitment', 'batch', 'failed_attempts'] as const;

/** The usage table's partition column: the UTC day Firehose delivered the record (yyyy-MM-dd). */
export const USAGE_PARTITION = 'dt';

/**
 * The CUR 2.0 columns the export selects (Data Exports rejects SELECT *). Resource ids, split cost allocation data
 * and IAM principal data are on. Types as Glue sees the Parquet files.
 */
export const CUR_COLUMNS: ReadonlyArray<{ readonly name: string; readonly type: string }> = [
  { name: 'bill_billing_period_start_date', type: 'timestamp' },
  { name: 'bill_billing_period_end_date', type: 'timestamp' },
  { name: 'bill_payer_account_id', type: 'string' },
  { name: 'line_item_usage_account_id', type: 'string' },
  { name: 'line_item_line_item_type', type: 'string' },
  { name: 'line_item_usage_start_date', type: 'timestamp' },
  { name: 'line_item_usage_end_date', type: 'timestamp' },
  { name: 'line_item_product_code', type: 'string' },
  { name: 'line_item_usage_type', type: 'string' },
  { name: 'line_item_operation', type: 'string' },
  { name: 'line_item_resource_id', type: 'string' },
  { name: 'line_item_usage_amount', type: 'double' },
  { name: 'line_item_unblended_cost', type: 'double' },
  { name: 'line_item_net_unblended_cost', type: 'double' },
  { name: 'line_item_iam_principal', type: 'string' },
  { name: 'pricing_unit', type: 'string' },
  { name: 'product_region_code', type: 'string' },
  { name: 'product', type: 'map<string,string>' },
  { name: 'resource_tags', type: 'map<string,string>' },
  { name: 'split_line_item_parent_resource_id', type: 'string' },
  { name: 'split_line_item_split_cost', type: 'double' },
  { name: 'split_line_item_unused_cost', type: 'double' },
];

/** The CUR table's partition column (Data Exports writes `.../data/BILLING_PERIOD=yyyy-MM/`). */
export const CUR_PARTITION = 'billing_period';

/** The FOCUS 1.2 columns the optional FOCUS export selects. */
export const FOCUS_COLUMNS: ReadonlyArray<{ readonly name: string; readonly type: string }> = [
  { name: 'BillingPeriodStart', type: 'timestamp' },
  { name: 'ChargePeriodStart', type: 'timestamp' },
  { name: 'ChargePeriodEnd', type: 'timestamp' },
  { name: 'BillingAccountId', type: 'string' },
  { name: 'SubAccountId', type: 'string' },
  { name: 'ProviderName', type: 'string' },
  { name: 'PublisherName', type: 'string' },
  { name: 'InvoiceIssuerName', type: 'string' },
  { name: 'ServiceName', type: 'string' },
  { name: 'ServiceCategory', type: 'string' },
  { name: 'ChargeCategory', type: 'string' },
  { name: 'ChargeDescription', type: 'string' },
  { name: 'ResourceId', type: 'string' },
  { name: 'RegionId', type: 'string' },
  { name: 'SkuId', type: 'string' },
  { name: 'ConsumedQuantity', type: 'double' },
  { name: 'ConsumedUnit', type: 'string' },
  { name: 'BilledCost', type: 'double' },
  { name: 'EffectiveCost', type: 'double' },
  { name: 'ListCost', type: 'double' },
  { name: 'BillingCurrency', type: 'string' },
  { name: 'Tags', type: 'map<string,string>' },
];

/**
 * The key a cost allocation tag gets in CUR 2.0's `resource_tags` map: user-defined tags as `user_` plus the key
 * with each character other than a letter or digit as `_` (e.g. `llm-finops:tenant` -> `user_llm_finops_tenant`).
 * Check it against your first export; every query takes the key as a parameter.
 */
export function curResourceTagKey(tagKey: string): string {
  return `user_${tagKey.replace(/[^A-Za-z0-9]/g, '_')}`;
}
