import { MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../../lambda/adapters/wiring';
import { ConfigError, resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { FakeUpstream } from '../../../support/upstream';

describe('committed capacity first, on-demand after (tiers[].mode commitment-first)', () => {
  const upstream = new FakeUpstream();
  beforeAll(() => upstream.start());
  afterAll(() => upstream.stop());
  beforeEach(() => upstream.reset());

  const config = (tokensPerMinutePerUnit?: number): GatewayConfigInput => ({
    providers: [{ type: 'openai-compatible', id: 'up', baseUrl: upstream.baseUrl, timeoutMs: 2000 }],
    models: [
      // An Azure PTU deployment: 1 PTU at $2/h, nothing per token.
      { id: 'ptu', provider: 'up', upstreamModel: 'up-ptu', maxOutputTokens: 1000, commitment: { type: 'azure-ptu', units: 1, usdPerUnitHour: 2, term: 'monthly', ...(tokensPerMinutePerUnit ? { tokensPerMinutePerUnit } : {}) } },
      { id: 'paygo', provider: 'up', upstreamModel: 'up-paygo', maxOutputTokens: 1000, price: { inputPerMTok: 1, outputPerMTok: 2 } },
    ],
    tiers: [{ name: 'main', models: ['ptu', 'paygo'], mode: 'commitment-first' }],
    routing: { thresholds: [{ tier: 'main', upTo: 1 }], baselineModel: 'paygo', retry: { attemptsPerModel: 2, baseDelayMs: 1, maxDelayMs: 5 } },
    tenants: [{ id: 'acme', apiKeys: [] }],
  });
  let n = 0;
  const ask = async (gw: ReturnType<typeof buildGateway>) => {
    // A new prompt each time: an exact-cache hit would never reach a model.
    const body = JSON.stringify({ model: 'main', messages: [{ role: 'user', content: `hello there ${n++}` }], max_tokens: 400 });
    return gw.chat({ tenantId: 'acme', body, bodyBytes: body.length });
  };

  it('answers on the commitment at no marginal cost (cost_basis commitment)', async () => {
    const usage = new MemoryUsageSink();
    upstream.setDefault('up-ptu', { kind: 'ok', promptTokens: 20, completionTokens: 10 });
    expect((await ask(buildGateway(resolveConfig(config()), { env: {}, usage }))).status).toBe(200);
    expect(usage.records[0]).toMatchObject({ model: 'ptu', cost_usd: 0, cost_basis: 'commitment', input_tokens: 20, output_tokens: 10, route_reason: 'explicit-tier' });
    // The baseline (paygo: 20 x $1/M + 10 x $2/M = 40 micro-dollars) is the commitment's saving, not the router's.
    expect(usage.records[0]).toMatchObject({ baseline_cost_micros: 40, savings: { commitment: 40, routing: 0 } });
  });

  it('spills to on-demand at once when the commitment is throttled (429), and prices that answer', async () => {
    const usage = new MemoryUsageSink();
    upstream.setDefault('up-ptu', { kind: 'status', status: 429 });
    upstream.setDefault('up-paygo', { kind: 'ok', promptTokens: 20, completionTokens: 10 });
    expect((await ask(buildGateway(resolveConfig(config()), { env: {}, usage }))).status).toBe(200);
    // One throttled attempt, no retry on the commitment; 20 x $1 + 10 x $2 per M = $0.00004.
    expect(upstream.received.map((r) => r.body.model)).toEqual(['up-ptu', 'up-paygo']);
    expect(usage.records[0]).toMatchObject({ model: 'paygo', attempts: 2, cost_usd: 0.00004, cost_basis: 'tokens' });
  });

  it('steps aside for on-demand once its tokens-per-minute capacity is used (counted at each request\'s bound)', async () => {
    const usage = new MemoryUsageSink();
    const gw = buildGateway(resolveConfig(config(1000)), { env: {}, usage });
    // Each request is bounded at a little over 400 tokens (the prompt's estimate + the 400 cap): two fit in 1,000, the third does not.
    for (let i = 0; i < 3; i++) expect((await ask(gw)).status).toBe(200);
    expect(usage.records.map((r) => r.model)).toEqual(['ptu', 'ptu', 'paygo']);
    expect(usage.records[2].route_reason).toBe('explicit-tier (commitment full: ptu)');
    expect(upstream.received.map((r) => r.body.model)).toEqual(['up-ptu', 'up-ptu', 'up-paygo']);
  });

  it('refuses tiers that cannot work that way, and a model with both a price and a commitment', () => {
    const problems = (c: GatewayConfigInput) => {
      try {
        resolveConfig(c);
        return [];
      } catch (err) {
        return [...(err as ConfigError).problems];
      }
    };
    const c = config();
    expect(problems({ ...c, tiers: [{ name: 'main', models: ['paygo', 'ptu'], mode: 'commitment-first' }] })).toEqual([
      'tiers[0].models[0]: a commitment-first tier starts with a committed model (models[].commitment)',
      'tiers[0].models: list the committed models first, then the on-demand ones',
    ]);
    expect(problems({ ...c, tiers: [{ name: 'main', models: ['ptu'], mode: 'commitment-first' }, { name: 'x', models: ['paygo'] }] }))
      .toEqual(['tiers[0].models: a commitment-first tier needs an on-demand model to spill to after its committed ones']);
    expect(problems({ ...c, models: [{ ...c.models[0], price: { inputPerMTok: 1, outputPerMTok: 1 } }, c.models[1]] }))
      .toEqual(['models[0]: give price or commitment, not both (a committed model costs nothing per token)']);
  });
});
