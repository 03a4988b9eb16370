import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake upstream does for one request to a model. */
export type Behaviour =
  | {
      readonly kind: 'ok';
      readonly content?: string;
      readonly promptTokens?: number;
      readonly completionTokens?: number;
      readonly cachedTokens?: number;
      /** Sent verbatim as `usage` instead of the computed one: hostile or odd reports. */
      readonly rawUsage?: unknown;
      /** Stream only: send the usage on the first chunk (as some servers do) instead of after the last. */
      readonly usageOn?: 'first' | 'last';
      /** `service_tier` the answer reports (OpenAI does, in the body and on every chunk). */
      readonly serviceTier?: string;
      /** Answer only after this many ms (a request the gateway times out after the upstream did the work). */
      readonly delayMs?: number;
      /**
       * A model that writes until its cap: completion_tokens = the max_tokens / max_completion_tokens it was sent,
       * or this many when it was sent none.
       */
      readonly untilCap?: number;
    }
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: 'hang' }
  /** Stream some chunks, then cut the connection without usage. */
  | { readonly kind: 'cut'; readonly chunks: number }
  /** 200 and its headers (and, for a stream, one content chunk; for JSON, the first bytes), then silence. */
  | { readonly kind: 'hang-after-headers' }
  /** A stream whose chunks come every `everyMs`, for ever: each gap is short, the whole never ends. */
  | { readonly kind: 'drip'; readonly everyMs: number }
  /** One content chunk, then one byte every `everyMs` that never completes an event: a hostile keep-alive. */
  | { readonly kind: 'byte-drip'; readonly everyMs: number }
  /** 200 with this content type and body, verbatim: an HTML page from a proxy, garbage, nothing. */
  | { readonly kind: 'raw'; readonly contentType: string; readonly body: string }
  /** An answer of about `bytes` bytes (JSON, or as many stream chunks). */
  | { readonly kind: 'huge'; readonly bytes: number };

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

/**
 * A small OpenAI-compatible server on loopback for tests and benchmarks: POST /v1/chat/completions in JSON and SSE,
 * with scripted behaviours per model and a record of every request it received.
 */
export class FakeUpstream {
  readonly received: ReceivedRequest[] = [];
  private readonly scripts = new Map<string, Behaviour[]>();
  private readonly defaults = new Map<string, Behaviour>();
  private server?: Server;
  /** TCP connections accepted since start: a client that keeps its sockets alive opens few. */
  connections = 0;

  /** Behaviours consumed in order for the next requests to `model`; then the model's default applies. */
  script(model: string, ...behaviours: Behaviour[]): void {
    this.scripts.set(model, [...(this.scripts.get(model) ?? []), ...behaviours]);
  }

  setDefault(model: string, b: Behaviour): void {
    this.defaults.set(model, b);
  }

  reset(): void {
    this.received.length = 0;
    this.scripts.clear();
    this.defaults.clear();
  }

