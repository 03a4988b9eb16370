import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { GATEWAY_METRICS as M, METRICS_NAMESPACE, QUOTA_ALERT_TYPES } from '../../lambda/contract';
import type { ILlmGateway } from '../gateway/llm-gateway-base';

/** Thresholds of the gateway alarms; leave one out to keep its default, set it to 0 to drop that alarm. */
export interface GatewayAlarmThresholds {
  /**
   * Gateway spend in USD per hour (sum of the usage records' cost) above which the spend-rate alarm fires.
   * @default - no spend-rate alarm (BudgetGuard's platform wiring sets 4x the budget's average hourly rate)
   */
  readonly spendPerHourUsd?: number;

  /**
   * Requests refused by quotas (429) in 5 minutes.
   * @default 25
   */
  readonly quotaRejectionsPer5Min?: number;

  /**
   * Share of requests that failed upstream (5xx after fallbacks), percent over 5 minutes, 3 periods in a row.
   * @default 5
   */
  readonly upstreamErrorPercent?: number;

  /**
   * Cache backend errors (the cache failed open) in 5 minutes, 3 periods in a row.
   * @default 1
   */
  readonly cacheErrorsPer5Min?: number;

  /**
   * p99 of the gateway's own overhead (latency minus upstream time), milliseconds, 3 periods of 5 minutes.
   * @default 250
   */
  readonly overheadP99Ms?: number;

  /**
   * Budget forecast alerts (a USD limit runs out before its window resets at the recent rate) in 5 minutes.
   * @default 1
   */
  readonly budgetForecastAlertsPer5Min?: number;

  /**
   * Spend spike alerts (a scope's hourly rate past quota.forecast.spikeFactor x its trailing average) in 5 minutes.
   * @default 1
   */
  readonly spendSpikeAlertsPer5Min?: number;
}

export interface CostDashboardProps {
  /**
   * The gateway to watch: its router's EMF metrics and usage log, and its API's latency and errors. A gateway of
   * another stack or app: `LlmGateway.fromLlmGatewayAttributes`.
   */
  readonly gateway: ILlmGateway;

  /**
   * Topic the alarms notify (ALARM and OK).
   * @default - alarms without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /** @default - see GatewayAlarmThresholds */
  readonly alarms?: GatewayAlarmThresholds;

  /**
   * SageMaker endpoint names whose utilisation and invocations get widgets.
   * @default - none
   */
  readonly sageMakerEndpointNames?: string[];

  /**
   * Name of the dashboard.
   * @default - generated
   */
  readonly dashboardName?: string;

  /**
   * Default time range of the dashboard, e.g. '-PT24H' or '-P7D'.
   * @default '-P7D'
   */
  readonly start?: string;
}

const HOUR = Duration.hours(1);
const FIVE_MIN = Duration.minutes(5);

/**
 * The FinOps view of the gateway on one CloudWatch dashboard, plus its alarms. Per-tenant and per-feature views come
 * from the usage records through Logs Insights widgets (tenant ids are never metric dimensions: every combination
 * would be a billed custom metric); per tier and model from the router's EMF metrics; Bedrock and SageMaker from
 * their own namespaces.
 */
