import { LexicalEmbedder } from '../../../../lambda/adapters/lexical-embedder';
import { MemoryExactCache } from '../../../../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemorySemanticIndex } from '../../../../lambda/adapters/memory-semantic-index';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { Gateway, type GatewayResult, type JsonResult, type StreamResult } from '../../../../lambda/core/pipeline';
import type { Embedder, ExactCache, TenantDirectory } from '../../../../lambda/core/ports';
import { MemoryTenantDirectory } from '../../../../lambda/adapters/memory-tenant-directory';
import { LearnedRouter, trainRouter } from '../../../../lambda/core/routing/learned';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';
import { testConfig } from '../../../support/config';

/** The local embedder, billing a fixed number of tokens per text as a remote embedder would. */
class BillingEmbedder implements Embedder {
  private readonly inner = new LexicalEmbedder();
  readonly id = 'billing';
  readonly dimensions = this.inner.dimensions;
  constructor(private readonly tokensPerText: number) {}
  async embed(texts: readonly string[]) {
    return { vectors: (await this.inner.embed(texts)).vectors, inputTokens: texts.length * this.tokensPerText };
  }
}

function setup(
  overrides: Partial<GatewayConfigInput> = {},
  opts: { semantic?: boolean; embedder?: Embedder; extraProviders?: string[]; exactCache?: ExactCache; router?: LearnedRouter; tenants?: TenantDirectory } = {},
) {
  const clock = new FakeClock();
  const provider = new ScriptedProvider();
  const quota = new MemoryQuotaStore();
  const records = new MemoryUsageSink();
  const alerts = new MemoryAlertSink();
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', overrides));
  const gateway = new Gateway({
    config,
    providers: new Map([['up', provider], ...(opts.extraProviders ?? []).map((id) => [id, provider] as const)]),
    quota,
    exactCache: opts.exactCache ?? new MemoryExactCache(100, () => clock.now()),
    semantic: opts.semantic ? { embedder: opts.embedder ?? new LexicalEmbedder(), index: new MemorySemanticIndex(100, () => clock.now()) } : undefined,
    router: opts.router,
    tenants: opts.tenants,
    usage: records,
    alerts,
    clock,
    ids: new SeqIds(),
    sha256,
  });
  const chat = (body: Record<string, unknown>, tenantId = 'acme', extra: { feature?: string; signal?: AbortSignal } = {}) => {
    const text = JSON.stringify(body);
    return gateway.chat({ tenantId, body: text, bodyBytes: Buffer.byteLength(text), ...extra });
  };
  const dayKey = (tenant = 'acme') => `tenant#${tenant}#usd#2026-11-29`;
  return { clock, provider, quota, records, alerts, gateway, chat, dayKey };
}

const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'small-a', messages: [{ role: 'user', content }], ...extra });

async function drain(r: GatewayResult): Promise<string[]> {
  const frames: string[] = [];
  for await (const f of (r as StreamResult).body) frames.push(f);
  return frames;
}

