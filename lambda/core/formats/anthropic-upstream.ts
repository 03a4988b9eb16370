/**
 * The Anthropic Messages API as an upstream speaks it (Anthropic's API, Claude on Bedrock through InvokeModel): a
 * chat view sent as a Messages body, a Message read back as a chat completion, a Messages stream read as chat chunks,
 * usage read as untrusted input. Always loaded (the providers need it); the front door's codec (anthropic.ts) is a
 * lazy chunk of the router bundle. Pure.
 */
import { InvalidRequestError } from '../errors';
import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest, ContentPart, ToolCall } from '../openai/types';
import { checkedUsage, type UsageReading } from '../pricing/prices';
import { isObject } from '../json-body';

type Json = Record<string, unknown>;


/** Anthropic stop reasons as chat finish reasons, and back. */
export const STOP_TO_FINISH: Record<string, string> = { end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter', pause_turn: 'stop', model_context_window_exceeded: 'length' };
export const FINISH_TO_STOP: Record<string, string> = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', content_filter: 'refusal', function_call: 'tool_use' };

/** Tool arguments (a JSON string) as the object Anthropic's tool_use.input holds; what does not parse is kept raw. */
export function parseArguments(args: string): unknown {
  try {
    const v = JSON.parse(args || '{}');
    return isObject(v) ? v : { value: v };
  } catch {
    return { _raw: args };
  }
}


/**
 * A Messages body with the output cap the reservation priced. A thinking budget must stay below max_tokens
 * (Anthropic refuses the request otherwise): a cap fitted below the client's budget lowers the budget with it, and
 * turns thinking off where no budget of at least 1,024 tokens (Anthropic's minimum) fits.
 */
export function withOutputCap(body: Readonly<Json>, maxTokens: number): Json {
  const out: Json = { ...body, max_tokens: maxTokens };
  const t = body.thinking;
  if (isObject(t) && t.type === 'enabled' && typeof t.budget_tokens === 'number' && t.budget_tokens >= maxTokens) {
    out.thinking = maxTokens - 1 >= 1024 ? { ...t, budget_tokens: maxTokens - 1 } : { type: 'disabled' };
  }
  return out;
}

/** Anthropic's usage block, read as untrusted input (1-hour writes from cache_creation.ephemeral_1h_input_tokens). */
export function readAnthropicUsage(u: unknown): UsageReading {
  if (!isObject(u)) return {};
  const n = (v: unknown): number => (v === undefined || v === null ? 0 : (v as number));
  const oneHour = isObject(u.cache_creation) ? n(u.cache_creation.ephemeral_1h_input_tokens) : 0;
  return checkedUsage({
    inputTokens: n(u.input_tokens),
    outputTokens: n(u.output_tokens),
    cacheReadTokens: n(u.cache_read_input_tokens),
    cacheWriteTokens: n(u.cache_creation_input_tokens),
    ...(oneHour ? { cacheWrite1hTokens: oneHour } : {}),
  });
}

function partToBlock(p: ContentPart): Json {
  const cc = (p as { cache_control?: unknown }).cache_control;
  const extra = cc ? { cache_control: cc } : {};
  if (p.type === 'text') return { type: 'text', text: p.text, ...extra };
  if (p.type === 'image_url') {
    const url = p.image_url.url;
    const m = /^data:(image\/[a-z]+);base64,(.*)$/s.exec(url);
    return { type: 'image', source: m ? { type: 'base64', media_type: m[1], data: m[2] } : { type: 'url', url }, ...extra };
  }
  throw new InvalidRequestError(`'${p.type}' content parts cannot be sent to an Anthropic model.`, 'messages', 'untranslatable_content');
}

function contentBlocks(content: ChatMessage['content']): Json[] {
  if (content === null) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return content.map(partToBlock);
}

/**
 * A chat view as a Messages body, for a chat or Responses request routed to an Anthropic-speaking upstream: system
 * messages lifted out, tool results as tool_result blocks of a user turn, same-role turns merged.
 */
export function chatToMessagesBody(req: ChatRequest, model: string | undefined, maxTokens: number, stream: boolean): Json {
  const system: Json[] = [];
  const messages: { role: 'user' | 'assistant'; content: Json[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: Json[]): void => {
    if (!blocks.length) return;
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of req.messages) {
    if (m.role === 'system' || m.role === 'developer') system.push(...contentBlocks(m.content));
    else if (m.role === 'user') push('user', contentBlocks(m.content));
    else if (m.role === 'assistant') {
      const blocks = contentBlocks(m.content);
      for (const tc of m.tool_calls ?? []) blocks.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input: parseArguments(tc.function.arguments) });
      push('assistant', blocks);
    } else if (m.role === 'tool') {
      push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: contentBlocks(m.content) }]);
    }
  }
  const body: Json = { messages, max_tokens: maxTokens };
  if (model !== undefined) body.model = model;
  if (system.length) body.system = system;
  if (req.temperature !== undefined && req.temperature !== null) {
    if (req.temperature > 1) throw new InvalidRequestError(`temperature ${req.temperature} is above 1, the most an Anthropic model takes.`, 'temperature', 'out_of_range');
    body.temperature = req.temperature;
  }
  if (req.top_p !== undefined && req.top_p !== null) body.top_p = req.top_p;
  if (req.stop !== undefined && req.stop !== null) body.stop_sequences = typeof req.stop === 'string' ? [req.stop] : [...req.stop];
  if (req.tools?.length && req.tool_choice !== 'none') {
    body.tools = (req.tools as { function: { name: string; description?: string; parameters?: unknown } }[]).map((t) => ({
      name: t.function.name,
      ...(t.function.description ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    }));
    const tc = req.tool_choice as string | { function?: { name?: string } } | undefined;
    const noParallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
    if (tc === 'required') body.tool_choice = { type: 'any', ...noParallel };
    else if (typeof tc === 'object' && tc?.function?.name) body.tool_choice = { type: 'tool', name: tc.function.name, ...noParallel };
    else if (tc === 'auto' || req.parallel_tool_calls === false) body.tool_choice = { type: 'auto', ...noParallel };
  }
  if (stream) body.stream = true;
  return body;
}

