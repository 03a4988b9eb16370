import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PowertoolsAlertSink, PowertoolsUsageSink } from '../../../lambda/adapters/powertools-usage-sink';
import type { UsageRecord } from '../../../lambda/core/usage';

const record = {
  ts: '2026-11-29T00:00:00.000Z', request_id: 'r1', tenant: 'acme', feature: 'chat', team: 'platform', provider: 'bedrock',
  model: 'nova-lite', tier: 'small', route_reason: 'heuristic', cache: 'hit-semantic', stream: false, input_tokens: 100,
  output_tokens: 20, cache_read_tokens: 5, cache_write_tokens: 0, cost_usd: 0.00002, cost_micros: 20, baseline_cost_usd: 0.0009,
  baseline_cost_micros: 900, cost_basis: 'none', usage_estimated: false, attempts: 0, latency_ms: 3, upstream_ms: 0, overhead_ms: 3,
  status: 200, error_type: null, cache_error: null, quota_action: 'none', context_tokens_saved: 0, context_saved_usd: 0,
  embedding_tokens: 40, cache_score: 0.97, cascade: null,
} as UsageRecord;

describe('PowertoolsUsageSink', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    jest.spyOn(console, 'log').mockImplementation((s) => void lines.push(String(s)));
    jest.spyOn(console, 'info').mockImplementation((s) => void lines.push(String(s)));
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
  });
  afterEach(() => jest.restoreAllMocks());

  it('writes one structured usage line, one EMF line of gateway totals and one by tier and model, never by tenant', () => {
    const sink = new PowertoolsUsageSink(new Logger({ serviceName: 'llm-finops-router' }), new Metrics({ namespace: 'LlmFinOps', serviceName: 'llm-finops-router' }));
    sink.write(record);
    const json = lines.join('\n').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
    const usage = json.find((j) => j._type === 'llm_usage');
    expect(usage).toMatchObject({ message: 'llm_usage', tenant: 'acme', cost_micros: 20, cache: 'hit-semantic', service: 'llm-finops-router' });
    const [totals, emf, ...rest] = json.filter((j) => j._aws);
    expect(rest).toHaveLength(0);
    expect(totals._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'LlmFinOps', Dimensions: [['service']] });
    expect(totals).toMatchObject({ service: 'llm-finops-router', Requests: 1, CostUsd: 0.00002, CacheHits: 1, QuotaDowngrades: 0, LatencyMs: 3, OverheadMs: 3 });
    expect(totals.Tier).toBeUndefined();
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'LlmFinOps', Dimensions: [expect.arrayContaining(['Tier', 'Model'])] });
    expect(emf._aws.CloudWatchMetrics[0].Dimensions[0]).not.toContain('tenant');
    expect(emf).toMatchObject({ Tier: 'small', Model: 'nova-lite', Requests: 1, CostUsd: 0.00002, CacheHits: 1, InputTokens: 105, QuotaRejections: 0 });
  });

  it('records each budget alert as one warning line and one count by alert type, its dimension kept off the usage metrics', () => {
    const metrics = () => new Metrics({ namespace: 'LlmFinOps', serviceName: 'llm-finops-router' });
    const alerts = new PowertoolsAlertSink(new Logger({ serviceName: 'llm-finops-router' }), metrics());
    alerts.publish({
      type: 'quota_spike', tenant: 'acme', feature: null, scope: 'tenant', unit: 'usd', window: 'hour', period: '2026-12-06T10',
      counter: 'tenant#acme#usd#2026-12-06T10', threshold: 3, committed: 12_000, limit: 1_000_000_000, ratePerHour: 16_364, trailingPerHour: 2_000, ts: '2026-12-06T10:44:00.000Z',
    });
    new PowertoolsUsageSink(new Logger({ serviceName: 'llm-finops-router' }), metrics()).write({ ...record, quota_action: 'brownout_throttled' });
    const json = lines.join('\n').split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
    expect(json.find((j) => j._type === 'llm_alert')).toMatchObject({ level: 'WARN', type: 'quota_spike', tenant: 'acme', ratePerHour: 16_364 });
    const [alert, totals] = json.filter((j) => j._aws);
    expect(alert._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['service', 'AlertType']));
    expect(alert).toMatchObject({ AlertType: 'quota_spike', QuotaAlerts: 1 });
    expect(totals).toMatchObject({ QuotaBrownouts: 1, QuotaDowngrades: 0 });
    expect(totals.AlertType).toBeUndefined();
  });
});
