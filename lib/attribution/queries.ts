/**
 * The attribution SQL, written once in the subset Amazon Athena (Trino) and DuckDB share: the CostAttribution
 * construct saves each as an Athena named query, `llm-finops report` runs the same text on DuckDB, and the tests run
 * it on DuckDB against generated CUR 2.0 Parquet and usage logs. One difference needs a shim: on a map, Trino's
 * `element_at(map, key)` returns the value or NULL, DuckDB's returns a list, so the DuckDB runner defines
 * `element_at` as a macro with Trino's meaning (see DUCKDB_SHIMS). Imports only ./schema: the CLI loads this without aws-cdk-lib.
 *
 * Placeholders: {{usage}}, {{cur}}, {{focus}} (table names), {{tenant_tag}}, {{feature_tag}}, {{team_tag}}
 * (keys in CUR 2.0's resource_tags), {{focus_tenant_tag}}, {{focus_feature_tag}}, {{focus_team_tag}} (keys in
 * FOCUS Tags). Money from the usage log is summed in integer micro-dollars and converted once.
 */
import { SAVINGS_LEVERS } from './schema';

/** Functions DuckDB must be given so the shared SQL means what it means on Athena. */
export const DUCKDB_SHIMS: readonly string[] = [
  'CREATE OR REPLACE MACRO element_at(m, k) AS map_extract_value(m, k)',
];

/** Lines of Amazon Bedrock: its own product code, and third-party models AWS Marketplace bills ("... (Amazon Bedrock Edition)"). */
const BEDROCK_LINES = "(line_item_product_code = 'AmazonBedrock' OR element_at(product, 'product_name') LIKE '%Amazon Bedrock Edition%')";
/** SageMaker real-time hosting instance-hours (usage type `USE1-Host:ml.<type>`). */
/** Bedrock Provisioned Throughput hours: the line's resource is the provisioned model's ARN. */
const PROVISIONED_LINES = "line_item_resource_id LIKE '%:provisioned-model/%'";
const SAGEMAKER_HOSTING_LINES = "(line_item_product_code = 'AmazonSageMaker' AND line_item_usage_type LIKE '%Host:ml.%')";
const MICROS_TO_USD = (expr: string): string => `CAST(${expr} AS DOUBLE) / 1000000`;
const TOKENS = 'input_tokens + output_tokens + cache_read_tokens + cache_write_tokens';

export const SPEND_BY_DIMENSION = `-- Spend by tenant, feature, team, model and day, from the gateway's usage log.
SELECT substr(ts, 1, 10) AS day, tenant, feature, coalesce(team, '') AS team, coalesce(model, '') AS model,
  count(*) AS requests,
  sum(input_tokens + cache_read_tokens + cache_write_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  ${MICROS_TO_USD('sum(cost_micros)')} AS cost_usd
FROM {{usage}}
GROUP BY substr(ts, 1, 10), tenant, feature, coalesce(team, ''), coalesce(model, '')
ORDER BY day, cost_usd DESC, tenant, feature, model`;

export const UNIT_ECONOMICS = `-- Unit economics per tenant and feature: cost per request, per 1k tokens and per active end user.
SELECT tenant, feature,
  count(*) AS requests,
  count(DISTINCT end_user) AS active_users,
  sum(${TOKENS}) AS tokens,
  ${MICROS_TO_USD('sum(cost_micros)')} AS cost_usd,
  ${MICROS_TO_USD('sum(cost_micros)')} / count(*) AS cost_per_request_usd,
  CAST(sum(cost_micros) AS DOUBLE) / 1000 / nullif(sum(${TOKENS}), 0) AS cost_per_1k_tokens_usd,
  ${MICROS_TO_USD('sum(cost_micros)')} / nullif(count(DISTINCT end_user), 0) AS cost_per_active_user_usd
FROM {{usage}}
GROUP BY tenant, feature
ORDER BY cost_usd DESC, tenant, feature`;