/** A Message (Anthropic's JSON answer) as a chat completion view; throws a description of what is wrong with it. */
export function messageToCompletion(msg: unknown, modelId: string, created: number): ChatCompletion {
  if (!isObject(msg) || !Array.isArray(msg.content)) throw new Error('the answer has no content array');
  let text = '';
  const calls: ToolCall[] = [];
  for (const b of msg.content as Json[]) {
    if (b?.type === 'text' && typeof b.text === 'string') text += b.text;
    else if (b?.type === 'tool_use') calls.push({ id: String(b.id), type: 'function', function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) } });
  }
  return {
    id: typeof msg.id === 'string' ? msg.id : `msg_${created}`,
    object: 'chat.completion',
    created,
    model: modelId,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: text || (calls.length ? null : ''), ...(calls.length ? { tool_calls: calls } : {}) },
      finish_reason: STOP_TO_FINISH[String(msg.stop_reason)] ?? 'stop',
    }],
  };
}

/** What one Messages stream event means to the gateway. */
export interface AnthropicStreamStep {
  /** The event as chat-view chunks, for a client of another format. */
  readonly chunks: ChatCompletionChunk[];
  /** Answer text (text, tool input, thinking) the event adds. */
  readonly text: string;
  /** The usage so far, after an event that carried usage. */
  readonly usage?: UsageReading;
  /** An `error` event: the stream failed upstream. */
  readonly error?: { readonly type: string; readonly message: string };
}

/**
 * Reads a Messages event stream: message_start carries input and cache counts, message_delta the output count
 * (cumulative; newer servers repeat the input counts there too). The last value of each field wins.
 */
export class AnthropicStreamReader {
  private usage: Json = {};
  private id = '';
  private readonly tools = new Map<number, number>();

  constructor(private readonly modelId: string, private readonly created: number) {}

  private chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finish: string | null = null): ChatCompletionChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.modelId, choices: [{ index: 0, delta, finish_reason: finish }] };
  }

  private merge(u: unknown): UsageReading {
    if (isObject(u)) for (const [k, v] of Object.entries(u)) if (v !== null && v !== undefined) this.usage[k] = v;
    return readAnthropicUsage(this.usage);
  }

  read(data: Json): AnthropicStreamStep {
    switch (data.type) {
      case 'message_start': {
        const m = isObject(data.message) ? data.message : {};
        this.id = typeof m.id === 'string' ? m.id : '';
        return { chunks: [this.chunk({ role: 'assistant', content: '' })], text: '', usage: this.merge(m.usage) };
      }
      case 'content_block_start': {
        const b = isObject(data.content_block) ? data.content_block : {};
        if (b.type === 'tool_use') {
          const idx = this.tools.size;
          this.tools.set(Number(data.index), idx);
          return { chunks: [this.chunk({ tool_calls: [{ index: idx, id: b.id, type: 'function', function: { name: b.name, arguments: '' } }] })], text: String(b.name ?? '') };
        }
        if (b.type === 'text' && typeof b.text === 'string' && b.text) return { chunks: [this.chunk({ content: b.text })], text: b.text };
        return { chunks: [], text: '' };
      }
      case 'content_block_delta': {
        const d = isObject(data.delta) ? data.delta : {};
        if (d.type === 'text_delta' && typeof d.text === 'string') return { chunks: [this.chunk({ content: d.text })], text: d.text };
        if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
          return { chunks: [this.chunk({ tool_calls: [{ index: this.tools.get(Number(data.index)) ?? 0, function: { arguments: d.partial_json } }] })], text: d.partial_json };
        }
        if (d.type === 'thinking_delta' && typeof d.thinking === 'string') return { chunks: [], text: d.thinking };
        return { chunks: [], text: '' };
      }
      case 'message_delta': {
        const d = isObject(data.delta) ? data.delta : {};
        const finish = d.stop_reason ? STOP_TO_FINISH[String(d.stop_reason)] ?? 'stop' : null;
        return { chunks: finish ? [this.chunk({}, finish)] : [], text: '', usage: this.merge(data.usage) };
      }
      case 'error': {
        const e = isObject(data.error) ? data.error : {};
        return { chunks: [], text: '', error: { type: String(e.type ?? 'api_error'), message: String(e.message ?? 'stream error') } };
      }
      default:
        return { chunks: [], text: '' };
    }
  }
}
