/**
 * The Anthropic Messages API front door: a Messages request decoded into the chat view, answers and stream events
 * encoded back. A lazy chunk of the router bundle (loaded with the first Messages request); the upstream side is
 * anthropic-upstream.ts. Pure.
 */
import { InvalidRequestError } from '../errors';
import { isObject, parseJsonBody, typeName } from '../json-body';
import { MAX_JSON_DEPTH, MAX_TOKENS_CEILING, tooDeep } from '../openai/validate';
import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest, ContentPart, ToolCall } from '../openai/types';
import type { TokenUsage } from '../pricing/prices';
import { FINISH_TO_STOP, parseArguments } from './anthropic-upstream';
import { anthropicErrorType } from './error-shapes';
import { sseEvent, type AnswerFacts, type Codec, type Decoded, type HeaderReader, type NativeStreamEvent, type StreamEncoder } from './wire';

type Json = Record<string, unknown>;


function bad(message: string, param: string | null = null, code = 'invalid_value'): InvalidRequestError {
  return new InvalidRequestError(message, param, code);
}

function str(v: unknown, param: string, nonEmpty = false): string {
  if (typeof v !== 'string') throw bad(`${param}: expected a string, got ${typeName(v)}.`, param, 'invalid_type');
  if (nonEmpty && !v.length) throw bad(`${param}: expected a non-empty string.`, param, 'empty_string');
  if (!v.isWellFormed()) throw bad(`${param}: the string contains an unpaired UTF-16 surrogate.`, param, 'invalid_unicode');
  return v;
}

function num(v: unknown, param: string, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw bad(`${param}: expected ${integer ? 'an integer' : 'a number'}, got ${typeName(v) === 'number' ? v : typeName(v)}.`, param, 'invalid_type');
  }
  if (v < min || v > max) throw bad(`${param}: ${v} is out of range (${min} to ${max}).`, param, 'out_of_range');
  return v;
}

/** Top-level Messages parameters the chat view carries; any other is forwarded only to an Anthropic-speaking upstream. */
const TRANSLATED = new Set([
  'model', 'messages', 'system', 'max_tokens', 'stop_sequences', 'temperature', 'top_p', 'stream', 'tools', 'tool_choice',
  'metadata', 'thinking', 'service_tier',
]);


/** An image block's source as a chat image part (base64 as a data URL). */
function imagePart(block: Json, param: string): ContentPart {
  const src = block.source;
  if (!isObject(src)) throw bad(`${param}.source: expected an object.`, `${param}.source`, 'invalid_type');
  if (src.type === 'base64') {
    const media = str(src.media_type, `${param}.source.media_type`, true);
    if (!/^image\/(png|jpeg|gif|webp)$/.test(media)) throw bad(`${param}.source.media_type: '${media}' is not image/png, image/jpeg, image/gif or image/webp.`, `${param}.source.media_type`);
    return { type: 'image_url', image_url: { url: `data:${media};base64,${str(src.data, `${param}.source.data`, true)}` } };
  }
  if (src.type === 'url') return { type: 'image_url', image_url: { url: str(src.url, `${param}.source.url`, true) } };
  throw bad(`${param}.source.type: expected 'base64' or 'url', got ${JSON.stringify(src.type)}.`, `${param}.source.type`);
}