export const SAVINGS = `-- What cache and routing saved against always calling the baseline model (routing.baselineModel).
-- Self-hosted answers (cost_basis instance_hour) cost nothing per request: their baseline is shown apart, and the
-- instance-hours they used are in the SageMaker and reconciliation queries.
SELECT tenant, feature,
  count(*) AS requests,
  sum(CASE WHEN cache IN ('hit-exact', 'hit-semantic') THEN 1 ELSE 0 END) AS cache_hits,
  ${MICROS_TO_USD('sum(baseline_cost_micros)')} AS baseline_usd,
  ${MICROS_TO_USD('sum(cost_micros)')} AS actual_usd,
  ${MICROS_TO_USD("sum(CASE WHEN cache IN ('hit-exact', 'hit-semantic') THEN baseline_cost_micros - cost_micros ELSE 0 END)")} AS saved_by_cache_usd,
  ${MICROS_TO_USD("sum(CASE WHEN cost_basis = 'tokens' THEN baseline_cost_micros - cost_micros ELSE 0 END)")} AS saved_by_routing_usd,
  ${MICROS_TO_USD("sum(CASE WHEN cost_basis = 'instance_hour' THEN baseline_cost_micros ELSE 0 END)")} AS self_hosted_baseline_usd,
  sum(context_saved_usd) AS saved_by_context_usd
FROM {{usage}}
GROUP BY tenant, feature
ORDER BY saved_by_cache_usd + saved_by_routing_usd DESC, tenant, feature`;

/**
 * What each lever saved, from the records' `savings` (see docs/savings.md): by day, tenant, feature,
 * team and model, in USD. The levers of a record sum to its baseline minus its cost, so the columns add up to
 * saved_usd; records written before `savings` existed are counted apart (their saving is in saved_usd only).
 */
export const SAVINGS_BY_LEVER = `-- What each lever saved (cache, routing, cascade, context trimming, prompt caching, commitment, batch; failed
-- attempts as a negative) against the baseline model on the untrimmed prompt, by day, tenant, feature, team, model.
SELECT substr(ts, 1, 10) AS day, tenant, feature, coalesce(team, '') AS team, coalesce(model, '') AS model,
  count(*) AS requests,
  sum(CASE WHEN savings IS NULL THEN 1 ELSE 0 END) AS requests_without_savings,
  ${MICROS_TO_USD('sum(baseline_cost_micros)')} AS baseline_usd,
  ${MICROS_TO_USD('sum(cost_micros)')} AS actual_usd,
${SAVINGS_LEVERS.map((l) => `  ${MICROS_TO_USD(`coalesce(sum(savings.${l}), 0)`)} AS ${l}_usd,`).join('\n')}
  ${MICROS_TO_USD('sum(baseline_cost_micros - cost_micros)')} AS saved_usd
FROM {{usage}}
GROUP BY substr(ts, 1, 10), tenant, feature, coalesce(team, ''), coalesce(model, '')
ORDER BY day, saved_usd DESC, tenant, feature, team, model`;

export const BEDROCK_SPEND = `-- Bedrock spend from CUR 2.0 by model, token type and tenant tag (application inference profiles). A model's
-- cost is the sum of its four token types (input, output, cache read, cache write): model_total_usd.
WITH lines AS (
  SELECT billing_period,
    coalesce(nullif(regexp_extract(line_item_usage_type, '^[A-Z0-9]+-(.+?)-(input|output|cache)', 1), ''), line_item_usage_type) AS model,
    CASE
      WHEN line_item_usage_type LIKE '%cache-read%' THEN 'cache_read'
      WHEN line_item_usage_type LIKE '%cache-write%' THEN 'cache_write'
      WHEN line_item_usage_type LIKE '%input-token%' THEN 'input'
      WHEN line_item_usage_type LIKE '%output-token%' THEN 'output'
      ELSE 'other'
    END AS token_type,
    coalesce(element_at(resource_tags, '{{tenant_tag}}'), '') AS tenant_tag,
    line_item_usage_amount AS usage_amount,
    line_item_unblended_cost AS cost
  FROM {{cur}}
  WHERE ${BEDROCK_LINES}
), totals AS (
  SELECT billing_period, model, token_type, tenant_tag, sum(usage_amount) AS tokens, sum(cost) AS cost_usd
  FROM lines
  GROUP BY billing_period, model, token_type, tenant_tag
)
SELECT billing_period, model, token_type, tenant_tag, tokens, cost_usd,
  sum(cost_usd) OVER (PARTITION BY billing_period, model, tenant_tag) AS model_total_usd
FROM totals
ORDER BY billing_period, model_total_usd DESC, model, tenant_tag, token_type`;

