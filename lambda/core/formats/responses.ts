/**
 * The OpenAI Responses API front door: a Responses request decoded into the chat view, answers and stream events
 * encoded back. A lazy chunk of the router bundle (loaded with the first Responses request); the upstream side is
 * responses-upstream.ts. Pure.
 */
import { InvalidRequestError } from '../errors';
import { isObject, parseJsonBody, typeName } from '../json-body';
import { checkNumber as num, checkString, MAX_JSON_DEPTH, MAX_TOKENS_CEILING, tooDeep } from '../openai/validate';

const str = (v: unknown, param: string, nonEmpty = false): string => checkString(v, param, { nonEmpty });
import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ChatRequest, ContentPart, ToolCall } from '../openai/types';
import type { TokenUsage } from '../pricing/prices';
import { sseEvent, type AnswerFacts, type Codec, type Decoded, type NativeStreamEvent, type StreamEncoder } from './wire';

type Json = Record<string, unknown>;

const bad = (message: string, param: string | null = null, code = 'invalid_value') => new InvalidRequestError(message, param, code);

/**
 * Tools OpenAI's servers run themselves (search, code, images): an upstream that is not OpenAI cannot run them, so
 * a translated request goes without them (the model answers from what it has), as other gateways do.
 */
const HOSTED_TOOLS = new Set(['web_search', 'web_search_preview', 'tool_search', 'file_search', 'code_interpreter', 'image_generation', 'computer_use_preview', 'mcp']);
/** Parameters that steer OpenAI's own service (storage, includes, metadata) and mean nothing to a translated upstream. */
const SERVICE_ONLY = new Set(['store', 'include', 'metadata', 'client_metadata', 'truncation', 'background', 'prompt', 'stream_options']);
const VIEWED = new Set([
  'model', 'input', 'instructions', 'tools', 'tool_choice', 'parallel_tool_calls', 'max_output_tokens', 'temperature', 'top_p', 'stream',
  'reasoning', 'text', 'user', 'safety_identifier', 'prompt_cache_key', 'service_tier',
]);
const REFUSED: Record<string, string> = {
  previous_response_id: 'the gateway keeps no response state: send the whole conversation in `input` with `store: false`',
  conversation: 'the gateway keeps no conversation state: send the whole conversation in `input`',
};

/** A custom (freeform) tool as a function taking one string, `input`; calls of it are mapped back on the way out. */
function customAsFunction(t: Json, i: number): unknown {
  const name = str(t.name, `tools[${i}].name`, true);
  const format = isObject(t.format) && t.format.type === 'grammar' ? ` Input follows this ${String(t.format.syntax ?? '')} grammar:\n${String(t.format.definition ?? '')}` : '';
  return {
    type: 'function',
    function: {
      name,
      description: `${typeof t.description === 'string' ? t.description : ''}${format}`.trim() || undefined,
      parameters: { type: 'object', properties: { input: { type: 'string', description: 'The raw tool input.' } }, required: ['input'] },
    },
  };
}

function contentParts(content: unknown, param: string, lossy: Set<string>): string | ContentPart[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw bad(`Invalid type for '${param}': expected a string or an array of content parts.`, param, 'invalid_type');
  const parts: ContentPart[] = [];
  content.forEach((p, j) => {
    if (!isObject(p)) throw bad(`Invalid '${param}[${j}]': expected an object.`, `${param}[${j}]`, 'invalid_type');
    switch (p.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
        parts.push({ type: 'text', text: str(p.text, `${param}[${j}].text`) });
        break;
      case 'refusal':
        parts.push({ type: 'text', text: str(p.refusal, `${param}[${j}].refusal`) });
        break;
      case 'input_image':
        if (typeof p.image_url === 'string') parts.push({ type: 'image_url', image_url: { url: p.image_url, ...(typeof p.detail === 'string' ? { detail: p.detail } : {}) } });
        else lossy.add('input_image by file_id');
        break;
      default:
        lossy.add(`'${String(p.type)}' content parts`);
    }
  });
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('') : parts;
}

function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('');
  return JSON.stringify(output ?? '');
}