describe('Gateway', () => {
  describe('chat (JSON)', () => {
    it('reconciles the reservation to the actual cost when the call succeeds', async () => {
      const { provider, chat, quota, dayKey, records } = setup();
      provider.script('up-small-a', { ok: 'hi', usage: usage(1000, 500) });
      const r = (await chat(ask('hello'))) as JsonResult;
      expect(r.status).toBe(200);
      // 1000 x $1/M + 500 x $2/M = 2000 micros
      expect((await quota.read([dayKey()])).get(dayKey())).toEqual({ committed: 2000, reserved: 0 });
      expect(r.headers['x-llm-cost-usd']).toBe('0.002000');
      expect(r.headers['x-llm-quota-remaining-usd']).toBe('9.998000');
      expect(records.records).toHaveLength(1);
      expect(records.records[0]).toMatchObject({ cost_micros: 2000, baseline_cost_micros: 25000, cost_basis: 'tokens', route_reason: 'explicit-model' });
    });

    it('records the provider type, the upstream model and a tenant-scoped hash of the end user, never the user id', async () => {
      const { provider, chat, records } = setup();
      provider.script('up-small-a', { ok: 'hi', usage: usage(10, 5) }, { ok: 'hi', usage: usage(10, 5) }, { ok: 'hi', usage: usage(10, 5) });
      await chat(ask('one', { user: 'user-42' }));
      await chat(ask('two', { user: 'user-42' }), 'globex');
      await chat(ask('three'));
      const [a, b, c] = records.records;
      expect(a).toMatchObject({ provider: 'up', provider_type: 'openai-compatible', model: 'small-a', upstream_model: 'up-small-a' });
      expect(a.end_user).toBe(sha256('acme\u0000user-42').slice(0, 16));
      expect(b.end_user).toMatch(/^[0-9a-f]{16}$/);
      expect(b.end_user).not.toBe(a.end_user);
      expect(JSON.stringify(records.records)).not.toContain('user-42');
      expect(c.end_user).toBeNull();
    });

    it("calls a tenant's own upstream id (its tagged inference profile) and records it; other tenants keep the model's", async () => {
      const { provider, chat, records } = setup({
        tenants: [
          { id: 'acme', apiKeys: [], upstreamModels: { 'small-a': 'acme-profile-small-a' } },
          { id: 'globex', apiKeys: [] },
        ],
      });
      provider.script('acme-profile-small-a', { ok: 'via profile', usage: usage(10, 5) });
      provider.script('up-small-a', { ok: 'plain', usage: usage(10, 5) });
      expect((await chat(ask('one'))).status).toBe(200);
      expect((await chat(ask('two'), 'globex')).status).toBe(200);
      expect(provider.calls.map((c) => c.model.config.upstreamModel)).toEqual(['acme-profile-small-a', 'up-small-a']);
      expect(records.records.map((r) => [r.tenant, r.model, r.upstream_model, r.cost_micros])).toEqual([['acme', 'small-a', 'acme-profile-small-a', 20], ['globex', 'small-a', 'up-small-a', 20]]);
      expect(() => resolveConfig(testConfig('http://x/v1', { tenants: [{ id: 'acme', apiKeys: [], upstreamModels: { nope: 'x' } }] }))).toThrow("tenants[0].upstreamModels.nope: unknown model 'nope'");
    });

    it('reserves every billed input byte: a 900 KB response_format against a $0.01 limit is refused before the call', async () => {
      const { provider, chat, records } = setup({ tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.01 } }] });
      const schema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 13_500 }, (_, i) => [`field_${i}`, { type: 'string', description: 'x'.repeat(20) }])) };
      const response_format = { type: 'json_schema', json_schema: { name: 'big', schema } };
      expect(JSON.stringify(response_format).length).toBeGreaterThan(900_000);
      const r = (await chat(ask('hi', { response_format }))) as JsonResult;
      // ~300k input tokens x $1/M = ~$0.30 reserved: over the limit, so nothing is sent (it once spent $0.225).
      expect(r.status).toBe(429);
      expect(provider.calls).toHaveLength(0);
      expect(records.records[0]).toMatchObject({ status: 429, cost_micros: 0 });
    });

    it('releases the whole reservation when every model fails', async () => {
      const { provider, chat, quota, dayKey, records } = setup();
      provider.script('up-small-a', { fail: 'server', status: 500 }, { fail: 'server', status: 500 });
      const r = (await chat(ask('hello'))) as JsonResult;
      expect(r.status).toBe(502);
      expect((await quota.read([dayKey()])).get(dayKey())).toEqual({ committed: 0, reserved: 0 });
      expect(records.records[0]).toMatchObject({ status: 502, error_type: 'upstream_error', cost_micros: 0, attempts: 2 });
    });

    it('answers 504 when the chain ends on a timeout', async () => {
      const { provider, chat } = setup();
      provider.script('up-small-a', { fail: 'timeout' }, { fail: 'timeout' });
      expect((await chat(ask('slow'))).status).toBe(504);
    });

    it('does not fall back on an upstream client error, and passes it on as 400', async () => {
      const { provider, chat } = setup();
      provider.script('up-small-a', { fail: 'client', status: 400 });
      const r = (await chat({ ...ask('x'), model: 'small' })) as JsonResult;
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'upstream_rejected' } });
      expect(provider.calls).toHaveLength(1);
    });

    it('backs off with jitter between attempts on the same model', async () => {
      const { provider, chat, clock } = setup({ routing: { thresholds: [{ tier: 'small', upTo: 0.3 }, { tier: 'large', upTo: 1 }], baselineModel: 'big', retry: { attemptsPerModel: 3, baseDelayMs: 100, maxDelayMs: 1000 } } });
      provider.script('up-small-a', { fail: 'server' }, { fail: 'server' }, { ok: 'third time' });
      expect((await chat(ask('x'))).status).toBe(200);
      // equal jitter with random() = 0.5: 75% of 100, then 75% of 200
      expect(clock.sleeps).toEqual([75, 150]);
    });

    it('estimates and flags usage when the upstream reports none, never costing $0', async () => {
      const { provider, chat, records } = setup();
      provider.script('up-small-a', { ok: 'an answer of some length' });
      await chat(ask('hello there'));
      expect(records.records[0].usage_estimated).toBe(true);
      expect(records.records[0].cost_micros).toBeGreaterThan(0);
    });

    it('records an instance-hour model with cost basis instance_hour and no per-token cost', async () => {
      const { provider, chat, records } = setup({
        providers: [{ type: 'openai-compatible', id: 'up', baseUrl: 'http://127.0.0.1:1/v1' }, { type: 'sagemaker', id: 'sm' }],
        models: [
          { id: 'small-a', provider: 'up', upstreamModel: 'up-small-a', price: { inputPerMTok: 1, outputPerMTok: 2 } },
          { id: 'big', provider: 'up', upstreamModel: 'up-big', price: { inputPerMTok: 10, outputPerMTok: 30 } },
          { id: 'llama-inf2', provider: 'sm', upstreamModel: 'llama-endpoint', instanceType: 'ml.inf2.xlarge' },
        ],
        tiers: [{ name: 'small', models: ['llama-inf2', 'small-a'] }, { name: 'large', models: ['big'] }],
      }, { extraProviders: ['sm'] });
      provider.script('llama-endpoint', { ok: 'self-hosted', usage: usage(100, 40) });
      const r = (await chat({ ...ask('x'), model: 'llama-inf2' })) as JsonResult;
      expect(r.status).toBe(200);
      expect(r.headers['x-llm-cost-usd']).toBe('0.000000');
      expect(records.records[0]).toMatchObject({ cost_basis: 'instance_hour', cost_micros: 0, provider: 'sm', input_tokens: 100, output_tokens: 40 });
      // baseline `big`: 100 x $10/M + 40 x $30/M
      expect(records.records[0].baseline_cost_micros).toBe(2200);
    });
  });

  describe('quota', () => {
    it('refuses with 429 and Retry-After until midnight UTC when the reservation would pass the limit', async () => {
      const { chat, provider, records } = setup();
      const r = (await chat({ ...ask('x'), model: 'big' }, 'initech')) as JsonResult;
      expect(r.status).toBe(429);
      // the fake clock is at 12:00 UTC
      expect(r.headers['retry-after']).toBe(String(12 * 3600));
      expect(r.body).toMatchObject({ error: { type: 'insufficient_quota' } });
      expect(provider.calls).toHaveLength(0);
      expect(records.records[0]).toMatchObject({ status: 429, cost_micros: 0 });
    });

    it('never lets concurrent requests overshoot the limit', async () => {
      // Each request reserves 3 input-estimate tokens... bounded by max_tokens 100 x $2/M = 200 micros + input.
      const { chat, provider, quota, dayKey } = setup({
        tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.002 } }],
      });
      for (let i = 0; i < 40; i++) provider.script('up-small-a', { ok: 'x', usage: usage(20, 100) });
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => chat(ask(`q${i}`, { max_tokens: 100 }))));
      const ok = results.filter((r) => r.status === 200).length;
      const spent = (await quota.read([dayKey()])).get(dayKey())!.committed;
      expect(ok).toBeGreaterThan(0);
      expect(results.filter((r) => r.status === 429).length).toBe(40 - ok);
      expect(spent).toBeLessThanOrEqual(2000);
      expect(spent).toBe(ok * 220);
    });

    it('publishes one alert when spend crosses 80% of a limit', async () => {
      const { chat, provider, alerts } = setup({ tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.01 } }] });
      provider.script('up-small-a', { ok: 'a', usage: usage(3000, 1000) }, { ok: 'b', usage: usage(3000, 1000) });
      const thresholds = () => alerts.alerts.filter((a) => a.type === 'quota_threshold');
      await chat(ask('one', { max_tokens: 1000 }));
      expect(thresholds()).toHaveLength(0);
      await chat(ask('two', { max_tokens: 1000 }));
      expect(thresholds()).toHaveLength(1);
      expect(thresholds()[0]).toMatchObject({ tenant: 'acme', scope: 'tenant', unit: 'usd', window: 'day', period: '2026-11-29', counter: 'tenant#acme#usd#2026-11-29', threshold: 0.8, committed: 10000, limit: 10000 });
    });
  });

  describe('routing', () => {
    it('routes a trivial prompt to the small tier and a complex one to the large tier', async () => {
      const { chat, records } = setup();
      await chat({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] });
      await chat({
        model: 'auto',
        messages: [{ role: 'user', content: 'Explain step by step why this Python function is slow, then refactor it and compare the trade-offs:\n```python\ndef f(n):\n    return sum(i*i for i in range(n))\n```' }],
      });
      expect(records.records.map((r) => r.tier)).toEqual(['small', 'large']);
      expect(records.records[1].route_reason).toMatch(/^heuristic:0\.\d+:.*code.*->large$/);
    });

    it('routes model auto by a trained router\'s score when one is configured', async () => {
      // Word problems needed the strong model in the outcomes; greetings did not.
      const rows = Array.from({ length: 80 }, (_, i) => (i % 2
        ? { prompt: `A tank holds ${i} litres and loses ${i % 7 + 1} litres an hour for ${i % 5 + 2} days. How many litres remain?`, outcomes: { s: 1, w: 0 } }
        : { prompt: `hello there number ${i}`, outcomes: { s: 1, w: 1 } }));
      const router = new LearnedRouter(trainRouter(rows, 's', 'w', { seed: 1 }));
      const { chat, records } = setup({}, { router });
      await chat({ model: 'auto', messages: [{ role: 'user', content: 'hello there' }] });
      await chat({ model: 'auto', messages: [{ role: 'user', content: 'A pool holds 900 litres and loses 12 litres an hour for 3 days. How many litres remain?' }] });
      expect(records.records.map((r) => r.tier)).toEqual(['small', 'large']);
      expect(records.records[0].route_reason).toMatch(/^learned:0\.\d{3}->small$/);
    });

    it('passes the request\'s feature tag to a router trained on tags', async () => {
      // One kind of question: the weak model failed it under "tax-advice" and beat the strong one untagged.
      const rows = Array.from({ length: 80 }, (_, i) => ({
        prompt: `What should I do about item ${i % 20}?`,
        ...(i % 2 ? { feature: 'tax-advice', outcomes: { s: 1, w: 0 } } : { outcomes: { s: 0, w: 1 } }),
      }));
      const router = new LearnedRouter(trainRouter(rows, 's', 'w', { seed: 1 }));
      const { chat, records } = setup({}, { router });
      await chat({ model: 'auto', messages: [{ role: 'user', content: 'What should I do about item 3?' }] });
      await chat({ model: 'auto', messages: [{ role: 'user', content: 'What should I do about item 3?' }] }, 'acme', { feature: 'tax-advice' });
      // The untagged answer came from the small tier: the exact cache does not serve it to a request routed to large.
      expect(records.records.map((r) => [r.feature, r.tier, r.cache])).toEqual([['default', 'small', 'miss'], ['tax-advice', 'large', 'miss']]);
      await chat({ model: 'auto', messages: [{ role: 'user', content: 'What should I do about item 3?' }] }, 'acme', { feature: 'tax-advice' });
      expect(records.records[2]).toMatchObject({ tier: 'large', cache: 'hit-exact' });
    });

    it('caps automatic routing at the tenant\'s highest allowed tier', async () => {
      const { chat, records } = setup();
      await chat({ messages: [{ role: 'user', content: 'Design and analyze a distributed architecture, step by step, with trade-offs and a plan. ```code```' }] }, 'globex');
      expect(records.records[0]).toMatchObject({ tier: 'small' });
      expect(records.records[0].route_reason).toContain('(capped by tenant)');
    });
  });

  describe('streaming', () => {
    it('settles a completed stream on the final usage and stores it in the cache', async () => {
      const { provider, chat, records, quota, dayKey } = setup();
      provider.script('up-small-a', { pieces: ['a', 'b'], then: 'usage', usage: usage(100, 50) });
      const r = await chat(ask('s', { stream: true, stream_options: { include_usage: true }, temperature: 0 }));
      const frames = await drain(r);
      expect(frames.at(-1)).toBe('data: [DONE]\n\n');
      const last = JSON.parse(frames.at(-2)!.slice(6));
      expect(last.usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 50 });
      expect(last.llm_finops).toMatchObject({ cost_usd: 0.0002, usage_estimated: false });
      expect((await quota.read([dayKey()])).get(dayKey())).toEqual({ committed: 200, reserved: 0 });
      const again = await chat(ask('s', { stream: true, temperature: 0 }));
      expect(again.headers['x-llm-cache']).toBe('hit-exact');
      expect((await drain(again)).join('')).toContain('"content":"ab"');
      expect(records.records.map((x) => x.cache)).toEqual(['miss', 'hit-exact']);
    });

    it('costs a stream that breaks mid-way from the text sent, and tells the client', async () => {
      const { provider, chat, records } = setup();
      provider.script('up-small-a', { pieces: ['partial ', 'answer'], then: 'fail' });
      const frames = await drain(await chat(ask('s', { stream: true })));
      expect(frames.at(-1)).toContain('"type":"upstream_error"');
      expect(records.records).toHaveLength(1);
      expect(records.records[0]).toMatchObject({ status: 502, usage_estimated: true });
      expect(records.records[0].output_tokens).toBeGreaterThan(0);
      expect(records.records[0].cost_micros).toBeGreaterThan(0);
    });

    it('settles as a client disconnect when the consumer stops reading, and closes the upstream stream', async () => {
      const { provider, chat, records, quota, dayKey } = setup();
      provider.script('up-small-a', { pieces: ['one ', 'two ', 'three ', 'four'], then: 'usage', usage: usage(10, 10) });
      const r = (await chat(ask('s', { stream: true }))) as StreamResult;
      const it = r.body[Symbol.asyncIterator]();
      await it.next();
      await it.return!(undefined);
      expect(provider.closedEarly).toBe(1);
      expect(records.records).toHaveLength(1);
      expect(records.records[0]).toMatchObject({ status: 499, error_type: 'client_closed', usage_estimated: true });
      const spent = (await quota.read([dayKey()])).get(dayKey())!;
      expect(spent).toEqual({ committed: records.records[0].cost_micros, reserved: 0 });
    });

    it('falls back before the first chunk when the first model refuses the stream', async () => {
      const { provider, chat, records } = setup();
      provider.script('up-small-a', { fail: 'throttled', status: 429 });
      provider.script('up-small-b', { pieces: ['from b'], then: 'usage', usage: usage(10, 2) });
      const r = await chat({ ...ask('s', { stream: true }), model: 'small' });
      expect(r.headers['x-llm-model']).toBe('small-b');
      await drain(r);
      expect(records.records[0]).toMatchObject({ model: 'small-b', attempts: 2, status: 200 });
    });
  });

  describe('cache', () => {
    it('never serves one tenant\'s semantic-cache entry to another', async () => {
      const { provider, chat, records } = setup({ cache: { exact: { enabled: false }, semantic: { enabled: true, threshold: 0.9 } } }, { semantic: true });
      provider.script('up-small-a', { ok: 'acme answer', usage: usage(10, 5) }, { ok: 'globex answer', usage: usage(10, 5) });
      await chat(ask('what is our refund policy', { temperature: 0 }));
      const same = (await chat(ask('what is our refund policy?', { temperature: 0 }))) as JsonResult;
      expect(same.headers['x-llm-cache']).toBe('hit-semantic');
      const other = (await chat(ask('what is our refund policy', { temperature: 0 }), 'globex')) as JsonResult;
      expect(other.headers['x-llm-cache']).toBe('miss');
      expect((other.body as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('globex answer');
      expect(records.records.map((r) => r.cache)).toEqual(['miss', 'hit-semantic', 'miss']);
    });

    const semanticOnly = (extra: Record<string, unknown> = {}) => ({ cache: { exact: { enabled: false }, semantic: { enabled: true, threshold: 0.5, ...extra } } });
    const content = (r: GatewayResult) => ((r as JsonResult).body as { choices: { message: { content: string } }[] }).choices[0].message.content;

    it('refuses a close semantic neighbour whose numbers differ, and calls the model', async () => {
      const { provider, chat, records } = setup(semanticOnly(), { semantic: true });
      provider.script('up-small-a', { ok: '3 mg is a usual dose', usage: usage(10, 5) }, { ok: '30 mg is far too much', usage: usage(10, 5) });
      await chat(ask('Is 3 mg of melatonin too much?', { temperature: 0 }));
      const r = await chat(ask('Is 30 mg of melatonin too much?', { temperature: 0 }));
      expect(content(r)).toBe('30 mg is far too much');
      const hit = await chat(ask('is 3 mg of melatonin too much', { temperature: 0 }));
      expect(content(hit)).toBe('3 mg is a usual dose');
      expect(records.records.map((x) => x.cache)).toEqual(['miss', 'miss', 'hit-semantic']);
      expect(records.records[2].cache_score).toBeGreaterThan(0.5);
    });

    it('lets a switched-off guard through', async () => {
      const { provider, chat, records } = setup(semanticOnly({ guards: { numbers: false, content: false } }), { semantic: true });
      provider.script('up-small-a', { ok: '3 mg is a usual dose', usage: usage(10, 5) });
      await chat(ask('Is 3 mg of melatonin too much?', { temperature: 0 }));
      await chat(ask('Is 30 mg of melatonin too much?', { temperature: 0 }));
      expect(records.records.map((x) => x.cache)).toEqual(['miss', 'hit-semantic']);
    });

    it('charges a semantic hit its embedding call only and records the cost it avoided', async () => {
      const embedder = { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', model: 'emb', pricePerMTok: 0.5 };
      const { provider, chat, records } = setup(semanticOnly({ embedder }), { semantic: true, embedder: new BillingEmbedder(40_000) });
      provider.script('up-small-a', { ok: 'answer', usage: usage(1000, 500) });
      await chat(ask('how do I rotate my api key', { temperature: 0 }));
      const hit = (await chat(ask('how do I rotate my API key?', { temperature: 0 }))) as JsonResult;
      // miss: 1000 x $1/M + 500 x $2/M = 2000 micros, plus 40,000 embedding tokens x $0.5/M = 20,000 micros.
      expect(records.records[0]).toMatchObject({ cache: 'miss', cost_micros: 22_000, embedding_tokens: 40_000 });
      // hit: the embedding only; baseline: the same usage at the baseline model's price.
      expect(records.records[1]).toMatchObject({ cache: 'hit-semantic', cost_micros: 20_000, embedding_tokens: 40_000, baseline_cost_micros: 25_000 });
      expect(hit.headers['x-llm-cost-usd']).toBe('0.020000');
    });

    it('charges a semantic hit\'s embedding cost to the policies that count the request too', async () => {
      const embedder = { type: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1', model: 'emb', pricePerMTok: 0.5 };
      const { provider, chat, quota, clock } = setup(
        { ...semanticOnly({ embedder }), quota: { policies: [{ id: 'dev-daily', per: 'endUser', limits: [{ window: 'day', usd: 1 }] }] } },
        { semantic: true, embedder: new BillingEmbedder(40_000) },
      );
      provider.script('up-small-a', { ok: 'answer', usage: usage(1000, 500) });
      await chat(ask('how do I rotate my api key', { temperature: 0, user: 'alice' }));
      const hit = (await chat(ask('how do I rotate my API key?', { temperature: 0, user: 'alice' }))) as JsonResult;
      expect(hit.headers['x-llm-cache']).toBe('hit-semantic');
      // The miss (22,000 micros) and the hit's embedding (20,000) on the tenant's day and on alice's policy day, whose
      // $1 limit is the only one: the remaining header is what that policy has left.
      const day = new Date(clock.now()).toISOString().slice(0, 10);
      const counters = await quota.read([`tenant#acme#usd#${day}`]);
      expect(counters.get(`tenant#acme#usd#${day}`)!.committed).toBe(42_000);
      expect(hit.headers['x-llm-quota-remaining-usd']).toBe('0.958000');
    });

    it('does not store an answer cut off by max_tokens', async () => {
      const { provider, chat, records } = setup();
      provider.script('up-small-a', { ok: 'partial', usage: usage(10, 5), finish: 'length' });
      await chat(ask('long story', { temperature: 0, max_tokens: 5 }));
      await chat(ask('long story', { temperature: 0, max_tokens: 5 }));
      expect(records.records.map((x) => x.cache)).toEqual(['miss', 'miss']);
    });

    it('keeps entries for the feature\'s own TTL', async () => {
      const { provider, chat, records, clock } = setup({ cache: { exact: { enabled: true, ttlSeconds: 3600 }, ttlByFeature: { news: 60 } } });
      provider.script('up-small-a', { ok: 'a', usage: usage(10, 5) }, { ok: 'b', usage: usage(10, 5) }, { ok: 'c', usage: usage(10, 5) });
      await chat(ask('headlines', { temperature: 0 }), 'acme', { feature: 'news' });
      await chat(ask('faq', { temperature: 0 }), 'acme', { feature: 'help' });
      clock.advance(61_000);
      await chat(ask('headlines', { temperature: 0 }), 'acme', { feature: 'news' });
      await chat(ask('faq', { temperature: 0 }), 'acme', { feature: 'help' });
      expect(records.records.map((x) => x.cache)).toEqual(['miss', 'miss', 'miss', 'hit-exact']);
    });

    it('survives a failing cache backend as a miss and records the failure', async () => {
      const broken: ExactCache = {
        get: async () => { throw new Error('connection reset'); },
        set: async () => { throw new Error('throttled'); },
      };
      const { chat, records } = setup({}, { exactCache: broken });
      const r = await chat(ask('still answered', { temperature: 0 }));
      expect(r.status).toBe(200);
      expect(records.records[0]).toMatchObject({ cache: 'miss', status: 200, cache_error: 'exact get: connection reset; exact set: throttled' });
    });

    it('does not cache above the temperature limit or with tools', async () => {
      const { chat, records } = setup({ cache: { exact: { enabled: true, maxTemperature: 0.5 } } });
      await chat(ask('hot', { temperature: 0.9 }));
      await chat(ask('hot', { temperature: 0.9 }));
      const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
      await chat(ask('t', { tools }));
      await chat(ask('t', { tools }));
      expect(records.records.map((r) => r.cache)).toEqual(['none', 'none', 'none', 'none']);
    });
  });

  describe('run-time tenants', () => {
    it('authenticates a directory key and serves its tenant within its allowed tiers', async () => {
      const tenants = new MemoryTenantDirectory();
      await tenants.createTenant({ id: 'hooli', team: 'search', allowedTiers: ['small'], allowedModels: null, keyHashes: [sha256('sk-hooli')], createdAt: 'now' });
      const { gateway, chat, records } = setup({}, { tenants });
      expect(await gateway.authenticate('Bearer sk-hooli')).toBe('hooli');
      await expect(gateway.authenticate('Bearer sk-nobody')).rejects.toMatchObject({ status: 401 });
      expect((await chat(ask('hi'), 'hooli')).status).toBe(200);
      expect((await chat({ model: 'big', messages: [{ role: 'user', content: 'hi' }] }, 'hooli')).status).toBe(403);
      expect(records.records[0]).toMatchObject({ tenant: 'hooli', team: 'search', status: 200 });
      const models = (await gateway.models('hooli')).body as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(['auto', 'small', 'small-a', 'small-b']);
      expect((await chat(ask('hi'), 'nobody')).status).toBe(403);
    });
  });

  describe('usage', () => {
    it('answers 503 quota_store_unavailable, like chat, while the quota store is down', async () => {
      const { gateway, quota } = setup();
      jest.spyOn(quota, 'read').mockRejectedValue(new Error('connect ECONNREFUSED'));
      jest.spyOn(quota, 'getControls').mockRejectedValue(new Error('connect ECONNREFUSED'));
      const err = await gateway.usage('acme').catch((e) => e);
      expect(err).toMatchObject({ status: 503, code: 'quota_store_unavailable' });
    });
  });

  describe('cascade tiers', () => {
    const cascadeConfig = (extra: Record<string, unknown> = {}): Partial<GatewayConfigInput> => ({
      tiers: [
        { name: 'small', models: ['small-a', 'small-b'] },
        { name: 'large', models: ['big', 'small-b'] },
        { name: 'casc', models: ['small-a', 'big'], mode: 'cascade', ...extra },
      ],
    });

    it('escalates a refusal to the next model and records both calls and their costs', async () => {
      const { provider, chat, records } = setup(cascadeConfig());
      provider.script('up-small-a', { ok: "I'm sorry, but I can't help with that.", usage: usage(100, 10) });
      provider.script('up-big', { ok: 'Here is the answer.', usage: usage(100, 50) });
      const r = (await chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }] })) as JsonResult;
      expect((r.body as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('Here is the answer.');
      // small-a: 100 x $1/M + 10 x $2/M = 120; big: 100 x $10/M + 50 x $30/M = 2500.
      expect(records.records[0]).toMatchObject({
        model: 'big', tier: 'casc', cost_micros: 2620, input_tokens: 200, output_tokens: 60,
        cascade: [
          { model: 'small-a', cost_micros: 120, accepted: false, reason: expect.stringMatching(/^refusal: /) },
          { model: 'big', cost_micros: 2500, accepted: true, reason: null },
        ],
      });
      expect(r.headers['x-llm-route-reason']).toContain('(cascade: small-a refusal -> big)');
      expect(r.headers['x-llm-cost-usd']).toBe('0.002620');
    });

    it('keeps the cheap answer when every check passes', async () => {
      const { provider, chat, records } = setup(cascadeConfig());
      provider.script('up-small-a', { ok: 'Fine answer.', usage: usage(100, 10) });
      await chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }] });
      expect(provider.calls.map((c) => c.model.id)).toEqual(['small-a']);
      expect(records.records[0]).toMatchObject({ model: 'small-a', cost_micros: 120, cascade: [{ model: 'small-a', accepted: true }] });
    });

    it('escalates an answer that breaks the requested JSON schema, and a truncated one', async () => {
      const { provider, chat, records } = setup(cascadeConfig());
      const response_format = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', required: ['city'], properties: { city: { type: 'string' } } } } };
      provider.script('up-small-a', { ok: '{"town": "Paris"}', usage: usage(10, 5) }, { ok: 'Once upon a', usage: usage(10, 5), finish: 'length' });
      provider.script('up-big', { ok: '{"city": "Paris"}', usage: usage(10, 5) }, { ok: 'Once upon a time.', usage: usage(10, 5) });
      await chat({ model: 'casc', messages: [{ role: 'user', content: 'capital of France as JSON' }], response_format });
      await chat({ model: 'casc', messages: [{ role: 'user', content: 'a story' }] });
      expect(records.records.map((x) => x.cascade?.[0].reason)).toEqual(['json: $.city: required', 'truncated: finish_reason length']);
      expect(records.records.map((x) => x.model)).toEqual(['big', 'big']);
    });

    it('answers a streamed request with the accepted answer only, as SSE', async () => {
      const { provider, chat } = setup(cascadeConfig());
      provider.script('up-small-a', { ok: '', usage: usage(10, 0) });
      provider.script('up-big', { ok: 'Escalated.', usage: usage(10, 3) });
      const r = await chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }], stream: true, stream_options: { include_usage: true } });
      const frames = await drain(r);
      const text = frames.filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6))).map((c) => c.choices[0]?.delta?.content ?? '').join('');
      expect(text).toBe('Escalated.');
      expect(frames.at(-1)).toBe('data: [DONE]\n\n');
    });

    it('records and settles the rejected cheap call when the escalation target fails', async () => {
      const { provider, chat, records, quota, dayKey } = setup(cascadeConfig());
      provider.script('up-small-a', { ok: "I'm sorry, but I can't help with that.", usage: usage(100, 10) });
      provider.script('up-big', { fail: 'server', status: 500 }, { fail: 'server', status: 500 });
      const r = (await chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }] })) as JsonResult;
      expect(r.status).toBe(502);
      // small-a answered and was billed: 100 x $1/M + 10 x $2/M = 120 micro-dollars (once recorded as $0).
      expect(r.headers['x-llm-cost-usd']).toBe('0.000120');
      expect(records.records[0]).toMatchObject({
        status: 502, cost_micros: 120, input_tokens: 100, output_tokens: 10,
        cascade: [{ model: 'small-a', cost_micros: 120, accepted: false }],
      });
      expect((await quota.read([dayKey()])).get(dayKey())).toEqual({ committed: 120, reserved: 0 });
    });

    it('reserves the quota for every model a cascade may climb', async () => {
      const { chat, quota, dayKey } = setup({ ...cascadeConfig(), tenants: [{ id: 'acme', apiKeys: [{ sha256: 'a'.repeat(64) }], limits: { dailyUsd: 0.05 } }] });
      // max_tokens 1000: small-a ~0.002 + big ~0.030 = ~0.032 fits $0.05; two in flight would not.
      const first = chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }], max_tokens: 1000 });
      const second = chat({ model: 'casc', messages: [{ role: 'user', content: 'q' }], max_tokens: 1000 });
      const statuses = (await Promise.all([first, second])).map((x) => x.status).sort();
      expect(statuses).toEqual([200, 429]);
      expect((await quota.read([dayKey()])).get(dayKey())?.reserved).toBe(0);
    });
  });

  describe('context optimisation', () => {
    const docs = ['The Louvre in Paris is the most visited museum in the world.', 'Bananas grow in tropical climates and are rich in potassium.',
      'Quarterly revenue rose by four percent year on year.', 'The Eiffel Tower was finished in 1889.'];
    const prompt = `Which museum in Paris is the most visited?\n${docs.map((d, i) => `<document id="${i}">${d}</document>`).join('\n')}`;

    it('is off by default: the provider gets the prompt as sent', async () => {
      const { chat, provider, records } = setup();
      await chat(ask(prompt));
      expect(provider.calls[0].request.messages[0].content).toBe(prompt);
      expect(records.records[0]).toMatchObject({ context_tokens_saved: 0, context_saved_usd: 0 });
    });

    it('sends the re-ranked prompt when a policy applies, and prices the tokens it saved', async () => {
      const { chat, provider, records } = setup({ context: { policies: [{ tenant: 'acme', feature: 'rag', rerankBudget: 0.3, minChunks: 1 }] } });
      provider.script('up-small-a', { ok: 'The Louvre.', usage: usage(60, 3) });
      await chat(ask(prompt), 'acme', { feature: 'rag' });
      const sent = String(provider.calls[0].request.messages[0].content);
      expect(sent).toContain('Louvre');
      expect(sent).not.toContain('Bananas');
      const rec = records.records[0];
      // Saved tokens are the removed share of the prompt scaled by the provider's 60 input tokens.
      const removed = Buffer.byteLength(prompt) - Buffer.byteLength(sent);
      expect(rec.context_tokens_saved).toBe(Math.round((60 * removed) / Buffer.byteLength(sent)));
      expect(rec.context_saved_usd).toBe(Math.round(rec.context_tokens_saved * 1) / 1e6);
      await chat(ask(prompt, { temperature: 1.5 }), 'acme', { feature: 'chat' });
      expect(provider.calls[1].request.messages[0].content).toBe(prompt);
    });
  });
});