export const SAGEMAKER_HOSTING = `-- SageMaker endpoint instance-hours and cost from CUR 2.0 (real-time hosting, usage type Host:ml.<type>).
SELECT billing_period,
  lower(coalesce(nullif(regexp_extract(line_item_resource_id, 'endpoint/([^/]+)', 1), ''), line_item_resource_id)) AS endpoint,
  regexp_extract(line_item_usage_type, 'Host:(ml\\.[a-z0-9]+\\.[a-z0-9]+)', 1) AS instance_type,
  sum(line_item_usage_amount) AS instance_hours,
  sum(line_item_unblended_cost) AS cost_usd
FROM {{cur}}
WHERE ${SAGEMAKER_HOSTING_LINES}
GROUP BY 1, 2, 3
ORDER BY billing_period, cost_usd DESC, endpoint`;

export const RECONCILIATION = `-- The bill, allocated to tenants. Bedrock: each month's CUR Bedrock cost, shared by the tenants' gateway token
-- cost (scaled down if CUR is below the gateway's estimate); what the gateway did not see (other callers, price
-- changes) is the (unattributed) row. SageMaker: each endpoint's CUR hosting cost, shared by the tenants' upstream
-- time on it against the larger of their total time and the instance-hours; the rest is the endpoint's (idle) row.
-- Bedrock Provisioned Throughput (CUR lines whose resource is a provisioned-model ARN, gateway records with
-- cost_basis commitment on that ARN): the hours in which requests used it are shared by the tenants' tokens; the
-- hours it was held and nothing used it are its (idle) row.
-- Per month and service the rows sum to the CUR total.
WITH gw AS (
  SELECT substr(ts, 1, 7) AS billing_period, tenant, provider_type, lower(coalesce(upstream_model, '')) AS upstream_model,
    sum(cost_micros) AS micros, sum(upstream_ms) AS ms, sum(${TOKENS}) AS tokens
  FROM {{usage}}
  WHERE provider_type IN ('bedrock', 'sagemaker')
  GROUP BY 1, 2, 3, 4
), bedrock_cur AS (
  SELECT billing_period, sum(line_item_unblended_cost) AS cost
  FROM {{cur}} WHERE ${BEDROCK_LINES} AND NOT coalesce(${PROVISIONED_LINES}, false)
  GROUP BY billing_period
), pt_cur AS (
  SELECT billing_period, lower(line_item_resource_id) AS resource, sum(line_item_unblended_cost) AS cost,
    date_diff('hour', min(line_item_usage_start_date), max(coalesce(line_item_usage_end_date, line_item_usage_start_date + INTERVAL '1' HOUR))) AS hours
  FROM {{cur}} WHERE ${BEDROCK_LINES} AND ${PROVISIONED_LINES}
  GROUP BY 1, 2
), pt_busy AS (
  SELECT substr(ts, 1, 7) AS billing_period, lower(upstream_model) AS resource, count(DISTINCT substr(ts, 1, 13)) AS hours
  FROM {{usage}}
  WHERE provider_type = 'bedrock' AND cost_basis = 'commitment'
  GROUP BY 1, 2
), pt_alloc AS (
  SELECT c.billing_period, c.resource, g.tenant,
    c.cost * (CASE WHEN b.hours < c.hours THEN CAST(b.hours AS DOUBLE) / c.hours ELSE CAST(1 AS DOUBLE) END) * g.tokens / t.tokens AS allocated
  FROM pt_cur c
  JOIN pt_busy b ON b.billing_period = c.billing_period AND b.resource = c.resource
  JOIN (SELECT billing_period, upstream_model, sum(tokens) AS tokens FROM gw WHERE provider_type = 'bedrock' GROUP BY 1, 2) t
    ON t.billing_period = c.billing_period AND t.upstream_model = c.resource AND t.tokens > 0
  JOIN gw g ON g.billing_period = c.billing_period AND g.upstream_model = c.resource AND g.provider_type = 'bedrock'
), bedrock_gw AS (
  SELECT billing_period, tenant, CAST(sum(micros) AS DOUBLE) / 1000000 AS usd
  FROM gw WHERE provider_type = 'bedrock'
  GROUP BY billing_period, tenant
), bedrock_scale AS (
  SELECT c.billing_period, c.cost,
    CASE WHEN c.cost < t.usd THEN c.cost / t.usd ELSE CAST(1 AS DOUBLE) END AS scale
  FROM bedrock_cur c
  JOIN (SELECT billing_period, sum(usd) AS usd FROM bedrock_gw GROUP BY billing_period) t ON t.billing_period = c.billing_period AND t.usd > 0
), bedrock_alloc AS (
  SELECT s.billing_period, g.tenant, g.usd * s.scale AS allocated
  FROM bedrock_scale s JOIN bedrock_gw g ON g.billing_period = s.billing_period
), sm_cur AS (
  SELECT billing_period,
    lower(coalesce(nullif(regexp_extract(line_item_resource_id, 'endpoint/([^/]+)', 1), ''), line_item_resource_id)) AS endpoint,
    sum(line_item_usage_amount) AS hours, sum(line_item_unblended_cost) AS cost
  FROM {{cur}} WHERE ${SAGEMAKER_HOSTING_LINES}
  GROUP BY 1, 2
), sm_gw AS (
  SELECT billing_period, upstream_model AS endpoint, tenant, sum(ms) AS ms
  FROM gw WHERE provider_type = 'sagemaker'
  GROUP BY 1, 2, 3
), sm_alloc AS (
  SELECT c.billing_period, c.endpoint, g.tenant,
    c.cost * g.ms / (CASE WHEN t.ms > c.hours * 3600000 THEN t.ms ELSE c.hours * 3600000 END) AS allocated
  FROM sm_cur c
  JOIN (SELECT billing_period, endpoint, sum(ms) AS ms FROM sm_gw GROUP BY 1, 2) t ON t.billing_period = c.billing_period AND t.endpoint = c.endpoint AND t.ms > 0
  JOIN sm_gw g ON g.billing_period = c.billing_period AND g.endpoint = c.endpoint
)
SELECT billing_period, 'bedrock' AS service, '(all models)' AS resource, tenant, allocated AS allocated_usd, 'gateway token cost share' AS basis
FROM bedrock_alloc
UNION ALL
SELECT c.billing_period, 'bedrock', '(all models)', '(unattributed)', c.cost - coalesce(a.allocated, 0), 'CUR cost the gateway did not see'
FROM bedrock_cur c LEFT JOIN (SELECT billing_period, sum(allocated) AS allocated FROM bedrock_alloc GROUP BY billing_period) a ON a.billing_period = c.billing_period
UNION ALL
SELECT billing_period, 'bedrock-provisioned', resource, tenant, allocated, 'token share of the hours it was used'
FROM pt_alloc
UNION ALL
SELECT c.billing_period, 'bedrock-provisioned', c.resource, '(idle)', c.cost - coalesce(a.allocated, 0), 'hours held and not used'
FROM pt_cur c LEFT JOIN (SELECT billing_period, resource, sum(allocated) AS allocated FROM pt_alloc GROUP BY 1, 2) a ON a.billing_period = c.billing_period AND a.resource = c.resource
UNION ALL
SELECT billing_period, 'sagemaker', endpoint, tenant, allocated, 'upstream time share of instance-hours'
FROM sm_alloc
UNION ALL
SELECT c.billing_period, 'sagemaker', c.endpoint, '(idle)', c.cost - coalesce(a.allocated, 0), 'instance-hours no request used'
FROM sm_cur c LEFT JOIN (SELECT billing_period, endpoint, sum(allocated) AS allocated FROM sm_alloc GROUP BY 1, 2) a ON a.billing_period = c.billing_period AND a.endpoint = c.endpoint
ORDER BY 1, 2, 3, 4`;