  get baseUrl(): string {
    return `${this.origin}/v1`;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && (path === '/v1/embeddings' || /^\/openai\/deployments\/[^/]+\/embeddings$/.test(path))) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        this.received.push({ path: req.url!, headers: req.headers, body });
        // Scripts and defaults apply here too: a status, a raw body, or an odd usage report.
        const eb = this.scripts.get(String(body.model))?.shift() ?? this.defaults.get(String(body.model));
        if (eb?.kind === 'status') {
          res.writeHead(eb.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `scripted ${eb.status}`, type: 'server_error' } }));
          return;
        }
        if (eb?.kind === 'raw') {
          res.writeHead(200, { 'content-type': eb.contentType }).end(eb.body);
          return;
        }
        // Texts, or token-id arrays (embedded and billed as their ids joined by spaces).
        const raw: unknown[] = Array.isArray(body.input) && typeof body.input[0] !== 'number' ? body.input : [body.input];
        const inputs: string[] = raw.map((t) => (typeof t === 'string' ? t : (t as number[]).join(' ')));
        // Deterministic, deliberately unnormalised vectors (x3), listed in reverse order with their index.
        const data = inputs.map((t, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(t, body.dimensions ?? 8).map((x) => x * 3) })).reverse();
        const tokens = inputs.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
        const usage = eb?.kind === 'ok' && 'rawUsage' in eb ? eb.rawUsage : { prompt_tokens: tokens, total_tokens: tokens };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model: body.model, usage }));
        return;
      }
      if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not found' } }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      this.received.push({ path: req.url!, headers: req.headers, body });
      const model = String(body.model);
      const queue = this.scripts.get(model);
      const b: Behaviour = queue?.shift() ?? this.defaults.get(model) ?? { kind: 'ok' };
      if (b.kind === 'status') {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (b.retryAfter) headers['retry-after'] = b.retryAfter;
        res.writeHead(b.status, headers).end(JSON.stringify({ error: { message: `scripted ${b.status}`, type: 'server_error' } }));
        return;
      }
      if (b.kind === 'hang') return;
      const chunkOf = (content: string) => `data: ${JSON.stringify({ id: 'chatcmpl-chaos', object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
      if (b.kind === 'raw') {
        res.writeHead(200, { 'content-type': b.contentType }).end(b.body);
        return;
      }
      if (b.kind === 'hang-after-headers') {
        res.writeHead(200, { 'content-type': body.stream ? 'text/event-stream' : 'application/json' });
        res.write(body.stream ? chunkOf('first ') : '{"id": "chatcmpl-slow", "choices": [');
        return;
      }
      if (b.kind === 'byte-drip') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunkOf('first '));
        const timer = setInterval(() => res.write(':'), b.everyMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      if (b.kind === 'drip') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write(chunkOf('drop ')), b.everyMs);
        res.on('close', () => clearInterval(timer));
        return;
      }
      if (b.kind === 'huge') {
        if (!body.stream) {
          const content = 'x'.repeat(b.bytes);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
            id: 'chatcmpl-huge', object: 'chat.completion', created: 1_700_000_000, model,
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
          }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const piece = chunkOf('y'.repeat(16_384));
        for (let sent = 0; sent < b.bytes && !res.destroyed; sent += piece.length) {
          if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
        }
        res.end('data: [DONE]\n\n');
        return;
      }
      if (b.kind === 'ok' && b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
      const content = b.kind === 'ok' ? b.content ?? `echo: ${lastUser(body)}` : 'partial answer that never ends';
      const prompt = b.kind === 'ok' ? b.promptTokens ?? 20 : 20;
      const cap = (body.max_completion_tokens ?? body.max_tokens) as number | undefined;
      const completion = b.kind === 'ok' ? (b.untilCap !== undefined ? cap ?? b.untilCap : b.completionTokens ?? 10) : 10;
      const cached = b.kind === 'ok' ? b.cachedTokens ?? 0 : 0;
      const computed = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
      const usage = b.kind === 'ok' && 'rawUsage' in b ? b.rawUsage : computed;
      const tier = b.kind === 'ok' && b.serviceTier ? { service_tier: b.serviceTier } : {};
      const usageFirst = b.kind === 'ok' && b.usageOn === 'first';
      const id = `chatcmpl-fake-${this.received.length}`;
      const created = 1_700_000_000;
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          id, object: 'chat.completion', created, model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage,
          ...tier,
        }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const words = content.split(/(?<= )/);
      const frame = (o: unknown): boolean => res.write(`data: ${JSON.stringify(o)}\n\n`);
      frame({ id, object: 'chat.completion.chunk', created, model, ...tier, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], ...(usageFirst ? { usage } : {}) });
      const n = b.kind === 'cut' ? Math.min(b.chunks, words.length) : words.length;
      for (let i = 0; i < n; i++) {
        frame({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { content: words[i] }, finish_reason: null }] });
      }
      if (b.kind === 'cut') {
        // Let the frames reach the client before the connection drops.
        await new Promise((r) => setTimeout(r, 30));
        res.socket?.destroy();
        return;
      }
      frame({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage && !usageFirst) {
        frame({ id, object: 'chat.completion.chunk', created, model, ...tier, choices: [], usage });
      }
      res.end('data: [DONE]\n\n');
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', () => this.connections++);
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }
}

function lastUser(body: Record<string, unknown>): string {
  const msgs = body.messages as { role: string; content: unknown }[];
  const m = [...msgs].reverse().find((x) => x.role === 'user');
  return typeof m?.content === 'string' ? m.content : JSON.stringify(m?.content ?? '');
}

/** Letter-frequency vector of a text, L2-normalised: equal texts embed equally, different ones differently. */
export function fakeEmbedding(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const ch of text.toLowerCase()) v[ch.charCodeAt(0) % dims] += 1;
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}