/** `input` items as chat messages; a tool output without its call is refused, as OpenAI does. */
function decodeInput(input: unknown, messages: ChatMessage[], lossy: Set<string>): void {
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    return;
  }
  if (!Array.isArray(input)) throw bad(`Invalid type for 'input': expected a string or an array of items, but got ${typeName(input)}.`, 'input', 'invalid_type');
  const calls = new Set<string>();
  const lastAssistant = (): { role: 'assistant'; content: ChatMessage['content']; tool_calls: ToolCall[] } => {
    const last = messages[messages.length - 1] as { role: string; tool_calls?: ToolCall[] } | undefined;
    if (last?.role === 'assistant') {
      const m = last as { role: 'assistant'; content: ChatMessage['content']; tool_calls: ToolCall[] };
      m.tool_calls ??= [];
      return m;
    }
    const m = { role: 'assistant' as const, content: null, tool_calls: [] as ToolCall[] };
    messages.push(m);
    return m;
  };
  input.forEach((item, i) => {
    const param = `input[${i}]`;
    if (!isObject(item)) throw bad(`Invalid '${param}': expected an object.`, param, 'invalid_type');
    const type = item.type ?? 'message';
    switch (type) {
      case 'message': {
        const role = item.role;
        if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
          throw bad(`Invalid '${param}.role': expected 'user', 'assistant', 'system' or 'developer', but got ${JSON.stringify(role)}.`, `${param}.role`);
        }
        messages.push({ role, content: contentParts(item.content, `${param}.content`, lossy) } as ChatMessage);
        break;
      }
      case 'function_call':
      case 'custom_tool_call': {
        const callId = str(item.call_id, `${param}.call_id`, true);
        calls.add(callId);
        const args = type === 'function_call' ? str(item.arguments, `${param}.arguments`) : JSON.stringify({ input: str(item.input, `${param}.input`) });
        lastAssistant().tool_calls.push({ id: callId, type: 'function', function: { name: str(item.name, `${param}.name`, true), arguments: args } });
        break;
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const callId = str(item.call_id, `${param}.call_id`, true);
        if (!calls.has(callId)) throw bad(`No tool call found for ${type} with call_id ${callId}.`, `${param}.call_id`, 'tool_output_without_call');
        messages.push({ role: 'tool', tool_call_id: callId, content: outputText(item.output) });
        break;
      }
      case 'reasoning':
        // Encrypted reasoning of an OpenAI model: state only that model can read; another model goes without it.
        break;
      default:
        lossy.add(`'${String(type)}' input items`);
    }
  });
}