/**
 * Committed capacity billed outside CUR (Azure PTU, other hourly capacity; Bedrock Provisioned Throughput is in the
 * reconciliation, from CUR): each month the usage log covers, the commitment's hours at its configured rate (held all
 * month), shared over the hours the gateway used it by tokens, the rest its (idle) row. The rates come from the gateway
 * config (`models[].commitment`), so `llm-finops report --config` runs it on DuckDB; it is not an Athena named query.
 */
export function commitmentsQuery(commitments: ReadonlyArray<{ readonly model: string; readonly usdPerHour: number }>): string {
  if (!commitments.length) throw new Error('commitmentsQuery: no commitments');
  const values = commitments.map((c) => {
    if (!Number.isFinite(c.usdPerHour) || c.usdPerHour < 0) throw new Error(`commitmentsQuery: bad rate for ${c.model}`);
    return `('${c.model.replace(/'/g, "''")}', CAST(${c.usdPerHour} AS DOUBLE))`;
  }).join(', ');
  return `-- Committed capacity outside CUR, apportioned: the hours the gateway used it by tokens, the rest (idle).
WITH commitments(model, usd_per_hour) AS (VALUES ${values}),
used AS (
  SELECT substr(ts, 1, 7) AS billing_period, model, tenant, sum(${TOKENS}) AS tokens
  FROM {{usage}} WHERE cost_basis = 'commitment' GROUP BY 1, 2, 3
), busy AS (
  SELECT substr(ts, 1, 7) AS billing_period, model, count(DISTINCT substr(ts, 1, 13)) AS hours
  FROM {{usage}} WHERE cost_basis = 'commitment' GROUP BY 1, 2
), held AS (
  SELECT DISTINCT p.billing_period, c.model, c.usd_per_hour, 24 * day(last_day(CAST(p.billing_period || '-01' AS DATE))) AS hours
  FROM (SELECT DISTINCT substr(ts, 1, 7) AS billing_period FROM {{usage}}) p CROSS JOIN commitments c
), alloc AS (
  SELECT h.billing_period, h.model, u.tenant,
    h.usd_per_hour * least(b.hours, h.hours) * u.tokens / t.tokens AS allocated
  FROM held h
  JOIN busy b ON b.billing_period = h.billing_period AND b.model = h.model
  JOIN (SELECT billing_period, model, sum(tokens) AS tokens FROM used GROUP BY 1, 2) t ON t.billing_period = h.billing_period AND t.model = h.model AND t.tokens > 0
  JOIN used u ON u.billing_period = h.billing_period AND u.model = h.model
)
SELECT billing_period, model AS resource, tenant, allocated AS allocated_usd, 'token share of the hours it was used' AS basis
FROM alloc
UNION ALL
SELECT h.billing_period, h.model, '(idle)', h.usd_per_hour * h.hours - coalesce(a.allocated, 0), 'hours held and not used'
FROM held h LEFT JOIN (SELECT billing_period, model, sum(allocated) AS allocated FROM alloc GROUP BY 1, 2) a ON a.billing_period = h.billing_period AND a.model = h.model
ORDER BY 1, 2, 3`;
}

