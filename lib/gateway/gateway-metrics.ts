import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { ALERT_TYPE_DIMENSION, GATEWAY_METRICS, METRICS_NAMESPACE, QUOTA_ALERT_TYPES, ROUTER_SERVICE } from '../../lambda/contract';

/**
 * Options of the gateway's own metrics: CloudWatch's, plus the tier and model a metric is split by. The router
 * publishes each metric gateway-wide (dimension `service`) and most also per tier and model (`service`, `Tier`,
 * `Model`; see PowertoolsUsageSink): give both or neither. There is no tenant or feature dimension, on
 * purpose (a metric per tenant costs $0.30 a month each and grows with every tenant): spend by tenant, feature, team
 * or user is in the usage records (Logs Insights, `llm-finops report`, the Athena queries).
 */
export interface GatewayMetricOptions extends cloudwatch.MetricOptions {
  /** The routing tier (with `model`). */
  readonly tier?: string;
  /** The model id (with `tier`). */
  readonly model?: string;
}

/** Metrics published per tier and model (as well as in total, but for the token counts). */
const BY_TIER_AND_MODEL: ReadonlySet<string> = new Set([
  GATEWAY_METRICS.requests, GATEWAY_METRICS.costUsd, GATEWAY_METRICS.baselineCostUsd, GATEWAY_METRICS.cacheHits, GATEWAY_METRICS.cacheErrors,
  GATEWAY_METRICS.quotaRejections, GATEWAY_METRICS.upstreamErrors, GATEWAY_METRICS.overheadMs, GATEWAY_METRICS.inputTokens, GATEWAY_METRICS.outputTokens,
]);
/** Metrics published only per tier and model. */
const ONLY_BY_TIER_AND_MODEL: ReadonlySet<string> = new Set([GATEWAY_METRICS.inputTokens, GATEWAY_METRICS.outputTokens]);

/**
 * One of the router's EMF metrics (namespace LlmFinOps), gateway-wide or for one tier and model; `Sum` over 5
 * minutes unless the options say otherwise. Refuses a name the router does not publish, a tier without a model (or
 * the reverse), and a split the router does not publish for that metric.
 */
export function gatewayMetric(metricName: string, options: GatewayMetricOptions = {}): cloudwatch.Metric {
  const known: readonly string[] = Object.values(GATEWAY_METRICS).filter((m) => m !== GATEWAY_METRICS.quotaAlerts);
  if (metricName === GATEWAY_METRICS.quotaAlerts) throw new Error(`gateway metric ${metricName}: published per alert type only; use metricQuotaAlerts(type)`);
  if (!known.includes(metricName)) throw new Error(`gateway metric '${metricName}': the router publishes ${known.join(', ')}`);
  const { tier, model, dimensionsMap, ...rest } = options;
  if ((tier === undefined) !== (model === undefined)) throw new Error(`gateway metric ${metricName}: give tier and model together (the router publishes them as one split)`);
  const split = tier !== undefined;
  if (split && !BY_TIER_AND_MODEL.has(metricName)) throw new Error(`gateway metric ${metricName}: published gateway-wide only, not per tier and model`);
  if (!split && ONLY_BY_TIER_AND_MODEL.has(metricName)) throw new Error(`gateway metric ${metricName}: published per tier and model only; give tier and model`);
  return routerMetric(metricName, { ...dimensionsMap, ...(split ? { Tier: tier!, Model: model! } : {}) }, rest);
}

/** Budget alerts of one type published (Sum over 5 minutes unless the options say otherwise). */
export function gatewayAlertMetric(alertType: string, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  if (!(QUOTA_ALERT_TYPES as readonly string[]).includes(alertType)) throw new Error(`gateway metric QuotaAlerts: alert type '${alertType}' is not one of ${QUOTA_ALERT_TYPES.join(', ')}`);
  const { dimensionsMap, ...rest } = options;
  return routerMetric(GATEWAY_METRICS.quotaAlerts, { ...dimensionsMap, [ALERT_TYPE_DIMENSION]: alertType }, rest);
}

/** One of the router's metrics in its namespace, under its service dimension and `dimensions`: Sum unless `options` say. */
function routerMetric(metricName: string, dimensions: Record<string, string>, options: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ statistic: 'Sum', ...options, namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { ...dimensions, service: ROUTER_SERVICE } });
}
