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

  it('flex and batch: the features that may wait at the Flex price or the batch price, the others at baseline (hand-computed); run only when asked', async () => {
    const cfg = testConfig('http://127.0.0.1:1/v1');
    const bigPrice = { inputPerMTok: 10, outputPerMTok: 30, cacheReadPerMTok: 1, serviceTiers: { flex: { inputPerMTok: 6, outputPerMTok: 18 } } };
    const withFlex = { ...cfg, models: cfg.models!.map((m) => (m.id === 'big' ? { ...m, price: bigPrice } : m)) };
    const deps = () => ({ quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(), alerts: new MemoryAlertSink(), clock: new FakeClock(), ids: new SeqIds(), sha256 });
    const report = await replay(withFlex, rows, deps, undefined, { waitFeatures: ['code'] });
    // globex/code at Flex on big ($6/$18): 1000x6 + 200x18 = 9,600 micros; acme/chat at baseline 1,300 twice: 12,200.
    expect(report.scenarios.flex).toMatchObject({ cost_usd: 0.0122, saving: 0.3441, flex_requests: 1 });
    // batch, no batch row: half of $10/$30 = $5/$15: 1000x5 + 200x15 = 8,000 micros, + 2,600 = 10,600, the price derived.
    expect(report.scenarios.batch).toMatchObject({ cost_usd: 0.0106, saving: 0.4301, batch_requests: 1, batch_price_derived: true, quality: 1 });
    expect(report.wait_features).toEqual({ features: ['code'], requests: 1 });

    // A batch row of its own wins: $4/$12 -> 4,000 + 2,400 = 6,400, + 2,600 = 9,000.
    const withBatch = { ...cfg, models: cfg.models!.map((m) => (m.id === 'big' ? { ...m, price: { ...bigPrice, batch: { inputPerMTok: 4, outputPerMTok: 12 } } } : m)) };
    expect((await replay(withBatch, rows, deps, undefined, { waitFeatures: ['code'] })).scenarios.batch).toMatchObject({ cost_usd: 0.009, batch_price_derived: false });

    const plain = await replay(withFlex, rows, deps);
    expect(plain.scenarios.flex).toBeUndefined();
    expect(plain.scenarios.batch).toBeUndefined();
    expect(plain.wait_features).toBeUndefined();
  });

  it('estimates tokens for rows without recorded counts', async () => {
    const report = await replay(testConfig('http://127.0.0.1:1/v1'), [{ messages: [{ role: 'user', content: 'a question of some length' }], max_tokens: 50 }], () => ({
      quota: new MemoryQuotaStore(), alerts: new MemoryAlertSink(), clock: new FakeClock(), ids: new SeqIds(), sha256,
    }));
    expect(report.rows_with_estimated_tokens).toBe(1);
    expect(report.scenarios.baseline.cost_usd).toBeGreaterThan(50 * 30 / 1e6);
  });
});

describe('replay: the provider prompt-caching lever', () => {
  const long = 'policy '.repeat(629); // a 4,403-character system prompt: 1,475 tokens with its message overhead
  const base = {
    providers: [{ type: 'bedrock' as const, id: 'br', region: 'us-east-1' }],
    // USD per 1M: input 10, output 30, cache write 12.5, cache read 1; cache points from 1,024 tokens.
    models: [{ id: 'big', provider: 'br', upstreamModel: 'claude-like', price: { inputPerMTok: 10, outputPerMTok: 30, cacheWritePerMTok: 12.5, cacheReadPerMTok: 1 }, promptCache: { minTokens: 1024, maxPoints: 4, ttl1h: false } }],
    tiers: [{ name: 't', models: ['big'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'big' },
  };
  const deps = () => ({ quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(), alerts: new MemoryAlertSink(), clock: new FakeClock(), ids: new SeqIds(), sha256 });
  const row = (q: string, ts?: string): TraceRow => ({ messages: [{ role: 'system', content: long }, { role: 'user', content: q }], ...(ts ? { ts } : {}) });

  it('on repeated long system prompts: the first request writes the prefix, the next read it (hand-computed)', async () => {
    const report = await replay(base, [row('question 1'), row('question 2'), row('question 3')], deps);
    // Each request: 1,483 input tokens (1,475 of them the system prefix) and 300 output tokens (the default).
    // baseline: 3 x (1,483 x $10 + 300 x $30) per M = 3 x $0.02383 = $0.07149.
    expect(report.scenarios.baseline.cost_usd).toBe(0.07149);
    // prompt caching: 8 x $10 + 1,475 x $12.5 + 300 x $30 = $0.0275175 (recorded as $0.027518), then twice
    // 8 x $10 + 1,475 x $1 + 300 x $30 = $0.010555: $0.048628, 31.98% less.
    expect(report.scenarios['prompt-caching']).toMatchObject({ cost_usd: 0.048628, saving: 0.3198 });
    expect(report.scenarios.all.cost_usd).toBe(0.048628);
  });

  it('a prefix not reused within the 5-minute TTL is written again; a prompt below the minimum is never cached', async () => {
    const spaced = await replay(base, [row('question 1', '2026-12-01T10:00:00Z'), row('question 2', '2026-12-01T10:06:00Z')], deps);
    // Two writes: 2 x (8 x $10 + 1,475 x $12.5 + 300 x $30) = 2 x $0.0275175, each rounded to a whole micro-dollar
    // ($0.027518): $0.055036, dearer than the baseline's $0.04766.
    expect(spaced.scenarios['prompt-caching'].cost_usd).toBe(0.055036);
    expect(spaced.scenarios.baseline.cost_usd).toBe(0.04766);
    const short = await replay(base, [{ messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'q' }] }, { messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'q2' }] }], deps);
    expect(short.scenarios['prompt-caching'].cost_usd).toBe(short.scenarios.baseline.cost_usd);
  });
});
