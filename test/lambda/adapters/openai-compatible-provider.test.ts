import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAiCompatibleProvider } from '../../../lambda/adapters/openai-compatible-provider';
import { readSseData } from '../../../lambda/adapters/sse-reader';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import type { ChatRequest } from '../../../lambda/core/openai/types';
import type { ProviderCall, ProviderStreamEvent } from '../../../lambda/core/ports';
import { FakeUpstream } from '../../support/upstream';

describe('OpenAiCompatibleProvider', () => {
  const upstream = new FakeUpstream();
  beforeAll(() => upstream.start());
  afterAll(() => upstream.stop());
  beforeEach(() => upstream.reset());

  const configFor = (providers: unknown[]) => resolveConfig({
    providers,
    models: [{ id: 'm', provider: 'p', upstreamModel: 'gpt-4o-mini' }],
    tiers: [{ name: 't', models: ['m'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'm' },
  });
  const call = (config: ReturnType<typeof configFor>, request: Partial<ChatRequest> = {}, maxTokens = 4096, signal = new AbortController().signal): ProviderCall => ({
    model: config.models.get('m')!,
    request: { model: 'm', messages: [{ role: 'user', content: 'hi' }], ...request } as ChatRequest,
    maxTokens,
    signal,
  });

  it('posts the client body with the upstream model, the clamped cap under the client\'s own name, and a Bearer key', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl, apiKeyEnv: 'K', headers: { 'x-org': 'acme' } }]);
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, 'sk-upstream');
    upstream.setDefault('gpt-4o-mini', { kind: 'ok', content: 'yo', promptTokens: 100, completionTokens: 7, cachedTokens: 60 });
    const out = await p.complete(call(config, { max_completion_tokens: 9000, seed: 7, user: 'u1', temperature: 0 }, 4096));
    const got = upstream.received[0];
    expect(got.path).toBe('/v1/chat/completions');
    expect(got.headers.authorization).toBe('Bearer sk-upstream');
    expect(got.headers['x-org']).toBe('acme');
    expect(got.body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 4096, seed: 7, user: 'u1', temperature: 0 });
    expect(out.usage).toEqual({ inputTokens: 40, outputTokens: 7, cacheReadTokens: 60, cacheWriteTokens: 0 });
  });

  it('gives a finished stream\'s socket back to the pool: streams one after another share one connection', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl }]);
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    upstream.setDefault('gpt-4o-mini', { kind: 'ok', content: 'one two three', promptTokens: 5, completionTokens: 3 });
    const before = upstream.connections;
    for (let i = 0; i < 5; i++) {
      const events: ProviderStreamEvent[] = [];
      for await (const e of p.stream(call(config, { stream: true, stream_options: { include_usage: true } }))) events.push(e);
      expect(events.at(-1)).toMatchObject({ type: 'usage', usage: { inputTokens: 5, outputTokens: 3 } });
      // The rest of the response (after [DONE]) is read in the background before the socket is free again.
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(upstream.connections - before).toBeLessThanOrEqual(1);
  });

  it('also reuses the socket of a stream the upstream ended without [DONE]', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl }]);
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    upstream.setDefault('gpt-4o-mini', {
      kind: 'raw', contentType: 'text/event-stream',
      body: 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
        + 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n',
    });
    const before = upstream.connections;
    for (let i = 0; i < 4; i++) {
      const events: ProviderStreamEvent[] = [];
      for await (const e of p.stream(call(config, { stream: true }))) events.push(e);
      expect(events.map((e) => e.type)).toEqual(['chunk', 'usage']);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(upstream.connections - before).toBeLessThanOrEqual(1);
  });

  it('ends the events at [DONE] at once, and cuts a response the upstream keeps open after it once the idle limit passes', async () => {
    let closed!: () => void;
    const cut = new Promise<void>((r) => (closed = r));
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n');
      res.write('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\ndata: [DONE]\n\n');
      // ... and never ends the response.
      res.on('close', closed);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, streamIdleTimeoutMs: 1000 }]);
      const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
      const t0 = Date.now();
      const events: ProviderStreamEvent[] = [];
      for await (const e of p.stream(call(config, { stream: true }))) events.push(e);
      // Well before the grace period: the client is not kept waiting for a response the upstream never ends.
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(events.map((e) => e.type)).toEqual(['chunk', 'usage']);
      await cut; // the grace period passed and the connection was cut, from our side
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('calls an Azure OpenAI deployment with api-version and the api-key header', async () => {
    const config = configFor([{ type: 'azure-openai', id: 'p', endpoint: upstream.origin, apiVersion: '2024-10-21', apiKeyEnv: 'AZ' }]);
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, 'az-key');
    await p.complete(call(config));
    const got = upstream.received[0];
    expect(got.path).toBe('/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21');
    expect(got.headers['api-key']).toBe('az-key');
    expect(got.headers.authorization).toBeUndefined();
  });

  it('embeds on an Azure deployment\'s /embeddings path (no model in the body) and on {baseUrl}/embeddings with the model', async () => {
    const azure = configFor([{ type: 'azure-openai', id: 'p', endpoint: upstream.origin, apiVersion: '2024-10-21', apiKeyEnv: 'AZ' }]);
    const out = await new OpenAiCompatibleProvider(azure.raw.providers[0] as never, 'az-key')
      .embed({ model: azure.models.get('m')!, input: ['abcd'], dimensions: 4, signal: new AbortController().signal });
    expect(upstream.received[0]).toMatchObject({ path: '/openai/deployments/gpt-4o-mini/embeddings?api-version=2024-10-21', headers: { 'api-key': 'az-key' } });
    expect(upstream.received[0].body).toEqual({ input: ['abcd'], encoding_format: 'float', dimensions: 4 });
    expect(out).toMatchObject({ vectors: [expect.any(Array)], usage: { inputTokens: 1, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 } });
    const plain = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl }]);
    await new OpenAiCompatibleProvider(plain.raw.providers[0] as never, 'k').embed({ model: plain.models.get('m')!, input: [[1, 2, 3]], signal: new AbortController().signal });
    expect(upstream.received[1]).toMatchObject({ path: '/v1/embeddings', body: { model: 'gpt-4o-mini', input: [[1, 2, 3]], encoding_format: 'float' } });
  });

  it('asks for the usage chunk on streams and yields it as a usage event', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl }]);
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    upstream.setDefault('gpt-4o-mini', { kind: 'ok', content: 'a b c', promptTokens: 5, completionTokens: 3 });
    const events: ProviderStreamEvent[] = [];
    for await (const e of p.stream(call(config, { stream: true }))) events.push(e);
    expect(upstream.received[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(events.filter((e) => e.type === 'usage')).toEqual([{ type: 'usage', usage: { inputTokens: 5, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0 } }]);
    expect(events.map((e) => (e.type === 'chunk' ? e.chunk.choices[0].delta.content ?? '' : '')).join('')).toBe('a b c');
  });

  it.each([
    [429, 'throttled'],
    [500, 'server'],
    [503, 'server'],
    [401, 'auth'],
    [404, 'auth'],
    [400, 'client'],
    [408, 'timeout'],
  ])('classifies HTTP %i as %s', async (status, kind) => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl }]);
    upstream.setDefault('gpt-4o-mini', { kind: 'status', status, retryAfter: '2' });
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    await expect(p.complete(call(config))).rejects.toMatchObject({ kind, status, retryAfterMs: 2000 });
  });

  it('times out a hanging upstream with a timeout error', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl, timeoutMs: 100 }]);
    upstream.setDefault('gpt-4o-mini', { kind: 'hang' });
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    await expect(p.complete(call(config))).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('reports a connection refused as a network error', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: 'http://127.0.0.1:1/v1' }]);
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    await expect(p.complete(call(config))).rejects.toMatchObject({ kind: 'network' });
  });

  it('raises a stream that is cut without [DONE] or usage as it happens, after the chunks already sent', async () => {
    const config = configFor([{ type: 'openai-compatible', id: 'p', baseUrl: upstream.baseUrl }]);
    upstream.setDefault('gpt-4o-mini', { kind: 'cut', chunks: 2 });
    const p = new OpenAiCompatibleProvider(config.raw.providers[0] as never, undefined);
    const seen: ProviderStreamEvent[] = [];
    await expect((async () => { for await (const e of p.stream(call(config, { stream: true }))) seen.push(e); })()).rejects.toMatchObject({ kind: 'network' });
    expect(seen.length).toBe(3);
  });
});

describe('readSseData', () => {
  async function* bytes(...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const p of parts) yield new TextEncoder().encode(p);
  }
  const collect = async (it: AsyncIterable<string>) => {
    const out: string[] = [];
    for await (const x of it) out.push(x);
    return out;
  };

  it('joins events split across reads, CRLF line ends, multi-line data and ignores comments', async () => {
    expect(await collect(readSseData(bytes('data: {"a"', ':1}\r\n\r\n: keep-alive\n\ndata: line1\ndata: line2\n\ndata:[DONE]\n\n')))).toEqual(['{"a":1}', 'line1\nline2', '[DONE]']);
  });

  it('decodes a multi-byte character split across reads', async () => {
    const b = new TextEncoder().encode('data: 数\n\n');
    async function* split(): AsyncGenerator<Uint8Array> {
      yield b.slice(0, 7);
      yield b.slice(7);
    }
    expect(await collect(readSseData(split()))).toEqual(['数']);
  });
});
