import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
  ValidationException,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { BedrockProvider } from '../../../lambda/adapters/bedrock-provider';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import type { ChatRequest } from '../../../lambda/core/openai/types';
import { ProviderError, type ProviderCall, type ProviderStreamEvent } from '../../../lambda/core/ports';
import { costMicros } from '../../../lambda/core/pricing/prices';

const config = resolveConfig({
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [
    { id: 'sonnet', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-sonnet-4-20250514-v1:0' },
    { id: 'app-profile', provider: 'bedrock', upstreamModel: 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123', priceId: 'amazon.nova-lite-v1:0' },
  ],
  tiers: [{ name: 't', models: ['sonnet', 'app-profile'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'sonnet' },
});
const sonnet = config.models.get('sonnet')!;

const call = (request: Partial<ChatRequest>, maxTokens = 4096, model = sonnet): ProviderCall => ({
  model,
  request: { model: model.id, messages: [{ role: 'user', content: 'hi' }], ...request } as ChatRequest,
  maxTokens,
  signal: new AbortController().signal,
});

describe('BedrockProvider', () => {
  const mock = mockClient(BedrockRuntimeClient);
  const provider = new BedrockProvider(new BedrockRuntimeClient({ region: 'us-east-1' }), 5000, () => 1_764_400_000_000);
  beforeEach(() => mock.reset());

  describe('complete', () => {
    it('maps system prompts, turns, stop sequences and sampling to Converse, and costs all four token types', async () => {
      mock.on(ConverseCommand).resolves({
        $metadata: { httpStatusCode: 200, requestId: 'b1f0c3e2-0000-4000-8000-000000000001' },
        output: { message: { role: 'assistant', content: [{ text: 'The answer is 42.' }] } },
        stopReason: 'end_turn',
        usage: { inputTokens: 1200, outputTokens: 350, totalTokens: 5550, cacheReadInputTokens: 3000, cacheWriteInputTokens: 1000 },
        metrics: { latencyMs: 812 },
      });
      const out = await provider.complete(call({
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Question one' },
          { role: 'assistant', content: 'Answer one' },
          { role: 'user', content: [{ type: 'text', text: 'Question two' }] },
          { role: 'user', content: 'and a follow-up' },
        ],
        temperature: 0.2,
        top_p: 0.9,
        stop: ['\n\nHuman:'],
      }, 512));
      expect(mock.commandCalls(ConverseCommand)[0].args[0].input).toEqual({
        modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
        system: [{ text: 'You are terse.' }],
        messages: [
          { role: 'user', content: [{ text: 'Question one' }] },
          { role: 'assistant', content: [{ text: 'Answer one' }] },
          { role: 'user', content: [{ text: 'Question two' }, { text: 'and a follow-up' }] },
        ],
        inferenceConfig: { maxTokens: 512, temperature: 0.2, topP: 0.9, stopSequences: ['\n\nHuman:'] },
      });
      expect(out.completion).toMatchObject({
        id: 'chatcmpl-b1f0c3e2-0000-4000-8000-000000000001',
        choices: [{ index: 0, message: { role: 'assistant', content: 'The answer is 42.' }, finish_reason: 'stop' }],
      });
      expect(out.usage).toEqual({ inputTokens: 1200, outputTokens: 350, cacheReadTokens: 3000, cacheWriteTokens: 1000 });
      // Sonnet 4: 1200 x 3 + 350 x 15 + 3000 x 0.30 + 1000 x 3.75 = 3600 + 5250 + 900 + 3750 micros
      expect(costMicros(out.usage!, sonnet.price!)).toBe(13_500);
    });

    it('splits 1-hour cache writes out of cacheDetails and prices them at their own rate', async () => {
      mock.on(ConverseCommand).resolves({
        $metadata: {}, output: { message: { role: 'assistant', content: [{ text: 'ok' }] } }, stopReason: 'end_turn',
        usage: { inputTokens: 100, outputTokens: 10, totalTokens: 1110, cacheWriteInputTokens: 1000, cacheDetails: [{ ttl: '1h', inputTokens: 600 }, { ttl: '5m', inputTokens: 400 }] },
      });
      const out = await provider.complete(call({}, 500));
      expect(mock.commandCalls(ConverseCommand)[0].args[0].input.inferenceConfig).toEqual({ maxTokens: 500 });
      expect(out.usage).toEqual({ inputTokens: 100, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 1000, cacheWrite1hTokens: 600 });
      // us. Sonnet 4: 100 x 3 + 10 x 15 + 400 x 3.75 + 600 x 6 (1 h) = 300 + 150 + 1,500 + 3,600.
      expect(costMicros(out.usage!, sonnet.price!)).toBe(5550);
    });

    it('reports a usage Bedrock sent with a negative count as a problem, not a figure', async () => {
      mock.on(ConverseCommand).resolves({
        $metadata: {}, output: { message: { role: 'assistant', content: [{ text: 'ok' }] } }, stopReason: 'end_turn',
        usage: { inputTokens: 100, outputTokens: -7, totalTokens: 93 },
      });
      const out = await provider.complete(call({}));
      expect(out.usage).toBeUndefined();
      expect(out.usageProblem).toBe('outputTokens is negative (-7)');
    });

    it('sends an application inference profile ARN as the model id', async () => {
      mock.on(ConverseCommand).resolves({ $metadata: {}, output: { message: { role: 'assistant', content: [{ text: 'ok' }] } }, stopReason: 'max_tokens', usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } });
      const out = await provider.complete(call({}, undefined, config.models.get('app-profile')!));
      expect(mock.commandCalls(ConverseCommand)[0].args[0].input.modelId).toBe('arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123');
      expect(out.completion.choices[0].finish_reason).toBe('length');
    });

    it('maps tools, tool calls and tool results both ways', async () => {
      mock.on(ConverseCommand).resolves({
        $metadata: {},
        output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 'tu_2', name: 'get_weather', input: { city: 'Oslo' } } }] } },
        stopReason: 'tool_use',
        usage: { inputTokens: 50, outputTokens: 20, totalTokens: 70 },
      });
      const out = await provider.complete(call({
        messages: [
          { role: 'user', content: 'Weather in Paris then Oslo?' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'tu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'tu_1', content: '18C' },
        ],
        tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
        tool_choice: 'auto',
      }));
      const input = mock.commandCalls(ConverseCommand)[0].args[0].input;
      expect(input.messages).toEqual([
        { role: 'user', content: [{ text: 'Weather in Paris then Oslo?' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 'tu_1', name: 'get_weather', input: { city: 'Paris' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'tu_1', content: [{ text: '18C' }] } }] },
      ]);
      expect(input.toolConfig).toEqual({
        tools: [{ toolSpec: { name: 'get_weather', description: 'Weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }],
        toolChoice: { auto: {} },
      });
      expect(out.completion.choices[0]).toMatchObject({
        finish_reason: 'tool_calls',
        message: { content: null, tool_calls: [{ id: 'tu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      });
    });

    it.each([
      [new ThrottlingException({ message: 'Too many requests', $metadata: { httpStatusCode: 429 } }), 'throttled'],
      [new ValidationException({ message: 'Input is too long', $metadata: { httpStatusCode: 400 } }), 'client'],
      [Object.assign(new Error('model not ready'), { name: 'ModelNotReadyException' }), 'throttled'],
      [Object.assign(new Error('internal'), { name: 'InternalServerException', $metadata: { httpStatusCode: 500 } }), 'server'],
      [Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }), 'auth'],
      [Object.assign(new Error('slow'), { name: 'ModelTimeoutException', $metadata: { httpStatusCode: 408 } }), 'timeout'],
    ])('classifies %s as %s', async (err, kind) => {
      mock.on(ConverseCommand).rejects(err);
      await expect(provider.complete(call({}))).rejects.toMatchObject({ kind });
      await expect(provider.complete(call({}))).rejects.toBeInstanceOf(ProviderError);
    });

    it('rejects image URLs that are not data URLs as a client error', async () => {
      await expect(provider.complete(call({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }))).rejects.toMatchObject({ kind: 'client' });
      expect(mock.commandCalls(ConverseCommand)).toHaveLength(0);
    });
  });

  describe('stream', () => {
    async function* events(list: ConverseStreamOutput[]): AsyncGenerator<ConverseStreamOutput> {
      for (const e of list) yield e;
    }

    it('turns ConverseStream events into OpenAI chunks and the metadata event into usage', async () => {
      mock.on(ConverseStreamCommand).resolves({
        $metadata: { requestId: 'req-stream-1' },
        stream: events([
          { messageStart: { role: 'assistant' } },
          { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'Hel' } } },
          { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'lo' } } },
          { contentBlockStop: { contentBlockIndex: 0 } },
          { messageStop: { stopReason: 'end_turn' } },
          { metadata: { usage: { inputTokens: 25, outputTokens: 2, totalTokens: 127, cacheReadInputTokens: 100, cacheWriteInputTokens: 0 }, metrics: { latencyMs: 300 } } },
        ]),
      });
      const out: ProviderStreamEvent[] = [];
      for await (const e of provider.stream(call({ stream: true }, 100))) out.push(e);
      expect(mock.commandCalls(ConverseStreamCommand)[0].args[0].input).toEqual({
        modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        inferenceConfig: { maxTokens: 100 },
      });
      const chunks = out.flatMap((e) => (e.type === 'chunk' ? [e.chunk.choices[0]] : []));
      expect(chunks).toEqual([
        { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
        { index: 0, delta: { content: 'Hel' }, finish_reason: null },
        { index: 0, delta: { content: 'lo' }, finish_reason: null },
        { index: 0, delta: {}, finish_reason: 'stop' },
      ]);
      const usage = out.find((e) => e.type === 'usage') as { usage: Parameters<typeof costMicros>[0] };
      expect(usage.usage).toEqual({ inputTokens: 25, outputTokens: 2, cacheReadTokens: 100, cacheWriteTokens: 0 });
      // 25 x 3 + 2 x 15 + 100 x 0.30 = 75 + 30 + 30 micros
      expect(costMicros(usage.usage, sonnet.price!)).toBe(135);
    });

    it('streams tool-use blocks as tool_call deltas', async () => {
      mock.on(ConverseStreamCommand).resolves({
        $metadata: {},
        stream: events([
          { messageStart: { role: 'assistant' } },
          { contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu_9', name: 'lookup' } } } },
          { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"q":' } } } },
          { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '"x"}' } } } },
          { messageStop: { stopReason: 'tool_use' } },
        ]),
      });
      const deltas: unknown[] = [];
      for await (const e of provider.stream(call({ stream: true }))) if (e.type === 'chunk') deltas.push(e.chunk.choices[0].delta);
      expect(deltas.slice(1, 4)).toEqual([
        { tool_calls: [{ index: 0, id: 'tu_9', type: 'function', function: { name: 'lookup', arguments: '' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '{"q":' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '"x"}' } }] },
      ]);
    });

    it('raises an in-stream exception event as a classified ProviderError', async () => {
      mock.on(ConverseStreamCommand).resolves({
        $metadata: {},
        stream: events([
          { messageStart: { role: 'assistant' } },
          { throttlingException: Object.assign(new ThrottlingException({ message: 'slow down', $metadata: {} })) },
        ]),
      });
      const seen: ProviderStreamEvent[] = [];
      await expect((async () => { for await (const e of provider.stream(call({ stream: true }))) seen.push(e); })()).rejects.toMatchObject({ kind: 'throttled' });
      expect(seen).toHaveLength(1);
    });
  });
});