/** Gateway-derived FOCUS rows for external providers (OpenAI, Anthropic, Azure OpenAI, any OpenAI-compatible API). */
const FOCUS_GATEWAY_ROWS = `SELECT CAST(substr(ts, 1, 7) || '-01 00:00:00' AS timestamp) AS BillingPeriodStart,
  CAST(substr(ts, 1, 10) || ' 00:00:00' AS timestamp) AS ChargePeriodStart,
  CAST(substr(ts, 1, 10) || ' 00:00:00' AS timestamp) + INTERVAL '1' DAY AS ChargePeriodEnd,
  provider AS ProviderName, provider AS PublisherName, 'LLM API' AS ServiceName, 'AI and Machine Learning' AS ServiceCategory,
  'Usage' AS ChargeCategory, upstream_model AS ResourceId,
  CAST(sum(${TOKENS}) AS DOUBLE) AS ConsumedQuantity, 'Tokens' AS ConsumedUnit,
  ${MICROS_TO_USD('sum(cost_micros)')} AS BilledCost, ${MICROS_TO_USD('sum(cost_micros)')} AS EffectiveCost, 'USD' AS BillingCurrency,
  tenant AS x_tenant, feature AS x_feature, coalesce(team, '') AS x_team, 'gateway' AS x_source
FROM {{usage}}
WHERE provider_type IN ('openai-compatible', 'azure-openai') AND cost_basis = 'tokens'
GROUP BY substr(ts, 1, 7), substr(ts, 1, 10), provider, upstream_model, tenant, feature, coalesce(team, '')`;

