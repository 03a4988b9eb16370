import { MemoryExactCache } from '../../../../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { Gateway, type GatewayResult } from '../../../../lambda/core/pipeline';
import type { UsageRecord } from '../../../../lambda/core/usage';
import { FakeClock, rng, ScriptedProvider, SeqIds, sha256, usage, type Step } from '../../../support/fakes';
import { testConfig } from '../../../support/config';

/** small-a $1/$2, small-b $2/$4, big $10/$30 per 1M (test/support/config.ts); the baseline model is big. */
function setup(overrides: Partial<GatewayConfigInput> = {}) {
  const clock = new FakeClock();
  const provider = new ScriptedProvider();
  const records = new MemoryUsageSink();
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
    tiers: [
      { name: 'small', models: ['small-a', 'small-b'] },
      { name: 'large', models: ['big', 'small-b'] },
      { name: 'casc', models: ['small-a', 'big'], mode: 'cascade' },
    ],
    ...overrides,
  }));
  const gateway = new Gateway({
    config, providers: new Map([['up', provider]]), quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(100, () => clock.now()),
    usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256,
  });
  const chat = (body: Record<string, unknown>, feature?: string, batch?: { id: string; customId: string }): Promise<GatewayResult> => {
    const text = JSON.stringify(body);
    return gateway.chat({ tenantId: 'acme', feature, body: text, bodyBytes: Buffer.byteLength(text), ...(batch ? { batch, cacheBypass: true } : {}) });
  };
  return { provider, records, chat };
}

const total = (s: NonNullable<UsageRecord['savings']>): number => Object.values(s).reduce((a, b) => a + b, 0);
const zero = { cache: 0, routing: 0, cascade: 0, context: 0, prompt_cache: 0, commitment: 0, batch: 0, failed_attempts: 0 };

describe('savings by lever (hand-computed)', () => {
  it('credits routing with the baseline model\'s price less the chosen model\'s, for the tokens used', async () => {
    const { provider, records, chat } = setup();
    provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
    await chat({ model: 'small-a', messages: [{ role: 'user', content: 'q' }] });
    // big: 1,000 x $10/M + 500 x $30/M = 25,000; small-a: 1,000 x $1/M + 500 x $2/M = 2,000.
    expect(records.records[0]).toMatchObject({ cost_micros: 2000, baseline_cost_micros: 25_000, savings: { ...zero, routing: 23_000 } });
  });

  it('prices a line of a batch at the batch rates (half of standard without a batch row) and credits the batch lever', async () => {
    const { provider, records, chat } = setup();
    provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
    const res = await chat({ model: 'small-a', messages: [{ role: 'user', content: 'q' }] }, 'evals', { id: 'batch_abc', customId: 'line-7' });
    expect(res.status).toBe(200);
    // small-a at batch: 1,000 x $0.50/M + 500 x $1/M = 1,000; standard 2,000; big (the baseline) 25,000.
    expect(records.records[0]).toMatchObject({
      api: 'batch', batch_id: 'batch_abc', batch_custom_id: 'line-7', feature: 'evals',
      cost_micros: 1000, baseline_cost_micros: 25_000, usage_flags: ['batch_price_derived'],
      savings: { ...zero, routing: 23_000, batch: 1000 },
    });
    expect(total(records.records[0].savings!)).toBe(25_000 - 1000);
  });

  it('reserves a batch line at the batch price: a budget that refuses the live request admits the line', async () => {
    // small-a, 1,000 output tokens reserved: ~$0.0020 at standard, ~$0.0010 at batch; acme may spend $0.0015 today.
    const { provider, records, chat } = setup({ tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.0015 } }] });
    provider.script('up-small-a', { ok: 'x', usage: usage(10, 10) });
    const body = { model: 'small-a', max_tokens: 1000, messages: [{ role: 'user', content: 'q' }] };
    expect((await chat(body)).status).toBe(429);
    expect((await chat(body, 'evals', { id: 'batch_1', customId: 'a' })).status).toBe(200);
    expect(records.records.map((r) => [r.api, r.status])).toEqual([['chat', 429], ['batch', 200]]);
  });

  it('leaves live requests unmarked: api chat, no batch id', async () => {
    const { records, chat } = setup();
    await chat({ model: 'small-a', messages: [{ role: 'user', content: 'q' }] });
    expect(records.records[0]).toMatchObject({ api: 'chat', batch_id: null, batch_custom_id: null, savings: { batch: 0 } });
  });

  it('credits a cache hit with what its model would charge now, and routing with the rest', async () => {
    const { provider, records, chat } = setup();
    provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
    for (let i = 0; i < 2; i++) await chat({ model: 'small-a', messages: [{ role: 'user', content: 'same' }], temperature: 0 });
    expect(records.records[1]).toMatchObject({ cache: 'hit-exact', cost_micros: 0, baseline_cost_micros: 25_000, savings: { ...zero, routing: 23_000, cache: 2000 } });
  });

  it('measures a cascade against its top model: an accepted cheap answer saves, a rejected try costs', async () => {
    const { provider, records, chat } = setup();
    provider.script('up-small-a', { ok: 'Fine answer.', usage: usage(100, 10) }, { ok: "I'm sorry, but I can't help with that.", usage: usage(100, 10) });
    provider.script('up-big', { ok: 'Here is the answer.', usage: usage(100, 50) });
    await chat({ model: 'casc', messages: [{ role: 'user', content: 'q1' }] });
    await chat({ model: 'casc', messages: [{ role: 'user', content: 'q2' }] });
    // Accepted at small-a: big would charge 100 x $10/M + 10 x $30/M = 1,300 for the same tokens, small-a 120; the
    // top model is the baseline, so routing saves nothing.
    expect(records.records[0]).toMatchObject({ cost_micros: 120, baseline_cost_micros: 1300, savings: { ...zero, cascade: 1180 } });
    // Escalated: big answered (2,500, the baseline's price), after a rejected small-a try of 120.
    expect(records.records[1]).toMatchObject({ cost_micros: 2620, baseline_cost_micros: 2500, savings: { ...zero, cascade: -120 } });
  });

  it('counts what failed attempts cost, and a request that answered nothing as all loss', async () => {
    const { provider, records, chat } = setup();
    provider.script('up-small-a', { ok: "I'm sorry, but I can't help with that.", usage: usage(100, 10) });
    provider.script('up-big', { fail: 'server', status: 500 }, { fail: 'server', status: 500 });
    await chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }] });
    expect(records.records[0]).toMatchObject({ status: 502, cost_micros: 120, baseline_cost_micros: 0, savings: { ...zero, cascade: -120 } });
  });
});

