import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryExactCache } from '../../../../lambda/adapters/memory-exact-cache';
import { MemoryAlertSink } from '../../../../lambda/adapters/usage-sinks';
import { replay, type TraceRow } from '../../../../lambda/core/finops/replay';
import { FakeClock, SeqIds, sha256 } from '../../../support/fakes';
import { testConfig } from '../../../support/config';

const complex = 'Explain step by step why this Python function is slow, then refactor it and compare the trade-offs:\n```python\ndef f(n):\n    return sum(i*i for i in range(n))\n```';
const rows: TraceRow[] = [
  { tenant: 'acme', feature: 'chat', messages: [{ role: 'user', content: 'hi' }], input_tokens: 100, output_tokens: 10, outcomes: { 'small-a': 0, big: 1 } },
  { tenant: 'acme', feature: 'chat', messages: [{ role: 'user', content: 'hi' }], input_tokens: 100, output_tokens: 10, outcomes: { 'small-a': 0, big: 1 } },
  { tenant: 'globex', feature: 'code', messages: [{ role: 'user', content: complex }], input_tokens: 1000, output_tokens: 200, outcomes: { 'small-a': 0, big: 1 } },
];

describe('replay', () => {
  it('prices a tiny trace under each lever, with the quality proxy (hand-computed)', async () => {
    const report = await replay(testConfig('http://127.0.0.1:1/v1'), rows, () => ({
      quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(), alerts: new MemoryAlertSink(), clock: new FakeClock(), ids: new SeqIds(), sha256,
    }));
    // baseline, all on `big` ($10/$30 per M): 100x10 + 10x30 = 1,300 micros twice, 1000x10 + 200x30 = 16,000.
    expect(report.scenarios.baseline).toMatchObject({ cost_usd: 0.0186, saving: 0, cache_hits: 0, quality: 1, quality_rows: 3 });
    // caching: the repeated "hi" is free.
    expect(report.scenarios.caching).toMatchObject({ cost_usd: 0.0173, cache_hits: 1 });
    // routing: "hi" goes to small-a ($1/$2): 100 + 20 = 120 micros twice; the code question stays on big.
    expect(report.scenarios.routing).toMatchObject({ cost_usd: 0.01624, quality: 0.3333, by_model: { 'small-a': 0.00024, big: 0.016 } });
    // context: no documents to drop, so no change.
    expect(report.scenarios.context.cost_usd).toBe(0.0186);
    // all: routing plus the cache hit.
    expect(report.scenarios.all).toMatchObject({ cost_usd: 0.01612, cache_hits: 1, saving: 0.1333 });
    expect(report.by_tenant_feature).toEqual([
      { tenant: 'acme', feature: 'chat', requests: 2, baseline_usd: 0.0026, all_usd: 0.00012 },
      { tenant: 'globex', feature: 'code', requests: 1, baseline_usd: 0.016, all_usd: 0.016 },
    ]);
    expect(report.rows_with_estimated_tokens).toBe(0);
  });

  it('estimates tokens for rows without recorded counts', async () => {
    const report = await replay(testConfig('http://127.0.0.1:1/v1'), [{ messages: [{ role: 'user', content: 'a question of some length' }], max_tokens: 50 }], () => ({
      quota: new MemoryQuotaStore(), alerts: new MemoryAlertSink(), clock: new FakeClock(), ids: new SeqIds(), sha256,
    }));
    expect(report.rows_with_estimated_tokens).toBe(1);
    expect(report.scenarios.baseline.cost_usd).toBeGreaterThan(50 * 30 / 1e6);
  });
});