const FOCUS_AWS_ROWS = `SELECT CAST(BillingPeriodStart AS timestamp) AS BillingPeriodStart, CAST(ChargePeriodStart AS timestamp) AS ChargePeriodStart,
  CAST(ChargePeriodEnd AS timestamp) AS ChargePeriodEnd, ProviderName, PublisherName, ServiceName, ServiceCategory,
  ChargeCategory, ResourceId, ConsumedQuantity, ConsumedUnit, BilledCost, EffectiveCost, BillingCurrency,
  coalesce(element_at(Tags, '{{focus_tenant_tag}}'), '') AS x_tenant, coalesce(element_at(Tags, '{{focus_feature_tag}}'), '') AS x_feature,
  coalesce(element_at(Tags, '{{focus_team_tag}}'), '') AS x_team, 'aws-focus' AS x_source
FROM {{focus}}`;

/** FOCUS-shaped rows: AWS's FOCUS 1.2 export (when there is one) and the gateway's external-provider spend. */
export function focusView(withAwsFocus: boolean): string {
  return `-- FOCUS 1.2-shaped spend with x_tenant, x_feature, x_team: ${withAwsFocus ? "AWS's FOCUS export unioned with " : ''}the gateway's
-- rows for providers outside AWS (priced by the gateway per token; they appear in no AWS bill).
${withAwsFocus ? `${FOCUS_AWS_ROWS}\nUNION ALL\n` : ''}${FOCUS_GATEWAY_ROWS}`;
}

/** A table an attribution query reads: the usage records, the CUR 2.0 export, the FOCUS export. */
export enum AttributionSource {
  USAGE = 'usage',
  CUR = 'cur',
  FOCUS = 'focus',
}

export interface AttributionQuery {
  /** Athena named-query name and `llm-finops report --query` name. */
  readonly name: string;
  readonly description: string;
  /** Tables it reads. */
  readonly needs: AttributionSource[];
  readonly sql: string;
}