describe('savings by lever (property: they sum to baseline minus cost on every record)', () => {
  it('holds over 400 random requests: models, tiers, cascades, repeats (cache hits), failures, missing usage, context trimming', async () => {
    const rand = rng(20261206);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const { provider, records, chat } = setup({
      context: { policies: [{ tenant: 'acme', feature: 'rag', rerankBudget: 0.3, minChunks: 1 }] },
    });
    const steps = (): Step => {
      const r = rand();
      if (r < 0.05) return { pieces: ['partial ', 'answer'], then: 'fail', usage: usage(200, 2) };
      if (r < 0.12) return { fail: pick(['server', 'throttled'] as const), status: 500 };
      if (r < 0.2) return { ok: "I'm sorry, but I can't help with that.", usage: usage(1 + Math.floor(rand() * 900), Math.floor(rand() * 300)) };
      if (r < 0.27) return { ok: 'no usage reported' };
      return { ok: `answer ${Math.floor(rand() * 5)}`, usage: usage(1 + Math.floor(rand() * 3000), Math.floor(rand() * 800), rand() < 0.2 ? Math.floor(rand() * 500) : 0) };
    };
    for (const up of ['up-small-a', 'up-small-b', 'up-big']) for (let i = 0; i < 400; i++) provider.script(up, steps());
    const chunk = (i: number) => `Chunk ${i}: ${'the quarterly report covers revenue, churn and hiring plans '.repeat(3 + (i % 4))}`;
    for (let i = 0; i < 400; i++) {
      const rag = rand() < 0.2;
      const content = rag
        ? `Context:\n${[0, 1, 2, 3, 4, 5].map(chunk).join('\n\n')}\n\nQuestion: what about churn ${i % 3}?`
        : `question ${Math.floor(rand() * 40)}`;
      const stream = rand() < 0.25 ? { stream: true, stream_options: { include_usage: true } } : {};
      const res = await chat({ model: pick(['auto', 'small-a', 'small', 'large', 'casc', 'big']), messages: [{ role: 'user', content }], temperature: 0, ...stream, ...(rand() < 0.5 ? { max_tokens: 200 } : {}) }, rag ? 'rag' : undefined);
      if (res.kind === 'stream') for await (const _frame of res.body) void _frame;
    }
    expect(records.records).toHaveLength(400);
    const broken = records.records.filter((r) => !r.savings || total(r.savings) !== r.baseline_cost_micros - r.cost_micros);
    expect(broken.map((r) => ({ status: r.status, cache: r.cache, cost: r.cost_micros, baseline: r.baseline_cost_micros, savings: r.savings }))).toEqual([]);
    // The mix reached every path the levers cover.
    const levers = new Set(records.records.flatMap((r) => Object.entries(r.savings!).filter(([, v]) => v !== 0).map(([k]) => k)));
    expect([...levers].sort()).toEqual(['cache', 'cascade', 'context', 'failed_attempts', 'routing'].sort());
    expect(new Set(records.records.map((r) => r.status))).toEqual(new Set([200, 502]));
  });
});