/** A Responses request: validated, decoded into the chat view, and kept as it came for an upstream that serves /responses. */
export function decodeResponsesRequest(raw: string, byteLength: number, maxBodyBytes: number): Decoded {
  const body = parseJsonBody(raw, byteLength, maxBodyBytes);
  if (!isObject(body)) throw bad(`The request body must be a JSON object, but got ${typeName(body)}.`, null, 'invalid_type');
  const deep = tooDeep(body, MAX_JSON_DEPTH);
  if (deep !== null) throw bad(`JSON nested deeper than ${MAX_JSON_DEPTH} levels (at ${deep.slice(0, 200)}).`, deep.split(/[.[]/)[0], 'nesting_too_deep');
  for (const [key, why] of Object.entries(REFUSED)) {
    if (body[key] !== undefined && body[key] !== null) throw bad(`'${key}' is not supported: ${why}.`, key, 'unsupported_parameter');
  }
  if (body.background === true) throw bad(`'background' is not supported: the gateway answers within the request.`, 'background', 'unsupported_parameter');
  const model = str(body.model, 'model', true);
  if (body.input === undefined) throw bad(`Missing required parameter: 'input'.`, 'input', 'missing_required_parameter');
  const lossy = new Set<string>();
  const messages: ChatMessage[] = [];
  if (body.instructions !== undefined && body.instructions !== null) {
    const text = str(body.instructions, 'instructions');
    if (text) messages.push({ role: 'system', content: text });
  }
  decodeInput(body.input, messages, lossy);
  if (!messages.some((m) => m.role !== 'system' && m.role !== 'developer')) throw bad(`Invalid 'input': no message to answer.`, 'input', 'empty_array');
  const req: Record<string, unknown> = { model, messages };
  if (body.max_output_tokens !== undefined && body.max_output_tokens !== null) req.max_completion_tokens = num(body.max_output_tokens, 'max_output_tokens', 1, MAX_TOKENS_CEILING, true);
  if (body.temperature !== undefined && body.temperature !== null) req.temperature = num(body.temperature, 'temperature', 0, 2, false);
  if (body.top_p !== undefined && body.top_p !== null) req.top_p = num(body.top_p, 'top_p', 0, 1, false);
  if (body.stream !== undefined && body.stream !== null) {
    if (typeof body.stream !== 'boolean') throw bad(`Invalid type for 'stream': expected a boolean.`, 'stream', 'invalid_type');
    if (body.stream) req.stream = true;
  }
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw bad(`Invalid type for 'tools': expected an array.`, 'tools', 'invalid_type');
    const tools: unknown[] = [];
    body.tools.forEach((t, i) => {
      if (!isObject(t)) throw bad(`Invalid 'tools[${i}]': expected an object.`, `tools[${i}]`, 'invalid_type');
      if (t.type === 'function') {
        tools.push({ type: 'function', function: { name: str(t.name, `tools[${i}].name`, true), ...(typeof t.description === 'string' ? { description: t.description } : {}), parameters: t.parameters ?? { type: 'object', properties: {} }, ...(typeof t.strict === 'boolean' ? { strict: t.strict } : {}) } });
      } else if (t.type === 'custom') tools.push(customAsFunction(t, i));
      else if (!HOSTED_TOOLS.has(String(t.type))) lossy.add(`'${String(t.type)}' tools`);
    });
    if (tools.length) req.tools = tools;
  }
  const tc = body.tool_choice;
  if (tc !== undefined && tc !== null && req.tools) {
    if (tc === 'auto' || tc === 'none' || tc === 'required') req.tool_choice = tc;
    else if (isObject(tc) && (tc.type === 'function' || tc.type === 'custom')) req.tool_choice = { type: 'function', function: { name: str(tc.name, 'tool_choice.name', true) } };
    else lossy.add('this tool_choice');
  }
  if (typeof body.parallel_tool_calls === 'boolean' && req.tools) req.parallel_tool_calls = body.parallel_tool_calls;
  if (isObject(body.reasoning) && typeof body.reasoning.effort === 'string') req.reasoning_effort = body.reasoning.effort;
  if (isObject(body.text) && isObject(body.text.format) && body.text.format.type === 'json_schema') {
    const f = body.text.format;
    req.response_format = { type: 'json_schema', json_schema: { name: f.name, schema: f.schema, ...(typeof f.strict === 'boolean' ? { strict: f.strict } : {}) } };
  } else if (isObject(body.text) && isObject(body.text.format) && body.text.format.type === 'json_object') req.response_format = { type: 'json_object' };
  if (typeof body.prompt_cache_key === 'string') req.prompt_cache_key = body.prompt_cache_key;
  if (body.service_tier !== undefined && body.service_tier !== null) req.service_tier = str(body.service_tier, 'service_tier', true);
  for (const key of Object.keys(body)) if (!VIEWED.has(key) && !SERVICE_ONLY.has(key)) lossy.add(`the '${key}' parameter`);
  const user = typeof body.safety_identifier === 'string' ? body.safety_identifier : typeof body.user === 'string' ? body.user : undefined;
  return { request: req as unknown as ChatRequest, native: { api: 'responses', body, headers: {} }, lossy: [...lossy], endUser: user || undefined };
}

/** Our usage as the Responses API counts it: input_tokens include the cached ones. */
export function toResponsesUsage(u: TokenUsage): Json {
  const input = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheReadTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: input + u.outputTokens,
  };
}

/** Names of the request's custom tools: their calls go back out as custom_tool_call items. */
function customTools(decoded: Decoded): Set<string> {
  const tools = decoded.native?.body.tools;
  return new Set(Array.isArray(tools) ? tools.filter((t) => isObject(t) && t.type === 'custom').map((t) => String((t as Json).name)) : []);
}

