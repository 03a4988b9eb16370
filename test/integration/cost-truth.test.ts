import type { ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { startLocalGateway } from '../support/local';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';

/**
 * Cost truth through `llm-finops local` with the real openai client, where the wire shape matters: hostile usage
 * reports, usage on the first chunk only, a call that times out after the upstream did the work, the output cap sent
 * when the client gives none, service tiers, and the quota header on a cache hit. Every figure is hand-computed:
 * prices are round (small-a $1/$2 per 1M, tiered $1/$2 standard and $2/$4 priority, slow-a $1/$2).
 */
describe('cost truth (integration, real openai client over loopback)', () => {
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let records: () => Record<string, unknown>[];
  const client = () => new OpenAI({ apiKey: KEYS.acme, baseURL: baseUrl, maxRetries: 0 });

  beforeAll(async () => {
    await upstream.start();
    const base = testConfig(upstream.baseUrl);
    ({ proc, baseUrl, records } = await startLocalGateway(upstream.baseUrl, {
      providers: [...base.providers, { type: 'openai-compatible', id: 'slow', baseUrl: upstream.baseUrl, timeoutMs: 300 }],
      models: [
        ...base.models,
        { id: 'tiered', provider: 'up', upstreamModel: 'up-tiered', maxOutputTokens: 1000, price: { inputPerMTok: 1, outputPerMTok: 2, serviceTiers: { priority: { inputPerMTok: 2, outputPerMTok: 4 } } } },
        { id: 'slow-a', provider: 'slow', upstreamModel: 'up-slow-a', maxOutputTokens: 1000, price: { inputPerMTok: 1, outputPerMTok: 2 } },
      ],
      tiers: [...base.tiers, { name: 'extra', models: ['tiered', 'slow-a'] }],
    }, 'llm-finops-cost-'));
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
  });

  beforeEach(() => upstream.reset());

  const last = () => records().at(-1)!;
  const hi = (model = 'small-a', extra: Record<string, unknown> = {}) =>
    ({ model, messages: [{ role: 'user' as const, content: 'hi' }], ...extra });
  /** Input estimate of `hi`: 3 per request + 4 per message + ceil(2 bytes / 3) = 8 tokens. */
  const HI_INPUT = 8;

  describe('usage reports are untrusted input', () => {
    it.each([
      ['a negative completion count', { prompt_tokens: 10, completion_tokens: -50, total_tokens: -40 }, 'completion_tokens is negative (-50)'],
      ['string counts', { prompt_tokens: '50', completion_tokens: '50', total_tokens: '100' }, 'prompt_tokens is "50", not an integer'],
      ['cached tokens above the prompt', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 20 } }, 'cached_tokens (20) exceeds prompt_tokens (10)'],
      ['a negative cached count', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: -5 } }, 'cached_tokens is negative (-5)'],
      ['a fractional count', { prompt_tokens: 10.5, completion_tokens: 5, total_tokens: 15.5 }, 'prompt_tokens is 10.5, not an integer'],
    ])('estimates and flags %s, never a negative or absurd figure', async (_what, rawUsage, problem) => {
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'Paris.', rawUsage });
      const { data, response } = await client().chat.completions.create(hi()).withResponse();
      // Estimate: 8 input tokens x $1/M + ceil(6 bytes / 3) = 2 output tokens x $2/M = 12 micro-dollars.
      expect(response.headers.get('x-llm-cost-usd')).toBe('0.000012');
      expect(response.headers.get('x-llm-usage-flags')).toBe('usage_invalid');
      expect(data.usage).toMatchObject({ prompt_tokens: HI_INPUT, completion_tokens: 2 });
      expect(last()).toMatchObject({
        cost_micros: 12, input_tokens: HI_INPUT, output_tokens: 2, usage_estimated: true, usage_flags: ['usage_invalid'],
        usage_problem: `small-a: ${problem}`,
      });
    });

    it('keeps the token quota at the estimate for string counts (it once added 1,005,000 tokens)', async () => {
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'Paris.', rawUsage: { prompt_tokens: '50', completion_tokens: '5' } });
      const before = await usageWindow();
      await client().chat.completions.create(hi());
      const after = await usageWindow();
      expect(after.tokens - before.tokens).toBe(HI_INPUT + 2);
      expect(after.spend_usd - before.spend_usd).toBeCloseTo(0.000012, 9);
    });
  });

  it('prices a stream that reports usage on its first chunk only from that report plus the text streamed after it', async () => {
    // "The answer is forty-two, clearly." is 33 bytes: 11 estimated output tokens after a report of 100 in / 0 out.
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'The answer is forty-two, clearly.', promptTokens: 100, completionTokens: 0, usageOn: 'first' });
    const stream = await client().chat.completions.create({ ...hi(), stream: true, stream_options: { include_usage: true } });
    let finops: Record<string, unknown> | undefined;
    for await (const chunk of stream) {
      if ((chunk as unknown as { llm_finops?: Record<string, unknown> }).llm_finops) finops = (chunk as unknown as { llm_finops: Record<string, unknown> }).llm_finops;
    }
    // 100 x $1/M + 11 x $2/M = 122 micro-dollars (the first-chunk report alone said 100).
    expect(finops).toMatchObject({ cost_usd: 0.000122, usage_estimated: true, usage_flags: ['output_estimated'] });
    expect(last()).toMatchObject({ cost_micros: 122, input_tokens: 100, output_tokens: 11, usage_flags: ['output_estimated'] });
  });

  it('charges a call that timed out after the upstream did the work at its bound, per attempt, and flags it', async () => {
    upstream.setDefault('up-slow-a', { kind: 'ok', content: 'late', delayMs: 700 });
    const err = await client().chat.completions.create(hi('slow-a')).catch((e) => e);
    expect(err.status).toBe(504);
    // Each of the 2 attempts: 8 input x $1/M + the 1,000-token cap sent x $2/M = 2,008 micro-dollars.
    expect(last()).toMatchObject({ status: 504, attempts: 2, cost_micros: 4016, input_tokens: 16, output_tokens: 2000, usage_estimated: true });
    // The second attempt held 2,008 more first (within the tenant's limit): charged, but never past what was held.
    expect(last().usage_flags).toEqual(['timeout_estimated']);
    expect(upstream.received.map((r) => r.body.max_tokens)).toEqual([1000, 1000]);
  });

  it('sends the reserved output cap upstream when the client gives none, in the field the client used otherwise', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'ok' });
    await client().chat.completions.create(hi());
    await client().chat.completions.create(hi('small-a', { max_completion_tokens: 300 }));
    await client().chat.completions.create(hi('small', { max_tokens: 900 }));
    const bodies = upstream.received.map((r) => r.body);
    // small-a's maximum is 1,000 (below quota.outputTokenCap 4,096): the cap the reservation priced.
    expect(bodies[0]).toMatchObject({ max_tokens: 1000 });
    expect(bodies[0]).not.toHaveProperty('max_completion_tokens');
    expect(bodies[1]).toMatchObject({ max_completion_tokens: 300 });
    expect(bodies[2]).toMatchObject({ max_tokens: 900 });
  });

  describe('service tiers', () => {
    it('refuses a tier the model has no price for', async () => {
      const err = await client().chat.completions.create(hi('small-a', { service_tier: 'priority' })).catch((e) => e);
      expect(err.status).toBe(400);
      expect(err.code).toBe('unsupported_service_tier');
      expect(err.message).toContain("service_tier 'priority' has no price for 'small-a'");
      expect(upstream.received).toHaveLength(0);
      expect(last()).toMatchObject({ status: 400, cost_micros: 0 });
    });

    it('prices the tier the upstream reports on its own row', async () => {
      upstream.setDefault('up-tiered', { kind: 'ok', content: 'fast', promptTokens: 1000, completionTokens: 500, serviceTier: 'priority' });
      const { response } = await client().chat.completions.create(hi('tiered', { service_tier: 'priority' })).withResponse();
      // 1,000 x $2/M + 500 x $4/M on the priority row = 4,000 micro-dollars (standard would say 2,000).
      expect(response.headers.get('x-llm-cost-usd')).toBe('0.004000');
      expect(response.headers.get('x-llm-service-tier')).toBe('priority');
      expect(upstream.received[0].body.service_tier).toBe('priority');
      expect(last()).toMatchObject({ cost_micros: 4000, service_tier: 'priority', usage_flags: [] });
    });

    it('prices at standard when the upstream says it served the request at standard', async () => {
      upstream.setDefault('up-tiered', { kind: 'ok', content: 'fast', promptTokens: 1000, completionTokens: 500, serviceTier: 'default' });
      const ask = hi('tiered', { service_tier: 'priority', messages: [{ role: 'user', content: 'served at standard' }] });
      const { response } = await client().chat.completions.create(ask).withResponse();
      expect(response.headers.get('x-llm-cost-usd')).toBe('0.002000');
      expect(response.headers.get('x-llm-service-tier')).toBe('default');
    });
  });

  it('tells a limited tenant its remaining quota on an exact-cache hit', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'cached answer', promptTokens: 1000, completionTokens: 500 });
    const ask = hi('small-a', { temperature: 0, messages: [{ role: 'user', content: 'cache me for the quota header' }] });
    const first = await client().chat.completions.create(ask).withResponse();
    const second = await client().chat.completions.create(ask).withResponse();
    expect(second.response.headers.get('x-llm-cache')).toBe('hit-exact');
    const remaining = second.response.headers.get('x-llm-quota-remaining-usd');
    expect(remaining).not.toBe('unlimited');
    expect(remaining).toBe(first.response.headers.get('x-llm-quota-remaining-usd'));
    expect(upstream.received).toHaveLength(1);
  });

  async function usageWindow(): Promise<{ tokens: number; spend_usd: number }> {
    const res = await fetch(`${baseUrl}/usage`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    const body = (await res.json()) as { windows: { window: string; tokens: number; spend_usd: number }[] };
    return body.windows.find((w) => w.window === 'day')!;
  }
});
