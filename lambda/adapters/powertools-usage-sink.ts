import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ALERT_TYPE_DIMENSION, GATEWAY_METRICS as M, type QUOTA_ALERT_TYPES } from '../contract';
import type { Alert, AlertSink, UsageSink } from '../core/ports';
import type { FeedbackRecord, UsageRecord } from '../core/usage';

/** The AlertType dimension's values, listed for the constructs in the contract, are exactly the core's alert types. */
type SameUnion<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const ALERT_TYPES_IN_SYNC: SameUnion<Alert['type'], (typeof QUOTA_ALERT_TYPES)[number]> = true;

/**
 * The Lambda's usage sink: each record as one structured Powertools log line (`_type: llm_usage`, for Logs
 * Insights and subscriptions) and two EMF lines of CloudWatch metrics: gateway-wide totals (dimension `service`
 * only; see GATEWAY_METRICS) and the same counts by tier and model. Never a tenant or feature
 * as a dimension: each combination would be a billed custom metric; per-tenant views come from the log lines.
 */
export class PowertoolsUsageSink implements UsageSink {
  constructor(private readonly logger: Logger, private readonly metrics: Metrics) {}

  write(r: UsageRecord): void {
    try {
      this.logger.info('llm_usage', { _type: 'llm_usage', ...r });
      // Gateway-wide totals (only the service dimension): what alarms and percentiles need, since a p99 cannot be
      // recombined from per-model p99s. Then the same counts by tier and model for the dashboard's breakdowns.
      this.addCounts(r);
      this.metrics.addMetric(M.quotaDowngrades, MetricUnit.Count, r.quota_action.includes('downgraded') ? 1 : 0);
      this.metrics.addMetric(M.quotaBrownouts, MetricUnit.Count, r.quota_action.startsWith('brownout_') ? 1 : 0);
      this.metrics.addMetric(M.latencyMs, MetricUnit.Milliseconds, r.latency_ms);
      this.metrics.publishStoredMetrics();
      this.metrics.addDimensions({ Tier: r.tier ?? 'none', Model: r.model ?? 'none' });
      this.addCounts(r);
      this.metrics.addMetric(M.inputTokens, MetricUnit.Count, r.input_tokens + r.cache_read_tokens + r.cache_write_tokens);
      this.metrics.addMetric(M.outputTokens, MetricUnit.Count, r.output_tokens);
      this.metrics.publishStoredMetrics();
    } catch (err) {
      process.stderr.write(`usage sink: ${(err as Error).message}\n`);
    }
  }

  private addCounts(r: UsageRecord): void {
    this.metrics.addMetric(M.requests, MetricUnit.Count, 1);
    this.metrics.addMetric(M.costUsd, MetricUnit.NoUnit, r.cost_usd);
    this.metrics.addMetric(M.baselineCostUsd, MetricUnit.NoUnit, r.baseline_cost_usd);
    this.metrics.addMetric(M.cacheHits, MetricUnit.Count, r.cache.startsWith('hit') ? 1 : 0);
    this.metrics.addMetric(M.cacheErrors, MetricUnit.Count, r.cache_error ? 1 : 0);
    this.metrics.addMetric(M.quotaRejections, MetricUnit.Count, r.status === 429 ? 1 : 0);
    this.metrics.addMetric(M.upstreamErrors, MetricUnit.Count, r.status >= 500 ? 1 : 0);
    this.metrics.addMetric(M.overheadMs, MetricUnit.Milliseconds, r.overhead_ms);
  }

  feedback(record: FeedbackRecord): void {
    this.logger.info('llm_feedback', { _type: 'llm_feedback', ...record });
  }
}

/**
 * The Lambda's record of each budget alert: one log line (`_type: llm_alert`, for the dashboard's alert table) and
 * one EMF count by alert type (GATEWAY_METRICS.quotaAlerts), which the dashboard graphs and alarms on. Its own
 * Metrics instance, so its dimension never leaks into the usage metrics. Delivery is the SNS sink's.
 */
export class PowertoolsAlertSink implements AlertSink {
  constructor(private readonly logger: Logger, private readonly metrics: Metrics) {}

  publish(alert: Alert): void {
    try {
      this.logger.warn('llm_alert', { _type: 'llm_alert', ...alert });
      this.metrics.addDimension(ALERT_TYPE_DIMENSION, alert.type);
      this.metrics.addMetric(M.quotaAlerts, MetricUnit.Count, 1);
      this.metrics.publishStoredMetrics();
    } catch (err) {
      process.stderr.write(`alert sink: ${(err as Error).message}\n`);
    }
  }
}