export class CostDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** The alarms by name: spendRate, quotaRejections, upstreamErrors, cacheErrors, overheadP99, budgetForecast, spendSpike. */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  /** The watched gateway: its router's metrics and usage log, and its API's. */
  private readonly gateway: ILlmGateway;

  constructor(scope: Construct, id: string, props: CostDashboardProps) {
    super(scope, id);
    validate(props.alarms ?? {});
    this.gateway = props.gateway;
    this.dashboard = new cloudwatch.Dashboard(this, 'Resource', {
      dashboardName: props.dashboardName,
      start: props.start ?? '-P7D',
    });
    this.addSpendRow();
    this.addTrafficRows();
    this.addUsageRows();
    this.addGovernanceRows();
    this.addProviderRows(props.sageMakerEndpointNames ?? []);
    this.addAlarms(props.alarms ?? {}, props.alarmTopic);
  }

  /** Spend by tier and model, and what cache and routing saved against the baseline model. */
  private addSpendRow(): void {
    this.dashboard.addWidgets(new cloudwatch.TextWidget({
      markdown: '# LLM spend\nGateway spend per hour by tier and model (EMF, dimension-free totals for alarms), what cache and routing saved against always calling the baseline model, and who spent it (usage records, Logs Insights). External providers\' spend is only here and in the usage log: AWS Budgets and CUR see AWS spend only.',
      width: 24,
      height: 2,
    }));
    const cost = this.total(M.costUsd, 'Sum', HOUR, 'spend');
    const baseline = this.total(M.baselineCostUsd, 'Sum', HOUR, 'baseline');
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Spend per hour by tier and model (USD)', left: [this.byTierModel(M.costUsd, 'Sum', '')], stacked: true, width: 12, height: 6, period: HOUR }),
      new cloudwatch.GraphWidget({
        title: 'Cost saved by cache and routing (USD per hour)',
        left: [cost, new cloudwatch.MathExpression({ expression: 'baseline - spend', usingMetrics: { baseline, spend: cost }, label: 'saved vs baseline model', period: HOUR })],
        width: 12,
        height: 6,
      }),
    );
  }

  /** Cache hits, routing mix, quota actions; latency, overhead and errors. */
  private addTrafficRows(): void {
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Cache hit ratio (%)',
        left: [new cloudwatch.MathExpression({ expression: '100 * hits / IF(requests > 0, requests, 1)', usingMetrics: { hits: this.total(M.cacheHits, 'Sum', FIVE_MIN), requests: this.requestsPer5Min() }, label: 'hit ratio', period: FIVE_MIN })],
        leftYAxis: { min: 0, max: 100 },
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({ title: 'Routing mix: requests by tier and model', left: [this.byTierModel(M.requests, 'Sum', '')], stacked: true, width: 8, height: 6, period: HOUR }),
      new cloudwatch.GraphWidget({
        title: 'Quota rejections, downgrades and brownouts',
        left: [
          this.total(M.quotaRejections, 'Sum', FIVE_MIN, 'rejected (429)'), this.total(M.quotaDowngrades, 'Sum', FIVE_MIN, 'downgraded (incl. kill switch, brownout)'),
          this.total(M.quotaBrownouts, 'Sum', FIVE_MIN, 'brownout stage (downgraded or throttled)'),
        ],
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Latency and gateway overhead (ms)',
        left: [
          this.total(M.latencyMs, 'p50', FIVE_MIN, 'latency p50'), this.total(M.latencyMs, 'p99', FIVE_MIN, 'latency p99'),
          this.total(M.overheadMs, 'p50', FIVE_MIN, 'overhead p50'), this.total(M.overheadMs, 'p99', FIVE_MIN, 'overhead p99'),
        ],
        right: [this.gateway.metricLatency({ statistic: 'p99', period: FIVE_MIN, label: 'API Gateway p99' })],
        width: 12,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors: upstream 5xx, cache backend, API 5xx',
        left: [this.total(M.upstreamErrors, 'Sum', FIVE_MIN, 'upstream errors'), this.total(M.cacheErrors, 'Sum', FIVE_MIN, 'cache errors (failed open)'), this.gateway.metricServerErrors({ period: FIVE_MIN, statistic: 'Sum', label: 'API 5xx' })],
        width: 12,
        height: 6,
      }),
    );
  }

  /** Who spent it and what each lever saved, from the usage records (Logs Insights). */
  private addUsageRows(): void {
    this.dashboard.addWidgets(
      this.insights('Top tenants by spend', [
        'filter _type = "llm_usage"',
        'stats sum(cost_usd) as spend_usd, sum(baseline_cost_usd) - sum(cost_usd) as saved_usd, count(*) as requests by tenant',
        'sort spend_usd desc',
        'limit 20',
      ]),
      this.insights('Top features by spend', [
        'filter _type = "llm_usage"',
        'stats sum(cost_usd) as spend_usd, count(*) as requests, sum(input_tokens + output_tokens) as tokens by tenant, feature',
        'sort spend_usd desc',
        'limit 20',
      ]),
    );
    // What each lever saved (the records' savings, micro-dollars): over the dashboard's range, by tenant.
    this.dashboard.addWidgets(this.insights('Saved by lever (USD, per tenant, over the time range)', [
      'filter _type = "llm_usage" and ispresent(savings.routing)',
      `stats ${['cache', 'routing', 'cascade', 'context', 'prompt_cache', 'failed_attempts'].map((l) => `sum(savings.${l}) / 1e6 as ${l}_usd`).join(', ')}, (sum(baseline_cost_micros) - sum(cost_micros)) / 1e6 as saved_usd by tenant`,
      'sort saved_usd desc',
      'limit 20',
    ], 24));
  }

  /** Governance: how fast each scope spends, which budgets run out early, and where brownout stages act. */
  private addGovernanceRows(): void {
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Budget alerts by type (threshold, forecast, spike, brownout)',
        left: QUOTA_ALERT_TYPES.map((type) => this.alertsOf(type, HOUR).with({ label: type })),
        stacked: true,
        width: 8,
        height: 6,
      }),
      this.insights('Spend rate per tenant (USD per hour)', [
        'filter _type = "llm_usage"',
        'stats sum(cost_usd) as usd_per_hour, count(*) as requests by tenant, bin(1h) as hour',
        'sort hour desc, usd_per_hour desc',
        'limit 50',
      ], 8),
      this.insights('Runway, spikes and brownout stages (budget alerts)', [
        'filter _type = "llm_alert"',
        'fields ts, type, stage, tenant, scope, policy.id as policy, policy.value as value, window, period, exhaustsAt as runs_out_at, ratePerHour / 1e6 as usd_per_hour, committed, limit',
        'sort ts desc',
        'limit 50',
      ], 8),
    );
    this.dashboard.addWidgets(
      this.insights('Brownout stages by tenant and policy (requests)', [
        'filter _type = "llm_usage" and quota_action like /^brownout_/',
        'stats count(*) as requests, sum(cost_usd) as spend_usd by tenant, feature, quota_action',
        'sort requests desc',
        'limit 20',
      ], 24),
    );
  }

  /** Bedrock's own metrics by model, and each named SageMaker endpoint's utilisation. */
  private addProviderRows(sageMakerEndpointNames: string[]): void {
    const bedrock = (metric: string, statistic: string): cloudwatch.MathExpression => new cloudwatch.MathExpression({
      expression: `SEARCH('{AWS/Bedrock,ModelId} MetricName="${metric}"', '${statistic}', 3600)`,
      label: '',
      period: HOUR,
      usingMetrics: {},
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Bedrock tokens per hour by model (AWS/Bedrock)', left: [bedrock('InputTokenCount', 'Sum'), bedrock('OutputTokenCount', 'Sum')], width: 12, height: 6, period: HOUR }),
      new cloudwatch.GraphWidget({ title: 'Bedrock invocations, throttles and latency by model', left: [bedrock('Invocations', 'Sum'), bedrock('InvocationThrottles', 'Sum')], right: [bedrock('InvocationLatency', 'Average')], width: 12, height: 6, period: HOUR }),
    );
    for (const name of sageMakerEndpointNames) {
      const sm = (namespace: string, metric: string, statistic: string): cloudwatch.MathExpression => new cloudwatch.MathExpression({
        expression: `SEARCH('{${namespace},EndpointName,VariantName} EndpointName="${name}" MetricName="${metric}"', '${statistic}', 300)`,
        label: '',
        period: FIVE_MIN,
        usingMetrics: {},
      });
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `SageMaker ${name}: utilisation (%)`, left: [sm('/aws/sagemaker/Endpoints', 'CPUUtilization', 'Average'), sm('/aws/sagemaker/Endpoints', 'GPUUtilization', 'Average'), sm('/aws/sagemaker/Endpoints', 'GPUMemoryUtilization', 'Average')], width: 12, height: 6 }),
        new cloudwatch.GraphWidget({ title: `SageMaker ${name}: invocations and instances`, left: [sm('AWS/SageMaker', 'Invocations', 'Sum'), sm('AWS/SageMaker', 'Invocation5XXErrors', 'Sum')], right: [sm('/aws/sagemaker/Endpoints', 'CPUUtilization', 'SampleCount')], width: 12, height: 6 }),
      );
    }

  }

  /** Alarms on the dimension-free totals (a percentile cannot be recombined from per-model series), and their widget. */
  private addAlarms(t: GatewayAlarmThresholds, alarmTopic?: sns.ITopic): void {
    const region = Stack.of(this).region;
    const alarm = (key: string, description: string, metric: cloudwatch.IMetric, threshold: number, evaluationPeriods: number, atLeast = false): void => {
      if (threshold === 0) return;
      const a = new cloudwatch.Alarm(this, `${key[0].toUpperCase()}${key.slice(1)}Alarm`, {
        alarmDescription: `${description} (region ${region})`,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: atLeast ? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD : cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (alarmTopic) {
        a.addAlarmAction(new cwActions.SnsAction(alarmTopic));
        a.addOkAction(new cwActions.SnsAction(alarmTopic));
      }
      this.alarms[key] = a;
    };
    if (t.spendPerHourUsd !== undefined) alarm('spendRate', `Gateway spend above $${t.spendPerHourUsd}/hour`, this.total(M.costUsd, 'Sum', HOUR), t.spendPerHourUsd, 1);
    alarm('quotaRejections', 'Many requests refused by quotas: a tenant at its limit or a runaway client', this.total(M.quotaRejections, 'Sum', FIVE_MIN), t.quotaRejectionsPer5Min ?? 25, 1);
    alarm('upstreamErrors', 'Upstream errors after fallbacks above the threshold share of requests', new cloudwatch.MathExpression({
      expression: '100 * errors / IF(requests > 0, requests, 1)',
      usingMetrics: { errors: this.total(M.upstreamErrors, 'Sum', FIVE_MIN), requests: this.requestsPer5Min() },
      label: 'upstream error %',
      period: FIVE_MIN,
    }), t.upstreamErrorPercent ?? 5, 3);
    alarm('cacheErrors', 'The cache backend is failing (the gateway fails open: answers cost full price)', this.total(M.cacheErrors, 'Sum', FIVE_MIN), t.cacheErrorsPer5Min ?? 1, 3, true);
    alarm('overheadP99', 'Gateway overhead p99 above the threshold', this.total(M.overheadMs, 'p99', FIVE_MIN), t.overheadP99Ms ?? 250, 3);
    alarm('budgetForecast', 'A USD budget runs out before its window resets at the recent spend rate (quota_forecast alert: see the alert table for which)', this.alertsOf('quota_forecast'), t.budgetForecastAlertsPer5Min ?? 1, 1, true);
    alarm('spendSpike', 'A scope spends past spikeFactor x its trailing hourly average (quota_spike alert): a loop or a new workload', this.alertsOf('quota_spike'), t.spendSpikeAlertsPer5Min ?? 1, 1, true);
    if (!Object.keys(this.alarms).length) return;
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 3 }));
  }

  /** One of the router's gateway-wide metrics. */
  private total(name: string, statistic: string, period: Duration = HOUR, label?: string): cloudwatch.Metric {
    return this.gateway.metric(name, { statistic, period, label });
  }

  /** Requests per 5 minutes: the denominator of the hit ratio and of the upstream error share. */
  private requestsPer5Min(): cloudwatch.Metric {
    return this.total(M.requests, 'Sum', FIVE_MIN, 'requests');
  }

  /** A router metric split by tier and model (SEARCH over the EMF dimensions). */
  private byTierModel(name: string, statistic: string, label: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},Model,Tier,service} MetricName="${name}"', '${statistic}', 3600)`,
      label,
      period: HOUR,
      usingMetrics: {},
    });
  }

  /** A Logs Insights table over the router's usage log. */
  private insights(title: string, query: string[], width = 12): cloudwatch.LogQueryWidget {
    return new cloudwatch.LogQueryWidget({ title, logGroupNames: [this.gateway.routerLogGroup.logGroupName], queryLines: query, width, height: 6, view: cloudwatch.LogQueryVisualizationType.TABLE });
  }

  /** Budget alerts of one type published. */
  private alertsOf(type: string, period = FIVE_MIN): cloudwatch.Metric {
    return this.gateway.metricQuotaAlerts(type, { period });
  }
}

function validate(t: GatewayAlarmThresholds): void {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(t)) if (v !== undefined && !(Number.isFinite(v) && v >= 0)) problems.push(`alarms.${k}: expected a number >= 0, got ${v}`);
  if (t.upstreamErrorPercent !== undefined && t.upstreamErrorPercent > 100) problems.push(`alarms.upstreamErrorPercent: a percent, got ${t.upstreamErrorPercent}`);
  if (problems.length) throw new Error(`Invalid CostDashboard props:\n  - ${problems.join('\n  - ')}`);
}