function cacheControl(block: Json): { cache_control?: { type: 'ephemeral'; ttl?: '5m' | '1h' } } {
  const c = block.cache_control;
  if (!isObject(c) || c.type !== 'ephemeral') return {};
  return { cache_control: c.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' } };
}

function textPart(block: Json, param: string): ContentPart {
  return { type: 'text', text: str(block.text, `${param}.text`), ...cacheControl(block) };
}

function blocksOf(content: unknown, param: string): Json[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw bad(`${param}: expected a string or an array of content blocks, got ${typeName(content)}.`, param, 'invalid_type');
  return content.map((b, i) => {
    if (!isObject(b) || typeof b.type !== 'string') throw bad(`${param}[${i}]: expected a content block with a string 'type'.`, `${param}[${i}]`, 'invalid_type');
    return b;
  });
}

interface Decoding {
  readonly lossy: Set<string>;
  readonly messages: ChatMessage[];
}

/** A tool_result's content as the text a chat tool message carries; images in it are lossy for translated upstreams. */
function toolResultText(block: Json, param: string, d: Decoding): string {
  if (block.content === undefined) return '';
  const blocks = blocksOf(block.content, `${param}.content`);
  const texts: string[] = [];
  blocks.forEach((b, i) => {
    if (b.type === 'text') texts.push(str(b.text, `${param}.content[${i}].text`));
    else d.lossy.add(`'${b.type}' blocks inside tool_result`);
  });
  return texts.join('\n');
}

/** Decodes one message; returns the tool_use ids a following user turn may answer. */
function decodeMessage(m: unknown, i: number, d: Decoding, previousToolUses: Set<string>): Set<string> {
  const param = `messages[${i}]`;
  if (!isObject(m)) throw bad(`${param}: expected an object.`, param, 'invalid_type');
  if (m.role !== 'user' && m.role !== 'assistant' && m.role !== 'system') {
    throw bad(`${param}.role: expected 'user', 'assistant' or 'system', got ${JSON.stringify(m.role)}.`, `${param}.role`);
  }
  if (m.role === 'system') {
    // Per-turn system messages (Claude Code puts its environment in one): a system message of the view, in place.
    const sys = decodeSystem(m.content, `${param}.content`);
    if (sys) d.messages.push(sys);
    return previousToolUses;
  }
  const blocks = blocksOf(m.content, `${param}.content`);
  const parts: ContentPart[] = [];
  const toolUses = new Set<string>();
  if (m.role === 'assistant') {
    const calls: ToolCall[] = [];
    blocks.forEach((b, j) => {
      const p = `${param}.content[${j}]`;
      if (b.type === 'text') {
        parts.push(textPart(b, p));
        return;
      }
      switch (b.type) {
        case 'tool_use': {
          const id = str(b.id, `${p}.id`, true);
          if (!isObject(b.input)) throw bad(`${p}.input: expected an object.`, `${p}.input`, 'invalid_type');
          toolUses.add(id);
          calls.push({ id, type: 'function', function: { name: str(b.name, `${p}.name`, true), arguments: JSON.stringify(b.input) } });
          break;
        }
        case 'thinking':
          str(b.thinking, `${p}.thinking`);
          break;
        case 'redacted_thinking':
          str(b.data, `${p}.data`);
          break;
        default:
          d.lossy.add(`'${b.type}' blocks`);
      }
    });
    // Thinking blocks are the model's own state, signed for Claude: another model neither reads nor needs them.
    const text = parts.length === 1 && !('cache_control' in parts[0]) ? (parts[0] as { text: string }).text : parts;
    d.messages.push({ role: 'assistant', content: calls.length && !parts.length ? null : text, ...(calls.length ? { tool_calls: calls } : {}) });
    return toolUses;
  }
  blocks.forEach((b, j) => {
    const p = `${param}.content[${j}]`;
    switch (b.type) {
      case 'text':
        parts.push(textPart(b, p));
        break;
      case 'image':
        parts.push({ ...imagePart(b, p), ...cacheControl(b) } as ContentPart);
        break;
      case 'tool_result': {
        const id = str(b.tool_use_id, `${p}.tool_use_id`, true);
        if (!previousToolUses.has(id)) {
          throw bad(`${p}: tool_result for tool_use_id '${id}' has no matching tool_use block in the previous assistant message.`, `${p}.tool_use_id`, 'tool_result_without_call');
        }
        d.messages.push({ role: 'tool', tool_call_id: id, content: toolResultText(b, p, d) });
        break;
      }
      default:
        d.lossy.add(`'${b.type}' blocks`);
    }
  });
  if (parts.length) {
    const text = parts.length === 1 && parts[0].type === 'text' && !('cache_control' in parts[0]) ? (parts[0] as { text: string }).text : parts;
    d.messages.push({ role: 'user', content: text });
  }
  return toolUses;
}

function decodeTools(tools: unknown, d: Decoding): unknown[] | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) throw bad(`tools: expected an array, got ${typeName(tools)}.`, 'tools', 'invalid_type');
  const out: unknown[] = [];
  tools.forEach((t, i) => {
    if (!isObject(t)) throw bad(`tools[${i}]: expected an object.`, `tools[${i}]`, 'invalid_type');
    const name = str(t.name, `tools[${i}].name`, true);
    if (t.type !== undefined && t.type !== 'custom') {
      d.lossy.add(`server tool '${String(t.type)}'`);
      return;
    }
    if (!isObject(t.input_schema)) throw bad(`tools[${i}].input_schema: expected a JSON Schema object.`, `tools[${i}].input_schema`, 'invalid_type');
    out.push({ type: 'function', function: { name, ...(typeof t.description === 'string' ? { description: t.description } : {}), parameters: t.input_schema } });
  });
  return out;
}

