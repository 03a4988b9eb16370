import { App, Duration, Stack } from 'aws-cdk-lib';
import { GatewayConfig, LlmGateway } from '../../../lib';
import { BEDROCK_CONSTRUCT_CONFIG } from '../../support/config';
import { PowertoolsAlertSink, PowertoolsUsageSink } from '../../../lambda/adapters/powertools-usage-sink';

const config = GatewayConfig.fromObject(BEDROCK_CONSTRUCT_CONFIG);

function gateway(): { gateway: LlmGateway; stack: Stack } {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
  return { gateway: new LlmGateway(stack, 'Gateway', { config }), stack };
}

/**
 * The EMF the router's sinks actually emit for one record and one alert (Powertools Metrics, captured from stdout):
 * each metric name with the dimension sets it is published under.
 */
function emitted(): Map<string, Set<string>> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Logger } = require('@aws-lambda-powertools/logger') as typeof import('@aws-lambda-powertools/logger');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Metrics } = require('@aws-lambda-powertools/metrics') as typeof import('@aws-lambda-powertools/metrics');
    const metrics = () => new Metrics({ namespace: 'LlmFinOps', serviceName: 'llm-finops-router' });
    const record = {
      status: 200, tier: 'small', model: 'nova-lite', cache: 'miss', cache_error: false, quota_action: 'none', latency_ms: 10, overhead_ms: 2,
      cost_usd: 0.001, baseline_cost_usd: 0.01, input_tokens: 10, output_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0,
    };
    new PowertoolsUsageSink(new Logger({ serviceName: 'x', logLevel: 'SILENT' }), metrics()).write(record as never);
    new PowertoolsAlertSink(new Logger({ serviceName: 'x', logLevel: 'SILENT' }), metrics()).publish({ type: 'quota_spike' } as never);
  } finally {
    spy.mockRestore();
  }
  const out = new Map<string, Set<string>>();
  for (const line of lines.join('').split('\n').filter((l) => l.includes('"_aws"'))) {
    const emf = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] } };
    for (const d of emf._aws.CloudWatchMetrics) {
      for (const m of d.Metrics) for (const dims of d.Dimensions) (out.get(m.Name) ?? out.set(m.Name, new Set()).get(m.Name)!).add([...dims].sort().join(','));
    }
  }
  return out;
}

describe('the gateway metrics factory', () => {
  it('names exactly the metrics and dimension sets the router publishes', () => {
    const published = emitted();
    const { gateway: g } = gateway();
    const asked = [
      g.metricSpendUsd(), g.metricSpendUsd({ tier: 'small', model: 'nova-lite' }), g.metricBaselineSpendUsd(), g.metricRequests({ tier: 'small', model: 'nova-lite' }),
      g.metricCacheHits(), g.metricQuotaRejections(), g.metricQuotaDowngrades(), g.metricOverheadMs(), g.metricQuotaAlerts('quota_spike'),
      g.metric('InputTokens', { tier: 'small', model: 'nova-lite' }), g.metric('LatencyMs', { statistic: 'p50' }),
    ];
    for (const m of asked) {
      expect(m.namespace).toBe('LlmFinOps');
      expect(published.get(m.metricName)).toContain(Object.keys(m.dimensions!).sort().join(','));
    }
  });

  it('defaults to Sum over 5 minutes (p99 for the overhead), and keeps the options given', () => {
    const { gateway: g } = gateway();
    expect(g.metricSpendUsd()).toMatchObject({ metricName: 'CostUsd', statistic: 'Sum', dimensions: { service: 'llm-finops-router' } });
    expect(g.metricSpendUsd().period.toMinutes()).toBe(5);
    expect(g.metricOverheadMs().statistic).toBe('p99');
    expect(g.metricSpendUsd({ period: Duration.hours(1), label: 'spend', tier: 'large', model: 'claude-sonnet-4.5' })).toMatchObject({
      label: 'spend', dimensions: { service: 'llm-finops-router', Tier: 'large', Model: 'claude-sonnet-4.5' },
    });
    expect(g.metricQuotaAlerts('quota_forecast').dimensions).toEqual({ service: 'llm-finops-router', AlertType: 'quota_forecast' });
  });

  it.each([
    ['a name the router does not publish', () => gateway().gateway.metric('Spend'), "gateway metric 'Spend': the router publishes Requests, CostUsd"],
    ['a tier without its model', () => gateway().gateway.metricSpendUsd({ tier: 'small' }), 'give tier and model together'],
    ['a split published only in total', () => gateway().gateway.metricQuotaDowngrades({ tier: 'small', model: 'nova-lite' } as never), 'published gateway-wide only, not per tier and model'],
    ['the token counts without their split', () => gateway().gateway.metric('OutputTokens'), 'published per tier and model only'],
    ['alerts without a type', () => gateway().gateway.metric('QuotaAlerts'), 'use metricQuotaAlerts(type)'],
    ['an unknown alert type', () => gateway().gateway.metricQuotaAlerts('quota_overdraft'), "alert type 'quota_overdraft' is not one of quota_threshold"],
  ])('refuses %s', (_, make, message) => {
    expect(make).toThrow(message);
  });
});
