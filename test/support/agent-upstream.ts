import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Messages content block the scripted upstream answers with. */
export type ScriptBlock =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'thinking'; readonly thinking: string; readonly signature: string }
  | { readonly type: 'redacted_thinking'; readonly data: string }
  | { readonly type: 'tool_use'; readonly id: string; readonly name: string; readonly input: Record<string, unknown> };

/** Anthropic's usage block as the upstream reports it. */
export interface AnthropicUsage {
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_creation_input_tokens?: number;
  readonly cache_read_input_tokens?: number;
  readonly cache_creation?: { readonly ephemeral_5m_input_tokens: number; readonly ephemeral_1h_input_tokens: number };
}

export type MessagesTurn =
  | { readonly kind: 'message'; readonly blocks: readonly ScriptBlock[]; readonly stopReason?: string; readonly usage: AnthropicUsage }
  | { readonly kind: 'status'; readonly status: number; readonly type: string; readonly message: string }
  /** A stream that sends one byte every `everyMs`, for ever, after its first event: each gap is short, no event ever completes. */
  | { readonly kind: 'drip'; readonly everyMs: number }
  /** message_start and one text delta, then the connection is cut. */
  | { readonly kind: 'cut' };

export type ResponsesTurn =
  | { readonly kind: 'response'; readonly text?: string; readonly call?: { readonly id: string; readonly name: string; readonly arguments: string }; readonly usage: { readonly input: number; readonly cached: number; readonly output: number; readonly reasoning?: number } }
  | { readonly kind: 'status'; readonly status: number; readonly message: string };

export interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

/**
 * A scripted loopback upstream that speaks the Anthropic Messages API (`POST /v1/messages`, JSON and SSE) and the
 * OpenAI Responses API (`POST /v1/responses`, JSON and SSE), as Anthropic's and OpenAI's servers frame them. Turns
 * are consumed in order; every request is recorded.
 */
export class AgentUpstream {
  readonly received: Received[] = [];
  private messages: MessagesTurn[] = [];
  private responses: ResponsesTurn[] = [];
  private server?: Server;
  private readonly open = new Set<ServerResponse>();

  scriptMessages(...turns: MessagesTurn[]): void {
    this.messages.push(...turns);
  }

  scriptResponses(...turns: ResponsesTurn[]): void {
    this.responses.push(...turns);
  }

  reset(): void {
    this.received.length = 0;
    this.messages = [];
    this.responses = [];
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const parsed = JSON.parse(body || '{}') as Record<string, unknown>;
        this.received.push({ path: req.url ?? '', headers: req.headers, body: parsed });
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
        if (req.url?.startsWith('/v1/messages')) this.answerMessages(parsed, res);
        else if (req.url?.startsWith('/v1/responses')) this.answerResponses(parsed, res);
        else {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"not found"}}');
        }
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  private answerMessages(req: Record<string, unknown>, res: ServerResponse): void {
    const turn = this.messages.shift() ?? { kind: 'message', blocks: [{ type: 'text', text: 'ok' }], usage: { input_tokens: 10, output_tokens: 1 } };
    if (turn.kind === 'status') {
      res.writeHead(turn.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: turn.type, message: turn.message } }));
      return;
    }
    const model = req.model;
    const id = `msg_up_${this.received.length}`;
    if (!req.stream) {
      if (turn.kind !== 'message') throw new Error('drip and cut are stream behaviours');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content: turn.blocks, stop_reason: turn.stopReason ?? 'end_turn', stop_sequence: null, usage: turn.usage }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (event: string, data: Record<string, unknown>): boolean => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    if (turn.kind === 'drip') {
      ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } });
      const timer = setInterval(() => res.write(':'), turn.everyMs);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (turn.kind === 'cut') {
      ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } });
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'partial answer' } });
      setTimeout(() => res.destroy(), 20);
      return;
    }
    const { output_tokens: outputTokens, ...startUsage } = turn.usage;
    ev('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...startUsage, output_tokens: 1 } } });
    ev('ping', {});
    turn.blocks.forEach((b, index) => {
      if (b.type === 'text') {
        ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
        const half = Math.ceil(b.text.length / 2);
        for (const piece of [b.text.slice(0, half), b.text.slice(half)]) if (piece) ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
      } else if (b.type === 'thinking') {
        ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
        ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: b.thinking } });
        ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } });
      } else if (b.type === 'redacted_thinking') {
        ev('content_block_start', { index, content_block: b });
      } else {
        ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
        const json = JSON.stringify(b.input);
        const half = Math.ceil(json.length / 2);
        ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } });
        ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } });
      }
      ev('content_block_stop', { index });
    });
    ev('message_delta', { delta: { stop_reason: turn.stopReason ?? 'end_turn', stop_sequence: null }, usage: { output_tokens: outputTokens } });
    ev('message_stop', {});
    res.end();
  }

  private answerResponses(req: Record<string, unknown>, res: ServerResponse): void {
    const turn = this.responses.shift() ?? { kind: 'response', text: 'ok', usage: { input: 10, cached: 0, output: 1 } };
    if (turn.kind === 'status') {
      res.writeHead(turn.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: turn.message, type: 'invalid_request_error', code: null, param: null } }));
      return;
    }
    const id = `resp_up_${this.received.length}`;
    const output: Record<string, unknown>[] = [];
    if (turn.text !== undefined) output.push({ id: 'msg_up', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: turn.text, annotations: [] }] });
    if (turn.call) output.push({ id: 'fc_up', type: 'function_call', status: 'completed', call_id: turn.call.id, name: turn.call.name, arguments: turn.call.arguments });
    const u = turn.usage;
    const usage = {
      input_tokens: u.input, input_tokens_details: { cached_tokens: u.cached },
      output_tokens: u.output, output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 }, total_tokens: u.input + u.output,
    };
    const done = { id, object: 'response', created_at: 1, status: 'completed', model: req.model, output, usage, error: null, incomplete_details: null };
    if (!req.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(done));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let seq = 0;
    const ev = (event: string, data: Record<string, unknown>): boolean => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, sequence_number: seq++, ...data })}\n\n`);
    const shell = { ...done, status: 'in_progress', output: [], usage: null };
    ev('response.created', { response: shell });
    ev('response.in_progress', { response: shell });
    output.forEach((item, i) => {
      if (item.type === 'message') {
        ev('response.output_item.added', { output_index: i, item: { ...item, status: 'in_progress', content: [] } });
        ev('response.content_part.added', { item_id: item.id, output_index: i, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
        ev('response.output_text.delta', { item_id: item.id, output_index: i, content_index: 0, delta: turn.text });
        ev('response.output_text.done', { item_id: item.id, output_index: i, content_index: 0, text: turn.text });
        ev('response.content_part.done', { item_id: item.id, output_index: i, content_index: 0, part: (item.content as unknown[])[0] });
      } else {
        ev('response.output_item.added', { output_index: i, item: { ...item, status: 'in_progress', arguments: '' } });
        ev('response.function_call_arguments.delta', { item_id: item.id, output_index: i, delta: turn.call!.arguments });
        ev('response.function_call_arguments.done', { item_id: item.id, output_index: i, arguments: turn.call!.arguments });
      }
      ev('response.output_item.done', { output_index: i, item });
    });
    ev('response.completed', { response: done });
    res.end();
  }
}
