import type { ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { startLocalGateway } from '../support/local';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';

/**
 * Service tiers by policy through `llm-finops local` with the real openai client: Flex for what may wait, Priority
 * for what may not, the fall-back of a throttled Flex call to the standard tier, and the tiers a request may ask for.
 * Prices are round: `tiered` $1/$2 per 1M standard, $0.50/$1 Flex, $2/$4 Priority; 1,000 input and 500 output tokens
 * cost 2,000 micro-dollars standard, 1,000 at Flex and 4,000 at Priority.
 */
describe('service tiers by policy (integration, real openai client over loopback)', () => {
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let records: () => Record<string, unknown>[];
  const client = () => new OpenAI({ apiKey: KEYS.acme, baseURL: baseUrl, maxRetries: 0 });
  let n = 0;
  // A new prompt each time: the gateway's caches would otherwise answer a repeated one without an upstream call.
  const ask = (feature: string, extra: Record<string, unknown> = {}, model = 'tiered') =>
    client().chat.completions.create({ model, messages: [{ role: 'user', content: `question ${++n} from ${feature}` }], ...extra } as never, { headers: { 'x-llm-feature': feature } });
  const last = () => records().at(-1)!;

  beforeAll(async () => {
    await upstream.start();
    const base = testConfig(upstream.baseUrl);
    ({ proc, baseUrl, records } = await startLocalGateway(upstream.baseUrl, {
      models: [
        ...base.models,
        {
          id: 'tiered', provider: 'up', upstreamModel: 'up-tiered', maxOutputTokens: 1000,
          price: { inputPerMTok: 1, outputPerMTok: 2, serviceTiers: { flex: { inputPerMTok: 0.5, outputPerMTok: 1 }, priority: { inputPerMTok: 2, outputPerMTok: 4 } } },
        },
      ],
      tiers: [...base.tiers, { name: 'extra', models: ['tiered'] }],
      serviceTiers: {
        policies: [
          { feature: 'nightly', tier: 'flex' },
          { feature: 'strict-nightly', tier: 'flex', fallbackToDefault: false },
          { feature: 'checkout', tier: 'priority', allowRequest: [] },
        ],
      },
    }, 'llm-finops-tiers-'));
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
  });

  beforeEach(() => upstream.reset());

  it('sends what may wait at Flex and prices it at the Flex row', async () => {
    upstream.setDefault('up-tiered', { kind: 'ok', content: 'later', promptTokens: 1000, completionTokens: 500, serviceTier: 'flex' });
    const { response } = await ask('nightly').withResponse();
    expect(upstream.received.map((r) => r.body.service_tier)).toEqual(['flex']);
    expect(response.headers.get('x-llm-service-tier')).toBe('flex');
    expect(last()).toMatchObject({ feature: 'nightly', cost_micros: 1000, service_tier: 'flex', usage_flags: [] });
  });

  it('sends a throttled Flex call again at the standard tier, priced at standard and flagged flex_fallback', async () => {
    upstream.script('up-tiered', { kind: 'status', status: 429 }, { kind: 'ok', content: 'now', promptTokens: 1000, completionTokens: 500, serviceTier: 'default' });
    const { data, response } = await ask('nightly').withResponse();
    expect(data.choices[0].message.content).toBe('now');
    expect(upstream.received.map((r) => r.body.service_tier)).toEqual(['flex', undefined]);
    expect(response.headers.get('x-llm-usage-flags')).toBe('flex_fallback');
    expect(last()).toMatchObject({ cost_micros: 2000, service_tier: 'default', usage_flags: ['flex_fallback'], attempts: 1 });
  });

  it('falls back in a stream too, before the first token', async () => {
    upstream.script('up-tiered', { kind: 'status', status: 429 }, { kind: 'ok', content: 'streamed now', promptTokens: 1000, completionTokens: 500 });
    const stream = await ask('nightly', { stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream as unknown as AsyncIterable<{ choices: { delta?: { content?: string } }[] }>) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('streamed now');
    expect(upstream.received.map((r) => r.body.service_tier)).toEqual(['flex', undefined]);
    expect(last()).toMatchObject({ cost_micros: 2000, usage_flags: ['flex_fallback'] });
  });

  it('without fallbackToDefault a throttled Flex call fails like any throttle (no second call)', async () => {
    upstream.setDefault('up-tiered', { kind: 'status', status: 429 });
    const err = await ask('strict-nightly').catch((e) => e);
    // The gateway's answer when every model is throttled (as without a policy): 502 upstream_throttled.
    expect(err.status).toBe(502);
    expect(err.code).toBe('upstream_throttled');
    expect(upstream.received.length).toBeGreaterThan(0);
    expect(upstream.received.every((r) => r.body.service_tier === 'flex')).toBe(true);
    expect(last()).toMatchObject({ status: 502, cost_micros: 0, usage_flags: [] });
  });

  it('runs a model without a Flex price at standard (flag service_tier_stripped), never unpriced', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'std', promptTokens: 1000, completionTokens: 500 });
    await ask('nightly', {}, 'small-a');
    expect(upstream.received[0].body.service_tier).toBeUndefined();
    expect(last()).toMatchObject({ cost_micros: 2000, service_tier: 'standard', usage_flags: ['service_tier_stripped'] });
  });

  it('lets a request ask for the standard tier where the policy allows it, and refuses a tier it does not', async () => {
    upstream.setDefault('up-tiered', { kind: 'ok', content: 'now', promptTokens: 1000, completionTokens: 500 });
    await ask('nightly', { service_tier: 'default' });
    expect(upstream.received[0].body.service_tier).toBeUndefined();
    expect(last()).toMatchObject({ cost_micros: 2000, service_tier: null });

    const before = upstream.received.length;
    const err = await ask('checkout', { service_tier: 'flex' }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.code).toBe('service_tier_not_allowed');
    expect(err.message).toContain("the service-tier policy for tenant 'acme' and feature 'checkout' sets 'priority' and lets a request ask for no other tier");
    expect(upstream.received.length).toBe(before);
    expect(last()).toMatchObject({ status: 400, cost_micros: 0 });
  });

  it('sends what may not wait at Priority, priced at the Priority row; other features are untouched', async () => {
    upstream.setDefault('up-tiered', { kind: 'ok', content: 'now', promptTokens: 1000, completionTokens: 500, serviceTier: 'priority' });
    await ask('checkout');
    expect(upstream.received[0].body.service_tier).toBe('priority');
    expect(last()).toMatchObject({ cost_micros: 4000, service_tier: 'priority' });

    upstream.setDefault('up-tiered', { kind: 'ok', content: 'now', promptTokens: 1000, completionTokens: 500 });
    await ask('chat');
    expect(upstream.received[1].body.service_tier).toBeUndefined();
    expect(last()).toMatchObject({ cost_micros: 2000, service_tier: null });
  });
});