describe('BedrockProvider embeddings (InvokeModel)', () => {
  const mock = mockClient(BedrockRuntimeClient);
  const provider = new BedrockProvider(new BedrockRuntimeClient({ region: 'us-east-1' }), 5000);
  const emb = resolveConfig({
    providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
    models: [
      { id: 'sonnet', provider: 'bedrock', upstreamModel: 'us.anthropic.claude-sonnet-4-20250514-v1:0' },
      { id: 'titan', provider: 'bedrock', upstreamModel: 'amazon.titan-embed-text-v2:0', kind: 'embedding' },
      { id: 'cohere', provider: 'bedrock', upstreamModel: 'cohere.embed-english-v3', kind: 'embedding', price: { inputPerMTok: 0.1, outputPerMTok: 0 } },
    ],
    tiers: [{ name: 't', models: ['sonnet'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'sonnet' },
  });
  const body = (o: unknown) => new TextEncoder().encode(JSON.stringify(o)) as never;
  const sent = () => mock.commandCalls(InvokeModelCommand).map((c) => ({ ...c.args[0].input, body: JSON.parse(String(c.args[0].input.body)) }));
  beforeEach(() => mock.reset());

  it('Titan V2: one call per text, normalised, tokens summed from inputTextTokenCount', async () => {
    mock.on(InvokeModelCommand).callsFake((input: { body: string }) => {
      const text = JSON.parse(input.body).inputText as string;
      return { body: body({ embedding: [text.length, 0, 0, 1], inputTextTokenCount: text.length }) };
    });
    const out = await provider.embed({ model: emb.models.get('titan')!, input: ['abc', 'de'], signal: new AbortController().signal });
    expect(sent()).toEqual([
      { modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', accept: 'application/json', body: { inputText: 'abc', normalize: true } },
      { modelId: 'amazon.titan-embed-text-v2:0', contentType: 'application/json', accept: 'application/json', body: { inputText: 'de', normalize: true } },
    ]);
    expect(out.vectors).toEqual([[3, 0, 0, 1], [2, 0, 0, 1]]);
    expect(out.usage).toEqual({ inputTokens: 5, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
  });

  it('Titan V2: dimensions only 256, 512 or 1024 (a client error before any call); a missing token count is a usage problem, not a zero', async () => {
    await expect(provider.embed({ model: emb.models.get('titan')!, input: ['a'], dimensions: 300, signal: new AbortController().signal }))
      .rejects.toMatchObject({ kind: 'client', message: expect.stringContaining('dimensions 300 is not offered') });
    expect(sent()).toEqual([]);
    mock.on(InvokeModelCommand).resolves({ body: body({ embedding: [1, 0] }) });
    const out = await provider.embed({ model: emb.models.get('titan')!, input: ['a'], signal: new AbortController().signal });
    expect(out).toMatchObject({ usage: undefined, usageProblem: 'inputTextTokenCount is missing, not a non-negative integer' });
  });

  it('Cohere: texts in batches of 96 as search_document, the float list read from either response shape, tokens not reported', async () => {
    const texts = Array.from({ length: 100 }, (_, i) => `t${i}`);
    mock.on(InvokeModelCommand)
      .resolvesOnce({ body: body({ id: 'a', response_type: 'embeddings_by_type', embeddings: { float: texts.slice(0, 96).map(() => [0.5, 0.5]) } }) })
      .resolvesOnce({ body: body({ id: 'b', response_type: 'embeddings_floats', embeddings: texts.slice(96).map(() => [0.5, 0.5]) }) });
    const out = await provider.embed({ model: emb.models.get('cohere')!, input: texts, signal: new AbortController().signal });
    expect(sent().map((c) => c.body)).toEqual([
      { texts: texts.slice(0, 96), input_type: 'search_document', embedding_types: ['float'], truncate: 'NONE' },
      { texts: texts.slice(96), input_type: 'search_document', embedding_types: ['float'], truncate: 'NONE' },
    ]);
    expect(out.vectors).toHaveLength(100);
    expect(out.usage).toBeUndefined();
  });

  it('refuses token-id input, and turns a wrong vector count into a server error', async () => {
    await expect(provider.embed({ model: emb.models.get('titan')!, input: [[1, 2]], signal: new AbortController().signal })).rejects.toMatchObject({ kind: 'client' });
    mock.on(InvokeModelCommand).resolves({ body: body({ embeddings: [[1, 2]] }) });
    await expect(provider.embed({ model: emb.models.get('cohere')!, input: ['a', 'b'], signal: new AbortController().signal }))
      .rejects.toMatchObject({ kind: 'server', message: 'bedrock/cohere returned bad embeddings: 1 embeddings for 2 inputs' });
    mock.on(InvokeModelCommand).rejects(new ThrottlingException({ message: 'slow down', $metadata: {} }));
    await expect(provider.embed({ model: emb.models.get('titan')!, input: ['a'], signal: new AbortController().signal })).rejects.toMatchObject({ kind: 'throttled' });
  });
});

describe('BedrockProvider: Messages requests to Claude (InvokeModel, no translation)', () => {
  const mock = mockClient(BedrockRuntimeClient);
  const provider = new BedrockProvider(new BedrockRuntimeClient({ region: 'us-east-1' }), 5000, () => 1_764_400_000_000);
  beforeEach(() => mock.reset());
  const encoder = new TextEncoder();
  const body = {
    model: 'sonnet', max_tokens: 128000, stream: true, system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral', ttl: '1h' } }],
    messages: [{ role: 'user', content: 'hi' }], thinking: { type: 'enabled', budget_tokens: 8000 }, metadata: { user_id: 'dev' },
  };
  const messagesCall = (maxTokens: number): ProviderCall => ({
    ...call({}, maxTokens),
    native: { api: 'messages', body, headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'interleaved-thinking-2025-05-14, context-1m-2025-08-07' } },
  });

  it('sends the client body with Bedrock\'s anthropic_version, the betas as anthropic_beta and the priced cap, and reads the Message back', async () => {
    const message = {
      id: 'msg_bdrk_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514',
      content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'Hello.' }],
      stop_reason: 'end_turn', stop_sequence: null,
      usage: { input_tokens: 40, output_tokens: 12, cache_creation_input_tokens: 2000, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 2000 } },
    };
    mock.on(InvokeModelCommand).resolves({ $metadata: {}, contentType: 'application/json', body: encoder.encode(JSON.stringify(message)) as never });
    const out = await provider.complete(messagesCall(4000));
    const input = mock.commandCalls(InvokeModelCommand)[0].args[0].input;
    expect(input).toMatchObject({ modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0', contentType: 'application/json', accept: 'application/json' });
    // No model, stream or metadata (Bedrock refuses them); the cap the reservation priced (4,000), and the thinking
    // budget lowered below it.
    expect(JSON.parse(input.body as string)).toEqual({
      anthropic_version: 'bedrock-2023-05-31', anthropic_beta: ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'], max_tokens: 4000,
      system: body.system, messages: body.messages, thinking: { type: 'enabled', budget_tokens: 3999 },
    });
    expect(out.native).toEqual({ api: 'messages', body: message });
    expect(out.usage).toEqual({ inputTokens: 40, outputTokens: 12, cacheReadTokens: 0, cacheWriteTokens: 2000, cacheWrite1hTokens: 2000 });
    expect(out.completion.choices[0].message.content).toBe('Hello.');
  });

  it('streams Claude\'s own events through, usage from message_start and message_delta, without Bedrock\'s metrics', async () => {
    const chunk = (e: Record<string, unknown>) => ({ chunk: { bytes: encoder.encode(JSON.stringify(e)) } });
    async function* stream() {
      yield chunk({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [], stop_reason: null, usage: { input_tokens: 30, output_tokens: 1, cache_read_input_tokens: 500 } } });
      yield chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      yield chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi there' } });
      yield chunk({ type: 'content_block_stop', index: 0 });
      yield chunk({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } });
      yield chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 30, outputTokenCount: 3, invocationLatency: 400, firstByteLatency: 200 } });
    }
    mock.on(InvokeModelWithResponseStreamCommand).resolves({ $metadata: {}, contentType: 'application/json', body: stream() as never });
    const out: ProviderStreamEvent[] = [];
    for await (const e of provider.stream(messagesCall(1000))) out.push(e);
    const native = out.filter((e) => e.type === 'native') as Extract<ProviderStreamEvent, { type: 'native' }>[];
    expect(native.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(native.at(-1)!.data).toEqual({ type: 'message_stop' });
    expect(native.map((e) => e.text).join('')).toBe('Hi there');
    const usages = out.filter((e) => e.type === 'usage') as { usage?: unknown }[];
    expect(usages.at(-1)!.usage).toEqual({ inputTokens: 30, outputTokens: 3, cacheReadTokens: 500, cacheWriteTokens: 0 });
    // budget 8,000 >= cap 1,000 and no 1,024-token budget fits below it: thinking is turned off.
    expect(JSON.parse(mock.commandCalls(InvokeModelWithResponseStreamCommand)[0].args[0].input.body as string).thinking).toEqual({ type: 'disabled' });
  });

  it('keeps beta-gated fields only with their beta, and drops the fields Bedrock refuses (Claude Code\'s body)', async () => {
    mock.on(InvokeModelCommand).resolves({ $metadata: {}, body: encoder.encode(JSON.stringify({ id: 'm', type: 'message', role: 'assistant', content: [], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } })) as never });
    const claudeCode = {
      model: 'opus', max_tokens: 128000, messages: [{ role: 'user', content: 'hi' }], thinking: { type: 'adaptive', display: 'omitted' },
      metadata: { user_id: '{"device_id":"d"}' }, context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      output_config: { effort: 'medium' }, service_tier: 'auto', inference_geo: 'us',
    };
    const send = async (betas: string) => {
      mock.resetHistory();
      await provider.complete({ ...call({}, 2000), native: { api: 'messages', body: claudeCode, headers: { 'anthropic-beta': betas } } });
      return JSON.parse(mock.commandCalls(InvokeModelCommand)[0].args[0].input.body as string) as Record<string, unknown>;
    };
    const withBetas = await send('context-management-2025-06-27,effort-2025-11-24');
    expect(Object.keys(withBetas).sort()).toEqual(['anthropic_beta', 'anthropic_version', 'context_management', 'max_tokens', 'messages', 'output_config', 'thinking']);
    const without = await send('interleaved-thinking-2025-05-14');
    expect(Object.keys(without).sort()).toEqual(['anthropic_beta', 'anthropic_version', 'max_tokens', 'messages', 'thinking']);
    // Claude Code's own client marker never reaches Bedrock; a provider's anthropicBetas allowlist keeps only its flags.
    expect((await send('claude-code-20250219,interleaved-thinking-2025-05-14')).anthropic_beta).toEqual(['interleaved-thinking-2025-05-14']);
    const strict = new BedrockProvider(new BedrockRuntimeClient({ region: 'us-east-1' }), 5000, () => 0, undefined, ['effort-2025-11-24']);
    mock.resetHistory();
    await strict.complete({ ...call({}, 2000), native: { api: 'messages', body: claudeCode, headers: { 'anthropic-beta': 'effort-2025-11-24,context-management-2025-06-27' } } });
    const body = JSON.parse(mock.commandCalls(InvokeModelCommand)[0].args[0].input.body as string) as Record<string, unknown>;
    expect(body.anthropic_beta).toEqual(['effort-2025-11-24']);
    expect(body).not.toHaveProperty('context_management');
  });

  it('maps a throttled InvokeModel to a throttled ProviderError, so the chain falls back', async () => {
    mock.on(InvokeModelCommand).rejects(new ThrottlingException({ message: 'Too many tokens', $metadata: {} }));
    await expect(provider.complete(messagesCall(100))).rejects.toMatchObject({ kind: 'throttled' });
  });
});