function decodeToolChoice(tc: unknown): { tool_choice?: unknown; parallel_tool_calls?: boolean } {
  if (tc === undefined) return {};
  if (!isObject(tc)) throw bad(`tool_choice: expected an object, got ${typeName(tc)}.`, 'tool_choice', 'invalid_type');
  const parallel = tc.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  switch (tc.type) {
    case 'auto':
      return { tool_choice: 'auto', ...parallel };
    case 'any':
      return { tool_choice: 'required', ...parallel };
    case 'none':
      return { tool_choice: 'none' };
    case 'tool':
      return { tool_choice: { type: 'function', function: { name: str(tc.name, 'tool_choice.name', true) } }, ...parallel };
    default:
      throw bad(`tool_choice.type: expected 'auto', 'any', 'tool' or 'none', got ${JSON.stringify(tc.type)}.`, 'tool_choice.type');
  }
}

function decodeSystem(system: unknown, param = 'system'): ChatMessage | undefined {
  if (system === undefined) return undefined;
  if (typeof system === 'string') return system ? { role: 'system', content: system } : undefined;
  const blocks = blocksOf(system, param);
  const parts: ContentPart[] = blocks.map((b, i) => {
    if (b.type !== 'text') throw bad(`${param}[${i}]: system blocks must be text, got '${String(b.type)}'.`, `${param}[${i}].type`);
    return textPart(b, `${param}[${i}]`);
  });
  return parts.length ? { role: 'system', content: parts } : undefined;
}

/**
 * The developer behind a `metadata.user_id`. Claude Code sends a JSON object of device, account and session ids: the
 * account (else the device) is the developer, the session changes every run. Other clients' ids are taken whole.
 */
export function stableUser(userId: string): string | undefined {
  if (!userId) return undefined;
  if (userId.startsWith('{')) {
    try {
      const v = JSON.parse(userId) as Record<string, unknown>;
      const who = (typeof v.account_uuid === 'string' && v.account_uuid) || (typeof v.device_id === 'string' && v.device_id);
      if (who) return who;
    } catch {
      // Not JSON after all: the id as it is.
    }
  }
  return userId;
}

/** The Messages headers an Anthropic-speaking upstream understands. */
function forwardedHeaders(headers: HeaderReader): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of ['anthropic-version', 'anthropic-beta']) {
    const v = headers(h);
    if (v) out[h] = v;
  }
  return out;
}

/**
 * A Messages request: validated as Anthropic's API does (400 naming the field), decoded into the chat view, and kept
 * as it came for an Anthropic-speaking upstream. What the view cannot carry is listed in `lossy`.
 */
