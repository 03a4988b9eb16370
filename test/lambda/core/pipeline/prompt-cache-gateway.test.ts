import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { toConverseInput } from '../../../../lambda/adapters/bedrock-provider';
import { MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../../lambda/adapters/wiring';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { ChatRequest } from '../../../../lambda/core/openai/types';
import { ProviderError } from '../../../../lambda/core/ports';
import { estimateInputTokens } from '../../../../lambda/core/tokens';

const long = 'policy '.repeat(629); // ~1,100 tokens: past Claude Sonnet 4.5's 1,024-token minimum

const config = (policies: unknown[]) => resolveConfig({
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [
    // Round prices (USD per 1M): input 3, output 15, 5-minute cache write 3.75, cache read 0.30. The cache limits come
    // from the catalog entry of the upstream model (1,024 tokens, 4 points, 1-hour TTL offered).
    { id: 'sonnet', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', price: { inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 } },
  ],
  tiers: [{ name: 't', models: ['sonnet'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'sonnet' },
  tenants: [{ id: 'acme', apiKeys: [] }],
  promptCaching: { policies },
});

describe('provider prompt caching through the gateway (Bedrock Converse cachePoint)', () => {
  const mock = mockClient(BedrockRuntimeClient);
  beforeEach(() => mock.reset());
  const answer = (usage: Record<string, number>) => ({
    output: { message: { role: 'assistant' as const, content: [{ text: 'ok' }] } }, stopReason: 'end_turn' as const,
    usage: { inputTokens: 50, outputTokens: 100, totalTokens: 0, ...usage }, $metadata: {},
  });
  const body = (feature?: string) => JSON.stringify({ model: 'sonnet', messages: [{ role: 'system', content: long }, { role: 'user', content: `question ${feature}` }] });

  it('places a cache point after a long system prompt for the policy\'s feature, and prices the write then the read (hand-computed)', async () => {
    mock.on(ConverseCommand).resolvesOnce(answer({ cacheWriteInputTokens: 2000 })).resolvesOnce(answer({ cacheReadInputTokens: 2000 }));
    const usage = new MemoryUsageSink();
    const gw = buildGateway(config([{ feature: 'support', ttl: '5m' }]), { env: {}, usage });
    const saving: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = body('support');
      const res = await gw.chat({ tenantId: 'acme', feature: 'support', body: b, bodyBytes: b.length, cacheBypass: true });
      expect(res.status).toBe(200);
      saving.push(res.headers['x-llm-prompt-cache-saving-usd']);
    }
    const sent = mock.commandCalls(ConverseCommand).map((c) => c.args[0].input as ConverseCommandInput);
    expect(sent[0].system).toEqual([{ text: long }, { cachePoint: { type: 'default' } }]);
    expect(sent[0].messages).toEqual([{ role: 'user', content: [{ text: 'question support' }] }]);
    // 50 x $3 + 2,000 x $3.75 + 100 x $15 = $0.009150 (the write); 50 x $3 + 2,000 x $0.30 + 100 x $15 = $0.002250 (the read).
    expect(usage.records.map((r) => [r.cache_write_tokens, r.cache_read_tokens, r.cost_usd])).toEqual([[2000, 0, 0.00915], [0, 2000, 0.00225]]);
    // Uncached, each would cost 2,050 x $3 + 100 x $15 = $0.007650: the write cost $0.001500 more, the read saved $0.005400.
    expect(saving).toEqual(['-0.001500', '0.005400']);
    // The gateway placed these cache points, so the baseline is the uncached price and the lever is prompt_cache.
    expect(usage.records.map((r) => [r.baseline_cost_micros, r.savings?.prompt_cache, r.savings?.routing])).toEqual([[7650, -1500, 0], [7650, 5400, 0]]);
  });

  it('reserves the input at the cache-write rate when cache points go out, so a written prefix cannot overshoot the reservation', async () => {
    const b = JSON.stringify({ model: 'sonnet', max_tokens: 1, messages: [{ role: 'system', content: long }, { role: 'user', content: 'question support' }] });
    const estimate = estimateInputTokens(JSON.parse(b) as ChatRequest);
    // The whole prompt but 8 tokens written to the cache at $3.75 (1.25 x input), one output token.
    mock.on(ConverseCommand).resolves(answer({ inputTokens: 8, outputTokens: 1, cacheWriteInputTokens: estimate - 8 }));
    const usage = new MemoryUsageSink();
    const gw = buildGateway(config([{ ttl: '5m' }]), { env: {}, usage });
    await gw.chat({ tenantId: 'acme', feature: 'support', body: b, bodyBytes: b.length, cacheBypass: true });
    // Reserved: estimate x $3.75 + 1 x $15 (not estimate x $3, which the write would have exceeded).
    expect(usage.records[0].usage_flags).not.toContain('over_reservation');
    expect(usage.records[0].cache_write_tokens).toBe(estimate - 8);
  });

  it('places nothing for a feature no policy covers, and nothing without a policy', async () => {
    mock.on(ConverseCommand).resolves(answer({}));
    const gw = buildGateway(config([{ feature: 'support' }]), { env: {}, usage: new MemoryUsageSink() });
    const b = body('search');
    await gw.chat({ tenantId: 'acme', feature: 'search', body: b, bodyBytes: b.length, cacheBypass: true });
    expect((mock.commandCalls(ConverseCommand)[0].args[0].input as ConverseCommandInput).system).toEqual([{ text: long }]);
  });
});

describe('toConverseInput: client cache_control hints become cachePoint blocks', () => {
  const model = config([]).models.get('sonnet')!;
  const call = (messages: ChatRequest['messages']) => ({ model, request: { model: 'sonnet', messages } as ChatRequest, maxTokens: 100, signal: new AbortController().signal });

  it('after the marked system part and user part, with the 1-hour TTL where asked', () => {
    const input = toConverseInput(call([
      { role: 'system', content: [{ type: 'text', text: 'rules', cache_control: { type: 'ephemeral', ttl: '1h' } }, { type: 'text', text: 'today' }] },
      { role: 'user', content: [{ type: 'text', text: 'doc', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'q' }] },
    ]));
    expect(input.system).toEqual([{ text: 'rules' }, { cachePoint: { type: 'default', ttl: '1h' } }, { text: 'today' }]);
    expect(input.messages).toEqual([{ role: 'user', content: [{ text: 'doc' }, { cachePoint: { type: 'default' } }, { text: 'q' }] }]);
  });

  it('refuses more hints than the model takes (a client error, never a silent drop)', () => {
    const hint = { type: 'text' as const, text: 'x', cache_control: { type: 'ephemeral' as const } };
    expect(() => toConverseInput(call([{ role: 'user', content: [hint, hint, hint, hint, hint] }])))
      .toThrow(new ProviderError('5 cache_control hints; Bedrock takes at most 4 cache points per request', 'client', 400));
  });
});