export const ATTRIBUTION_QUERIES: readonly AttributionQuery[] = [
  { name: 'spend-by-dimension', description: 'Spend by tenant, feature, team, model and day (usage log)', needs: [AttributionSource.USAGE], sql: SPEND_BY_DIMENSION },
  { name: 'unit-economics', description: 'Cost per request, per 1k tokens and per active end user (usage log)', needs: [AttributionSource.USAGE], sql: UNIT_ECONOMICS },
  { name: 'savings', description: 'Savings from cache and routing against the baseline model (usage log)', needs: [AttributionSource.USAGE], sql: SAVINGS },
  { name: 'savings-by-lever', description: 'What each lever saved by day, tenant, feature, team and model (usage log: savings)', needs: [AttributionSource.USAGE], sql: SAVINGS_BY_LEVER },
  { name: 'bedrock-spend', description: 'Bedrock spend by model, token type and tenant tag (CUR 2.0)', needs: [AttributionSource.CUR], sql: BEDROCK_SPEND },
  { name: 'sagemaker-hosting', description: 'SageMaker endpoint instance-hours and cost (CUR 2.0)', needs: [AttributionSource.CUR], sql: SAGEMAKER_HOSTING },
  { name: 'reconciliation', description: 'CUR Bedrock and SageMaker cost allocated to tenants, with idle and unattributed rows', needs: [AttributionSource.USAGE, AttributionSource.CUR], sql: RECONCILIATION },
  { name: 'focus', description: 'FOCUS 1.2-shaped rows with x_tenant, x_feature, x_team (AWS FOCUS export + external providers)', needs: [AttributionSource.USAGE, AttributionSource.FOCUS], sql: focusView(true) },
  { name: 'focus-gateway', description: 'FOCUS 1.2-shaped rows for external providers, from the usage log only', needs: [AttributionSource.USAGE], sql: focusView(false) },
];

/** The dimensions `spendBy` may group by, as columns of the usage table. */
export const SPEND_DIMENSIONS: Readonly<Record<string, string>> = {
  day: 'substr(ts, 1, 10)',
  month: 'substr(ts, 1, 7)',
  tenant: 'tenant',
  feature: 'feature',
  team: "coalesce(team, '')",
  model: "coalesce(model, '')",
  provider: "coalesce(provider, '')",
  tier: "coalesce(tier, '')",
  cache: 'cache',
  /** The front door: chat, messages, responses, embeddings, or batch for a line of a batch. */
  api: "coalesce(api, '')",
};

/** Spend grouped by any of SPEND_DIMENSIONS, in the same shared SQL subset. */
export function spendBy(dimensions: readonly string[]): string {
  if (!dimensions.length) throw new Error('spendBy: at least one dimension');
  const unknown = dimensions.filter((d) => !(d in SPEND_DIMENSIONS));
  if (unknown.length) throw new Error(`unknown dimension(s) ${unknown.join(', ')}; use ${Object.keys(SPEND_DIMENSIONS).join(', ')}`);
  const cols = dimensions.map((d) => `${SPEND_DIMENSIONS[d]} AS ${d}`).join(', ');
  const keys = dimensions.map((d) => SPEND_DIMENSIONS[d]).join(', ');
  return `SELECT ${cols},
  count(*) AS requests,
  sum(${TOKENS}) AS tokens,
  ${MICROS_TO_USD('sum(cost_micros)')} AS cost_usd,
  ${MICROS_TO_USD('sum(baseline_cost_micros) - sum(cost_micros)')} AS saved_usd
FROM {{usage}}
GROUP BY ${keys}
ORDER BY cost_usd DESC, ${dimensions.join(', ')}`;
}

/** Fills the placeholders; every one must be given, so a query never runs half-rendered. */
export function renderQuery(sql: string, values: Readonly<Record<string, string>>): string {
  const missing = new Set<string>();
  const out = sql.replace(/\{\{([a-z_]+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) missing.add(key);
    return v ?? '';
  });
  if (missing.size) throw new Error(`renderQuery: no value for ${[...missing].join(', ')}`);
  return out;
}