function callItem(tc: { id: string; name: string; arguments: string }, custom: Set<string>, status: string): Json {
  if (custom.has(tc.name)) {
    let input = tc.arguments;
    try {
      const v = JSON.parse(tc.arguments);
      if (isObject(v) && typeof v.input === 'string') input = v.input;
    } catch {
      // Not JSON: the raw text is the input.
    }
    return { id: `ctc_${tc.id}`, type: 'custom_tool_call', status, call_id: tc.id, name: tc.name, input };
  }
  return { id: `fc_${tc.id}`, type: 'function_call', status, call_id: tc.id, name: tc.name, arguments: tc.arguments };
}

function responseShell(id: string, model: string, created: number, decoded: Decoded): Json {
  const b = decoded.native?.body ?? {};
  return {
    id, object: 'response', created_at: created, status: 'in_progress', error: null, incomplete_details: null,
    instructions: b.instructions ?? null, max_output_tokens: b.max_output_tokens ?? null, model, output: [],
    parallel_tool_calls: b.parallel_tool_calls ?? true, previous_response_id: null, reasoning: b.reasoning ?? null,
    store: false, temperature: b.temperature ?? null, text: b.text ?? { format: { type: 'text' } }, tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [], top_p: b.top_p ?? null, truncation: 'disabled', usage: null, metadata: b.metadata ?? {},
  };
}