export function decodeMessagesRequest(raw: string, byteLength: number, maxBodyBytes: number, headers: HeaderReader, opts: { readonly countOnly?: boolean } = {}): Decoded {
  const body = parseJsonBody(raw, byteLength, maxBodyBytes);
  if (!isObject(body)) throw bad(`The request body must be a JSON object, got ${typeName(body)}.`, null, 'invalid_type');
  const deep = tooDeep(body, MAX_JSON_DEPTH);
  if (deep !== null) throw bad(`JSON nested deeper than ${MAX_JSON_DEPTH} levels (at ${deep.slice(0, 200)}).`, deep.split(/[.[]/)[0], 'nesting_too_deep');
  const model = str(body.model, 'model', true);
  // count_tokens takes the same body without max_tokens.
  if (body.max_tokens === undefined && !opts.countOnly) throw bad('max_tokens: Field required.', 'max_tokens', 'missing_required_parameter');
  const maxTokens = body.max_tokens === undefined ? undefined : num(body.max_tokens, 'max_tokens', 1, MAX_TOKENS_CEILING, true);
  if (!Array.isArray(body.messages)) throw bad(`messages: expected an array, got ${typeName(body.messages)}.`, 'messages', 'invalid_type');
  if (!body.messages.length) throw bad('messages: at least one message is required.', 'messages', 'empty_array');
  const d: Decoding = { lossy: new Set(), messages: [] };
  const system = decodeSystem(body.system);
  if (system) d.messages.push(system);
  let toolUses = new Set<string>();
  body.messages.forEach((m, i) => {
    const uses = decodeMessage(m, i, d, toolUses);
    toolUses = (m as Json).role === 'user' ? new Set() : uses;
  });
  const req: Record<string, unknown> = { model, messages: d.messages, ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }) };
  if (body.stream !== undefined) {
    if (typeof body.stream !== 'boolean') throw bad(`stream: expected a boolean, got ${typeName(body.stream)}.`, 'stream', 'invalid_type');
    if (body.stream) req.stream = true;
  }
  if (body.temperature !== undefined) req.temperature = num(body.temperature, 'temperature', 0, 1, false);
  if (body.top_p !== undefined) req.top_p = num(body.top_p, 'top_p', 0, 1, false);
  if (body.top_k !== undefined) num(body.top_k, 'top_k', 0, 1_000_000, true);
  if (body.stop_sequences !== undefined) {
    if (!Array.isArray(body.stop_sequences)) throw bad('stop_sequences: expected an array of strings.', 'stop_sequences', 'invalid_type');
    const stops = body.stop_sequences.map((s, i) => str(s, `stop_sequences[${i}]`, true));
    if (stops.length > 4) d.lossy.add('more than 4 stop_sequences');
    if (stops.length) req.stop = stops;
  }
  const tools = decodeTools(body.tools, d);
  if (tools?.length) req.tools = tools;
  Object.assign(req, decodeToolChoice(body.tool_choice));
  let endUser: string | undefined;
  if (body.metadata !== undefined) {
    if (!isObject(body.metadata)) throw bad('metadata: expected an object.', 'metadata', 'invalid_type');
    if (body.metadata.user_id !== undefined && body.metadata.user_id !== null) endUser = stableUser(str(body.metadata.user_id, 'metadata.user_id'));
  }
  if (body.thinking !== undefined && !isObject(body.thinking)) throw bad('thinking: expected an object.', 'thinking', 'invalid_type');
  if (body.service_tier !== undefined) str(body.service_tier, 'service_tier', true);
  for (const key of Object.keys(body)) if (!TRANSLATED.has(key)) d.lossy.add(`the '${key}' parameter`);
  return {
    request: req as unknown as ChatRequest,
    native: { api: 'messages', body, headers: forwardedHeaders(headers) },
    lossy: [...d.lossy],
    endUser,
  };
}

/** Our usage as Anthropic's: input_tokens excludes cache reads and writes, as Anthropic counts it. */
export function toAnthropicUsage(u: TokenUsage): Json {
  const oneHour = u.cacheWrite1hTokens ?? 0;
  return {
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_read_input_tokens: u.cacheReadTokens,
    cache_creation: { ephemeral_5m_input_tokens: u.cacheWriteTokens - oneHour, ephemeral_1h_input_tokens: oneHour },
  };
}

/** A chat completion (of a translated upstream) as a Message. */
function completionToMessage(c: ChatCompletion, facts: AnswerFacts): Json {
  const choice = c.choices[0];
  const content: Json[] = [];
  const msg = choice?.message as (ChatCompletion['choices'][number]['message'] & { reasoning_content?: unknown }) | undefined;
  if (typeof msg?.content === 'string' && msg.content) content.push({ type: 'text', text: msg.content });
  for (const tc of msg?.tool_calls ?? []) content.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input: parseArguments(tc.function.arguments) });
  return {
    id: `msg_${String(c.id).replace(/^chatcmpl-/, '')}`,
    type: 'message',
    role: 'assistant',
    model: facts.model,
    content,
    stop_reason: FINISH_TO_STOP[choice?.finish_reason ?? 'stop'] ?? 'end_turn',
    stop_sequence: null,
    usage: toAnthropicUsage(facts.usage),
  };
}

