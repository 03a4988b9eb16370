import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { UsageSink } from '../core/ports';
import type { FeedbackRecord, UsageRecord } from '../core/usage';

/**
 * The Lambda's usage sink: each record as one structured Powertools log line (`_type: llm_usage`, for Logs
 * Insights and subscriptions) and one EMF line of CloudWatch metrics by tier and model. Never a tenant or feature
 * as a dimension: each combination would be a billed custom metric; per-tenant views come from the log lines.
 */
export class PowertoolsUsageSink implements UsageSink {
  constructor(private readonly logger: Logger, private readonly metrics: Metrics) {}

  write(r: UsageRecord): void {
    try {
      this.logger.info('llm_usage', { _type: 'llm_usage', ...r });
      this.metrics.addDimensions({ Tier: r.tier ?? 'none', Model: r.model ?? 'none' });
      this.metrics.addMetric('Requests', MetricUnit.Count, 1);
      this.metrics.addMetric('CostUsd', MetricUnit.NoUnit, r.cost_usd);
      this.metrics.addMetric('BaselineCostUsd', MetricUnit.NoUnit, r.baseline_cost_usd);
      this.metrics.addMetric('InputTokens', MetricUnit.Count, r.input_tokens + r.cache_read_tokens + r.cache_write_tokens);
      this.metrics.addMetric('OutputTokens', MetricUnit.Count, r.output_tokens);
      this.metrics.addMetric('CacheHits', MetricUnit.Count, r.cache.startsWith('hit') ? 1 : 0);
      this.metrics.addMetric('CacheErrors', MetricUnit.Count, r.cache_error ? 1 : 0);
      this.metrics.addMetric('QuotaRejections', MetricUnit.Count, r.status === 429 ? 1 : 0);
      this.metrics.addMetric('UpstreamErrors', MetricUnit.Count, r.status >= 500 ? 1 : 0);
      this.metrics.addMetric('OverheadMs', MetricUnit.Milliseconds, r.overhead_ms);
      this.metrics.publishStoredMetrics();
    } catch (err) {
      process.stderr.write(`usage sink: ${(err as Error).message}\n`);
    }
  }

  feedback(record: FeedbackRecord): void {
    this.logger.info('llm_feedback', { _type: 'llm_feedback', ...record });
  }
}
