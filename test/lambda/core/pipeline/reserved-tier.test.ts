import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../../lambda/adapters/wiring';
import { ConfigError, resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';

/**
 * Bedrock's Reserved tier as a commitment (`commitment.type: bedrock-reserved`), through the gateway and the Bedrock
 * adapter with Converse mocked. Nova Pro lists $0.80 / $3.20 per 1M on demand (catalog): 10,000 in and 1,000 out cost
 * $0.0112 on demand; on the reservation they cost nothing at the margin (the reservation is paid by the month:
 * here 100 x 1K tokens per minute at $7.30 a month each, $0.01 an hour per unit). The baseline is Nova Pro itself.
 */
const base: GatewayConfigInput = {
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [{ id: 'nova-pro', provider: 'bedrock', upstreamModel: 'us.amazon.nova-pro-v1:0', commitment: { type: 'bedrock-reserved', units: 100, usdPerUnitHour: 0.01, term: '1-month' } }],
  tiers: [{ name: 't', models: ['nova-pro'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-pro' },
  tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.02 } }],
};

describe('Bedrock Reserved tier as a commitment (gateway + Bedrock adapter, Converse mocked)', () => {
  const mock = mockClient(BedrockRuntimeClient);
  beforeEach(() => mock.reset());
  const answer = (tier?: string) => ({
    output: { message: { role: 'assistant' as const, content: [{ text: 'ok' }] } }, stopReason: 'end_turn' as const,
    usage: { inputTokens: 10_000, outputTokens: 1000, totalTokens: 11_000 }, $metadata: {}, ...(tier ? { serviceTier: { type: tier as 'reserved' } } : {}),
  });
  const ask = async () => {
    const usage = new MemoryUsageSink();
    const gw = buildGateway(resolveConfig(base), { env: {}, usage });
    const body = JSON.stringify({ model: 'nova-pro', messages: [{ role: 'user', content: 'a question' }] });
    const res = await gw.chat({ tenantId: 'acme', body, bodyBytes: body.length, cacheBypass: true });
    return { res, record: usage.records[0], sent: mock.commandCalls(ConverseCommand).map((c) => c.args[0].input as ConverseCommandInput) };
  };

  it('prices an answer Bedrock served on the reservation at nothing at the margin, its saving the commitment\'s', async () => {
    mock.on(ConverseCommand).resolves(answer('reserved'));
    const { res, record, sent } = await ask();
    expect(res.status).toBe(200);
    // No tier is sent: the account's reservation applies to the model; Bedrock says which tier served.
    expect(sent[0].serviceTier).toBeUndefined();
    expect(record).toMatchObject({ cost_usd: 0, cost_basis: 'commitment', service_tier: 'reserved', baseline_cost_usd: 0.0112, usage_flags: [] });
    expect(record.savings).toMatchObject({ commitment: 11_200, routing: 0, prompt_cache: 0 });
  });

  it('prices the overflow Bedrock served at the standard tier on demand (flag reserved_overflow)', async () => {
    mock.on(ConverseCommand).resolves(answer('default'));
    const { record } = await ask();
    expect(record).toMatchObject({ cost_usd: 0.0112, cost_basis: 'tokens', service_tier: 'standard', usage_flags: ['reserved_overflow'] });
    expect(record.savings).toMatchObject({ commitment: 0 });
  });

  it('prices an answer with no reported tier on demand, an upper bound, flagged reserved_unconfirmed', async () => {
    mock.on(ConverseCommand).resolves(answer());
    const { record } = await ask();
    expect(record).toMatchObject({ cost_usd: 0.0112, cost_basis: 'tokens', usage_flags: ['reserved_unconfirmed'] });
  });

  it('reserves the on-demand price against the quotas, so an overflow can never break a budget', async () => {
    mock.on(ConverseCommand).resolves(answer('reserved'));
    // $0.02 a day. ~10,000 input tokens (30,000 bytes) and a 4,000-token cap are about $0.021 on demand: more than the budget, so the
    // reservation fits the cap to what is left, although the answer (on the reservation) then costs nothing.
    const usage = new MemoryUsageSink();
    const gw = buildGateway(resolveConfig(base), { env: {}, usage });
    const body = JSON.stringify({ model: 'nova-pro', max_tokens: 4000, messages: [{ role: 'user', content: 'word '.repeat(6_000) }] });
    const res = await gw.chat({ tenantId: 'acme', body, bodyBytes: body.length, cacheBypass: true });
    expect(res.status).toBe(200);
    expect(usage.records[0]).toMatchObject({ quota_action: 'output_fitted', cost_usd: 0, cost_basis: 'commitment' });
    expect(mock.commandCalls(ConverseCommand)[0].args[0].input.inferenceConfig?.maxTokens).toBeLessThan(4000);
  });

  it('refuses a reserved commitment on a provider other than Bedrock, and one without an on-demand price', () => {
    const bad = (m: object, providers: GatewayConfigInput['providers'] = base.providers) => () => resolveConfig({ ...base, providers, models: [{ ...base.models[0], ...m }] });
    expect(bad({ provider: 'up', upstreamModel: 'gpt-x', price: { inputPerMTok: 1, outputPerMTok: 1 } }, [{ type: 'openai-compatible', id: 'up', baseUrl: 'http://127.0.0.1:1/v1' }]))
      .toThrow(/bedrock-reserved is a Bedrock service tier; provider 'up' is openai-compatible/);
    expect(bad({ upstreamModel: 'us.example.unknown-v1:0' })).toThrow(ConfigError);
    expect(bad({ upstreamModel: 'us.example.unknown-v1:0' })).toThrow(/needs its on-demand price for the overflow/);
  });
});