/** A native event with our model name in its message (message_start). */
function withModel(data: Readonly<Json>, model: string): Json {
  if (isObject(data.message)) return { ...data, message: { ...data.message, model } };
  return data as Json;
}

/**
 * Chat-view chunks (a translated upstream) as a Messages event stream: message_start, ping, one content block per
 * text / tool call in order, message_delta with the stop reason and the whole usage, message_stop.
 */
class MessagesEncoder implements StreamEncoder {
  private started = false;
  private open: { kind: 'text' | 'tool'; key: number } | undefined;
  private index = -1;
  private stop: string | null = null;
  private id = '';
  private passedThrough = false;

  constructor(private readonly model: string) {}

  private start(id: string): string {
    if (this.started) return '';
    this.started = true;
    this.id = `msg_${id.replace(/^chatcmpl-/, '')}`;
    return sseEvent('message_start', {
      type: 'message_start',
      message: { id: this.id, type: 'message', role: 'assistant', model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } },
    }) + sseEvent('ping', { type: 'ping' });
  }

  private close(): string {
    if (!this.open) return '';
    this.open = undefined;
    return sseEvent('content_block_stop', { type: 'content_block_stop', index: this.index });
  }

  chunk(chunk: ChatCompletionChunk): string {
    let out = this.start(chunk.id ?? '');
    for (const c of chunk.choices ?? []) {
      const delta = c.delta ?? {};
      if (typeof delta.content === 'string' && delta.content) {
        if (this.open?.kind !== 'text') {
          out += this.close();
          this.open = { kind: 'text', key: -1 };
          out += sseEvent('content_block_start', { type: 'content_block_start', index: ++this.index, content_block: { type: 'text', text: '' } });
        }
        out += sseEvent('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'text_delta', text: delta.content } });
      }
      for (const raw of (delta.tool_calls ?? []) as { index?: number; id?: string; function?: { name?: string; arguments?: string } }[]) {
        const key = raw.index ?? 0;
        if (raw.id || this.open?.kind !== 'tool' || this.open.key !== key) {
          out += this.close();
          this.open = { kind: 'tool', key };
          out += sseEvent('content_block_start', { type: 'content_block_start', index: ++this.index, content_block: { type: 'tool_use', id: raw.id ?? `toolu_${this.index}`, name: raw.function?.name ?? '', input: {} } });
        }
        if (raw.function?.arguments) {
          out += sseEvent('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'input_json_delta', partial_json: raw.function.arguments } });
        }
      }
      if (c.finish_reason) this.stop = FINISH_TO_STOP[c.finish_reason] ?? 'end_turn';
    }
    return out;
  }

  native(ev: NativeStreamEvent): string {
    this.passedThrough = true;
    return sseEvent(ev.event, withModel(ev.data, this.model));
  }

  end(facts: AnswerFacts): string[] {
    // A native stream carried its own ending (message_stop, response.completed): nothing to add.
    if (this.passedThrough) return [];
    const out = this.start('') + this.close();
    const delta = sseEvent('message_delta', { type: 'message_delta', delta: { stop_reason: this.stop ?? 'end_turn', stop_sequence: null }, usage: toAnthropicUsage(facts.usage) });
    return [out + delta + sseEvent('message_stop', { type: 'message_stop' })];
  }

  error(status: number, message: string): string {
    return sseEvent('error', { type: 'error', error: { type: anthropicErrorType(status), message } });
  }
}

export const MESSAGES_CODEC: Codec = {
  api: 'messages',
  decode: decodeMessagesRequest,
  json(completion, facts) {
    if (facts.native?.api === 'messages') return { ...facts.native.body, model: facts.model };
    return completionToMessage(completion, facts);
  },
  encoder: (_decoded, model) => new MessagesEncoder(model),
};