describe('BedrockProvider: service tiers (Converse serviceTier, InvokeModel serviceTier)', () => {
  const mock = mockClient(BedrockRuntimeClient);
  const provider = new BedrockProvider(new BedrockRuntimeClient({ region: 'us-east-1' }), 5000, () => 1_764_400_000_000);
  beforeEach(() => mock.reset());
  const encoder = new TextEncoder();
  async function* events(list: ConverseStreamOutput[]): AsyncGenerator<ConverseStreamOutput> {
    for (const e of list) yield e;
  }

  it('asks Converse for the tier and reads back the tier Bedrock served at', async () => {
    mock.on(ConverseCommand).resolves({
      $metadata: {}, output: { message: { role: 'assistant', content: [{ text: 'later' }] } }, stopReason: 'end_turn',
      usage: { inputTokens: 10, outputTokens: 2, totalTokens: 12 }, serviceTier: { type: 'flex' },
    });
    const out = await provider.complete(call({ service_tier: 'flex' }, 100));
    expect(mock.commandCalls(ConverseCommand)[0].args[0].input).toEqual({
      modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0', messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      inferenceConfig: { maxTokens: 100 }, serviceTier: { type: 'flex' },
    });
    expect(out.serviceTier).toBe('flex');
  });

  it('sends no tier for a request without one, and ignores a served tier that is not one of Bedrock\'s', async () => {
    mock.on(ConverseCommand).resolves({
      $metadata: {}, output: { message: { role: 'assistant', content: [{ text: 'x' }] } }, stopReason: 'end_turn',
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }, serviceTier: { type: 'turbo' as never },
    });
    const out = await provider.complete(call({}, 100));
    expect(mock.commandCalls(ConverseCommand)[0].args[0].input.serviceTier).toBeUndefined();
    expect(out.serviceTier).toBeUndefined();
  });

  it('reads the served tier of a stream from its metadata event', async () => {
    mock.on(ConverseStreamCommand).resolves({
      $metadata: {},
      stream: events([
        { messageStart: { role: 'assistant' } },
        { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'ok' } } },
        { messageStop: { stopReason: 'end_turn' } },
        { metadata: { usage: { inputTokens: 5, outputTokens: 1, totalTokens: 6 }, metrics: { latencyMs: 10 }, serviceTier: { type: 'priority' } } },
      ]),
    });
    const out: ProviderStreamEvent[] = [];
    for await (const e of provider.stream(call({ stream: true, service_tier: 'priority' }, 50))) out.push(e);
    expect(mock.commandCalls(ConverseStreamCommand)[0].args[0].input.serviceTier).toEqual({ type: 'priority' });
    expect(out.find((e) => e.type === 'usage')).toMatchObject({ type: 'usage', serviceTier: 'priority' });
  });

  it('a throttled Flex call is a throttled ProviderError (the gateway then falls back to the standard tier)', async () => {
    mock.on(ConverseCommand).rejects(new ThrottlingException({ message: 'Flex capacity is busy', $metadata: { httpStatusCode: 429 } }));
    await expect(provider.complete(call({ service_tier: 'flex' }, 100))).rejects.toMatchObject({ kind: 'throttled' });
  });

  it('passes the tier to InvokeModel for a Messages request to Claude (not in the body, which Bedrock would refuse)', async () => {
    const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } };
    mock.on(InvokeModelCommand).resolves({ $metadata: {}, contentType: 'application/json', body: encoder.encode(JSON.stringify(message)) as never, serviceTier: 'flex' });
    const out = await provider.complete({
      ...call({ service_tier: 'flex' }, 200),
      native: { api: 'messages', body: { model: 'sonnet', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }], service_tier: 'auto' }, headers: { 'anthropic-version': '2023-06-01' } },
    });
    const input = mock.commandCalls(InvokeModelCommand)[0].args[0].input;
    expect(input.serviceTier).toBe('flex');
    expect(JSON.parse(input.body as string).service_tier).toBeUndefined();
    expect(out.serviceTier).toBe('flex');
  });
});