function completionToResponse(c: ChatCompletion, facts: AnswerFacts, decoded: Decoded): Json {
  const choice = c.choices[0];
  const id = `resp_${String(c.id).replace(/^chatcmpl-/, '')}`;
  const output: Json[] = [];
  if (typeof choice?.message.content === 'string' && choice.message.content) {
    output.push({ id: `msg_${String(c.id).replace(/^chatcmpl-/, '')}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: choice.message.content, annotations: [] }] });
  }
  const custom = customTools(decoded);
  for (const tc of choice?.message.tool_calls ?? []) output.push(callItem({ id: tc.id, name: tc.function.name, arguments: tc.function.arguments }, custom, 'completed'));
  const cut = choice?.finish_reason === 'length';
  return {
    ...responseShell(id, facts.model, c.created, decoded),
    status: cut ? 'incomplete' : 'completed',
    incomplete_details: cut ? { reason: 'max_output_tokens' } : null,
    output,
    usage: toResponsesUsage(facts.usage),
  };
}

/** A native event with our model name in the response object it carries. */
function withModel(data: Readonly<Json>, model: string): Json {
  return isObject(data.response) ? { ...data, response: { ...data.response, model } } : (data as Json);
}

/** Chat-view chunks (a translated upstream) as a Responses event stream, numbered from 0. */
class ResponsesEncoder implements StreamEncoder {
  private seq = 0;
  private started = false;
  private readonly output: Json[] = [];
  private open: { kind: 'text'; item: Json; text: string } | { kind: 'call'; key: number; item: Json; args: string; name: string; id: string } | undefined;
  private id = '';
  private created = 0;
  private finish: string | null = null;
  private passedThrough = false;
  private readonly custom: Set<string>;

  constructor(private readonly decoded: Decoded, private readonly model: string) {
    this.custom = customTools(decoded);
  }

  private ev(type: string, data: Json): string {
    return sseEvent(type, { type, sequence_number: this.seq++, ...data });
  }

  private start(chunk: { id?: string; created?: number }): string {
    if (this.started) return '';
    this.started = true;
    this.id = `resp_${String(chunk.id ?? '').replace(/^chatcmpl-/, '')}`;
    this.created = chunk.created ?? 0;
    const shell = responseShell(this.id, this.model, this.created, this.decoded);
    return this.ev('response.created', { response: shell }) + this.ev('response.in_progress', { response: shell });
  }

  private close(): string {
    const o = this.open;
    if (!o) return '';
    this.open = undefined;
    const index = this.output.length;
    let out = '';
    if (o.kind === 'text') {
      const part = { type: 'output_text', text: o.text, annotations: [] };
      out += this.ev('response.output_text.done', { item_id: o.item.id, output_index: index, content_index: 0, text: o.text });
      out += this.ev('response.content_part.done', { item_id: o.item.id, output_index: index, content_index: 0, part });
      const item = { ...o.item, status: 'completed', content: [part] };
      this.output.push(item);
      return out + this.ev('response.output_item.done', { output_index: index, item });
    }
    const item = callItem({ id: o.id, name: o.name, arguments: o.args }, this.custom, 'completed');
    if (item.type === 'function_call') out += this.ev('response.function_call_arguments.done', { item_id: item.id, output_index: index, arguments: o.args });
    else out += this.ev('response.custom_tool_call_input.done', { item_id: item.id, output_index: index, input: item.input });
    this.output.push(item);
    return out + this.ev('response.output_item.done', { output_index: index, item });
  }

  chunk(chunk: ChatCompletionChunk): string {
    let out = this.start(chunk);
    for (const c of chunk.choices ?? []) {
      const d = c.delta ?? {};
      if (typeof d.content === 'string' && d.content) {
        if (this.open?.kind !== 'text') {
          out += this.close();
          const item = { id: `msg_${this.id.slice(5)}_${this.output.length}`, type: 'message', role: 'assistant', status: 'in_progress', content: [] };
          this.open = { kind: 'text', item, text: '' };
          out += this.ev('response.output_item.added', { output_index: this.output.length, item });
          out += this.ev('response.content_part.added', { item_id: item.id, output_index: this.output.length, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
        }
        this.open.text += d.content;
        out += this.ev('response.output_text.delta', { item_id: this.open.item.id, output_index: this.output.length, content_index: 0, delta: d.content });
      }
      for (const raw of (d.tool_calls ?? []) as { index?: number; id?: string; function?: { name?: string; arguments?: string } }[]) {
        const key = raw.index ?? 0;
        if (raw.id || this.open?.kind !== 'call' || this.open.key !== key) {
          out += this.close();
          const id = raw.id ?? `call_${this.output.length}`;
          const name = raw.function?.name ?? '';
          const item = { ...callItem({ id, name, arguments: '' }, this.custom, 'in_progress'), ...(this.custom.has(name) ? { input: '' } : {}) };
          this.open = { kind: 'call', key, item, args: '', name, id };
          out += this.ev('response.output_item.added', { output_index: this.output.length, item });
        }
        const args = raw.function?.arguments;
        if (args && this.open.kind === 'call') {
          this.open.args += args;
          // A custom tool's input is only known whole (it is wrapped in JSON on the way in): sent at .done.
          if (!this.custom.has(this.open.name)) out += this.ev('response.function_call_arguments.delta', { item_id: this.open.item.id, output_index: this.output.length, delta: args });
        }
      }
      if (c.finish_reason) this.finish = c.finish_reason;
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
    let out = this.start({}) + this.close();
    const cut = this.finish === 'length';
    const response = {
      ...responseShell(this.id, this.model, this.created, this.decoded),
      status: cut ? 'incomplete' : 'completed',
      incomplete_details: cut ? { reason: 'max_output_tokens' } : null,
      output: this.output,
      usage: toResponsesUsage(facts.usage),
    };
    out += this.ev(cut ? 'response.incomplete' : 'response.completed', { response });
    return [out];
  }

  error(status: number, message: string): string {
    const response = { ...responseShell(this.id || 'resp_failed', this.model, this.created, this.decoded), status: 'failed', output: this.output, error: { code: status === 504 ? 'timeout' : 'server_error', message } };
    return this.ev('response.failed', { response });
  }
}

export const RESPONSES_CODEC: Codec = {
  api: 'responses',
  decode: (raw, bytes, max) => decodeResponsesRequest(raw, bytes, max),
  json(completion, facts, decoded) {
    if (facts.native?.api === 'responses') return { ...facts.native.body, model: facts.model };
    return completionToResponse(completion, facts, decoded);
  },
  encoder: (decoded, model) => new ResponsesEncoder(decoded, model),
};
