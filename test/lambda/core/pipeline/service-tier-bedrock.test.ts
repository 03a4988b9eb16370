import { BedrockRuntimeClient, ConverseCommand, ThrottlingException, ValidationException, type ConverseCommandInput } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../../lambda/adapters/wiring';
import { resolveConfig } from '../../../../lambda/core/config/resolve';

/**
 * Service tiers by policy on Bedrock, through the gateway and the real Bedrock adapter (Converse mocked at the SDK):
 * Nova Pro's catalog rows (standard $0.80/$3.20, Flex $0.40/$1.60, Priority $1.40/$5.60 per 1M, the tier rows derived)
 * and Nova Lite, which has no tier rows. 10,000 input and 1,000 output tokens: $0.0112 standard, $0.0056 Flex,
 * $0.0196 Priority on Nova Pro.
 */
const config = resolveConfig({
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [
    { id: 'nova-pro', provider: 'bedrock', upstreamModel: 'us.amazon.nova-pro-v1:0' },
    { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' },
  ],
  tiers: [{ name: 't', models: ['nova-pro', 'nova-lite'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-pro' },
  tenants: [{ id: 'acme', apiKeys: [] }],
  serviceTiers: { policies: [{ feature: 'nightly', tier: 'flex' }, { feature: 'checkout', tier: 'priority' }] },
});

describe('service tiers by policy on Bedrock (gateway + Bedrock adapter, Converse mocked)', () => {
  const mock = mockClient(BedrockRuntimeClient);
  beforeEach(() => mock.reset());
  const answer = (tier?: string) => ({
    output: { message: { role: 'assistant' as const, content: [{ text: 'ok' }] } }, stopReason: 'end_turn' as const,
    usage: { inputTokens: 10_000, outputTokens: 1000, totalTokens: 11_000 }, $metadata: {}, ...(tier ? { serviceTier: { type: tier as 'flex' } } : {}),
  });
  const ask = async (feature: string, model = 'nova-pro') => {
    const usage = new MemoryUsageSink();
    const gw = buildGateway(config, { env: {}, usage });
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: `a ${feature} question` }] });
    const res = await gw.chat({ tenantId: 'acme', feature, body, bodyBytes: body.length, cacheBypass: true });
    return { res, record: usage.records[0], sent: mock.commandCalls(ConverseCommand).map((c) => c.args[0].input as ConverseCommandInput) };
  };

  it('sends Flex to Nova Pro for the waiting feature and prices the served tier', async () => {
    mock.on(ConverseCommand).resolves(answer('flex'));
    const { res, record, sent } = await ask('nightly');
    expect(res.status).toBe(200);
    expect(sent.map((s) => s.serviceTier)).toEqual([{ type: 'flex' }]);
    expect(res.headers['x-llm-service-tier']).toBe('flex');
    expect(record).toMatchObject({ service_tier: 'flex', cost_usd: 0.0056, usage_flags: [] });
  });

  it('falls back to the standard tier when Flex is throttled: a second Converse without serviceTier, priced at standard', async () => {
    mock.on(ConverseCommand)
      .rejectsOnce(new ThrottlingException({ message: 'Too many requests, please wait before trying again.', $metadata: { httpStatusCode: 429 } }))
      .resolvesOnce(answer('default'));
    const { res, record, sent } = await ask('nightly');
    expect(res.status).toBe(200);
    expect(sent.map((s) => s.serviceTier)).toEqual([{ type: 'flex' }, undefined]);
    expect(sent.map((s) => s.modelId)).toEqual(['us.amazon.nova-pro-v1:0', 'us.amazon.nova-pro-v1:0']);
    expect(record).toMatchObject({ service_tier: 'default', cost_usd: 0.0112, usage_flags: ['flex_fallback'], model: 'nova-pro' });
  });

  it('drops a policy\'s tier Bedrock refuses (ValidationException: no Flex for this model or Region) and answers at standard', async () => {
    mock.on(ConverseCommand)
      .rejectsOnce(new ValidationException({ message: 'The provided service tier is not supported for this model.', $metadata: { httpStatusCode: 400 } }))
      .resolvesOnce(answer());
    const { res, record, sent } = await ask('nightly');
    expect(res.status).toBe(200);
    expect(sent.map((s) => s.serviceTier)).toEqual([{ type: 'flex' }, undefined]);
    expect(record).toMatchObject({ service_tier: 'standard', cost_usd: 0.0112, usage_flags: ['service_tier_stripped'] });
  });

  it('keeps the refusal of a tier the client asked for itself (no policy): 400, one call', async () => {
    mock.on(ConverseCommand).rejects(new ValidationException({ message: 'The provided service tier is not supported for this model.', $metadata: { httpStatusCode: 400 } }));
    const usage = new MemoryUsageSink();
    const gw = buildGateway(config, { env: {}, usage });
    const body = JSON.stringify({ model: 'nova-pro', service_tier: 'flex', messages: [{ role: 'user', content: 'client asks' }] });
    const res = await gw.chat({ tenantId: 'acme', feature: 'chat', body, bodyBytes: body.length, cacheBypass: true });
    expect(res.status).toBe(400);
    expect(mock.commandCalls(ConverseCommand)).toHaveLength(1);
  });

  it('sends Priority for the feature that may not wait, priced at the Priority row', async () => {
    mock.on(ConverseCommand).resolves(answer('priority'));
    const { record, sent } = await ask('checkout');
    expect(sent[0].serviceTier).toEqual({ type: 'priority' });
    expect(record).toMatchObject({ service_tier: 'priority', cost_usd: 0.0196 });
  });

  it('runs Nova Lite (no tier rows) at standard under the same policy: no serviceTier sent, flagged service_tier_stripped', async () => {
    mock.on(ConverseCommand).resolves(answer());
    const { record, sent } = await ask('nightly', 'nova-lite');
    expect(sent[0].serviceTier).toBeUndefined();
    expect(record).toMatchObject({ service_tier: 'standard', usage_flags: ['service_tier_stripped'] });
  });

  it('leaves requests no policy covers alone: no tier sent, service_tier null although Bedrock reports one', async () => {
    mock.on(ConverseCommand).resolves(answer('default'));
    const { res, record, sent } = await ask('chat');
    expect(sent[0].serviceTier).toBeUndefined();
    expect(res.headers['x-llm-service-tier']).toBeUndefined();
    expect(record).toMatchObject({ service_tier: null, cost_usd: 0.0112, usage_flags: [] });
  });

  it('reserves a Flex request that may fall back at the standard price: a budget Flex alone would fit refuses it, unless the policy forbids the fallback', async () => {
    // Reservations (input estimate + 1,000 output tokens): about $0.0032 at standard, $0.0016 at Flex; the budget is $0.0025.
    const tight = resolveConfig({
      ...config.raw,
      tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.0025 } }],
      serviceTiers: { policies: [{ feature: 'nightly', tier: 'flex' }, { feature: 'strict', tier: 'flex', fallbackToDefault: false }] },
    });
    mock.on(ConverseCommand).resolves({ ...answer('flex'), usage: { inputTokens: 10, outputTokens: 10, totalTokens: 20 } });
    const run = async (feature: string) => {
      const gw = buildGateway(tight, { env: {}, usage: new MemoryUsageSink() });
      const body = JSON.stringify({ model: 'nova-pro', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] });
      return gw.chat({ tenantId: 'acme', feature, body, bodyBytes: body.length, cacheBypass: true });
    };
    expect((await run('nightly')).status).toBe(429);
    expect(mock.commandCalls(ConverseCommand)).toHaveLength(0);
    expect((await run('strict')).status).toBe(200);
  });
});
