import { InvalidRequestError } from '../errors';
import { isObject, parseJsonBody, typeName } from '../json-body';
import type { ChatMessage, ChatRequest, Role } from './types';

/** Hard ceiling on any token count a client may ask for; larger values are surely mistakes. */
export const MAX_TOKENS_CEILING = 1_000_000;

const ROLES: ReadonlySet<Role> = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
const PART_TYPES = new Set(['text', 'image_url', 'input_audio', 'file', 'refusal']);

/** OpenAI parameters we do not interpret but pass through to OpenAI-compatible upstreams. */
const PASSTHROUGH = new Set([
  'seed', 'response_format', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs',
  'parallel_tool_calls', 'metadata', 'store', 'reasoning_effort', 'service_tier', 'modalities', 'prediction',
  'audio', 'web_search_options', 'prompt_cache_key', 'safety_identifier', 'verbosity',
]);
const KNOWN = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'stop', 'stream',
  'stream_options', 'user', 'tools', 'tool_choice',
]);

/** A string parameter (well-formed Unicode, non-empty when asked), or a 400 naming it in OpenAI's wording. */
export function checkString(v: unknown, param: string, opts: { nonEmpty?: boolean } = {}): string {
  if (typeof v !== 'string') {
    throw new InvalidRequestError(`Invalid type for '${param}': expected a string, but got ${typeName(v)}.`, param, 'invalid_type');
  }
  if (opts.nonEmpty && v.length === 0) {
    throw new InvalidRequestError(`Invalid '${param}': empty string. Expected a non-empty string.`, param, 'empty_string');
  }
  if (!v.isWellFormed()) {
    throw new InvalidRequestError(
      `Invalid '${param}': the string contains an unpaired UTF-16 surrogate and is not valid Unicode.`,
      param,
      'invalid_unicode',
    );
  }
  return v;
}

/** A number parameter within [min, max] (an integer when asked), or a 400 naming it in OpenAI's wording. */
export function checkNumber(v: unknown, param: string, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InvalidRequestError(`Invalid type for '${param}': expected a number, but got ${typeName(v)}.`, param, 'invalid_type');
  }
  if (integer && !Number.isInteger(v)) {
    throw new InvalidRequestError(`Invalid '${param}': expected an integer, but got ${v}.`, param, 'invalid_type');
  }
  if (v < min || v > max) {
    throw new InvalidRequestError(`Invalid '${param}': ${v} is out of range; expected ${min} to ${max}.`, param, 'out_of_range');
  }
  return v;
}

function checkContent(v: unknown, param: string, role: Role, hasToolCalls: boolean): void {
  if (v === null || v === undefined) {
    if (role === 'assistant' && hasToolCalls) return;
    throw new InvalidRequestError(`Missing '${param}': a ${role} message needs content.`, param, 'missing_required_parameter');
  }
  if (typeof v === 'string') {
    checkString(v, param, { nonEmpty: role !== 'assistant' });
    return;
  }
  if (!Array.isArray(v)) {
    throw new InvalidRequestError(
      `Invalid type for '${param}': expected a string or an array of content parts, but got ${typeName(v)}.`,
      param,
      'invalid_type',
    );
  }
  if (v.length === 0) {
    throw new InvalidRequestError(`Invalid '${param}': empty array. Expected at least one content part.`, param, 'empty_array');
  }
  v.forEach((part: unknown, i) => {
    const p = `${param}[${i}]`;
    if (!isObject(part)) {
      throw new InvalidRequestError(`Invalid type for '${p}': expected an object, but got ${typeName(part)}.`, p, 'invalid_type');
    }
    if (typeof part.type !== 'string' || !PART_TYPES.has(part.type)) {
      throw new InvalidRequestError(
        `Invalid value for '${p}.type': ${JSON.stringify(part.type)}. Supported: ${[...PART_TYPES].join(', ')}.`,
        `${p}.type`,
      );
    }
    if (part.type === 'text') checkString(part.text, `${p}.text`);
    if (part.cache_control !== undefined) {
      const c = part.cache_control;
      if (!isObject(c) || c.type !== 'ephemeral' || (c.ttl !== undefined && c.ttl !== '5m' && c.ttl !== '1h') || Object.keys(c).some((k) => k !== 'type' && k !== 'ttl')) {
        throw new InvalidRequestError(
          `Invalid '${p}.cache_control': expected {"type": "ephemeral"} with an optional "ttl" of "5m" or "1h", got ${JSON.stringify(c)}.`,
          `${p}.cache_control`,
        );
      }
    }
    if (part.type === 'image_url') {
      if (!isObject(part.image_url)) {
        throw new InvalidRequestError(`Missing '${p}.image_url': expected an object with a url.`, `${p}.image_url`, 'missing_required_parameter');
      }
      checkString(part.image_url.url, `${p}.image_url.url`, { nonEmpty: true });
    }
    if ((role === 'system' || role === 'developer' || role === 'tool') && part.type !== 'text') {
      throw new InvalidRequestError(`Invalid '${p}.type': ${role} messages accept only text parts.`, `${p}.type`);
    }
  });
}

function checkMessage(m: unknown, i: number): ChatMessage {
  const param = `messages[${i}]`;
  if (!isObject(m)) {
    throw new InvalidRequestError(`Invalid type for '${param}': expected an object, but got ${typeName(m)}.`, param, 'invalid_type');
  }
  if (typeof m.role !== 'string' || !ROLES.has(m.role as Role)) {
    throw new InvalidRequestError(
      `Invalid value for '${param}.role': ${JSON.stringify(m.role)}. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.`,
      `${param}.role`,
    );
  }
  const role = m.role as Role;
  let hasToolCalls = false;
  if (m.tool_calls !== undefined) {
    if (role !== 'assistant' || !Array.isArray(m.tool_calls)) {
      throw new InvalidRequestError(`Invalid '${param}.tool_calls': only assistant messages carry an array of tool calls.`, `${param}.tool_calls`);
    }
    m.tool_calls.forEach((tc: unknown, j) => {
      const p = `${param}.tool_calls[${j}]`;
      if (!isObject(tc) || !isObject(tc.function)) {
        throw new InvalidRequestError(`Invalid '${p}': expected {id, type: 'function', function: {name, arguments}}.`, p);
      }
      checkString(tc.id, `${p}.id`, { nonEmpty: true });
      checkString(tc.function.name, `${p}.function.name`, { nonEmpty: true });
      checkString(tc.function.arguments, `${p}.function.arguments`);
    });
    hasToolCalls = m.tool_calls.length > 0;
  }
  checkContent(m.content, `${param}.content`, role, hasToolCalls);
  if (m.name !== undefined) checkString(m.name, `${param}.name`, { nonEmpty: true });
  if (role === 'tool') checkString(m.tool_call_id, `${param}.tool_call_id`, { nonEmpty: true });
  return m as unknown as ChatMessage;
}

/**
 * Parses and validates a chat-completions body. Throws PayloadTooLargeError (413) or InvalidRequestError (400)
 * naming the offending parameter; never anything else for any input string.
 */
export function parseChatRequest(raw: string, byteLength: number, maxBodyBytes: number): ChatRequest {
  return validateChatRequest(parseJsonBody(raw, byteLength, maxBodyBytes));
}

/**
 * Deepest nesting a request may have. Real schemas and tool parameters stay far below it; 10,000 levels in
 * `response_format` or `metadata` would otherwise overflow the stack in every recursive step after validation
 * (cache keys, token estimates, upstream serialisation) and surface as a 500 or a 502 blamed on the upstream.
 */
export const MAX_JSON_DEPTH = 64;

/** The path of the first value nested deeper than `max` (iterative, so the check itself cannot overflow), or null. */
export function tooDeep(value: unknown, max: number): string | null {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: '' }];
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return path || '(root)';
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, depth: depth + 1, path: `${path}[${i}]` }));
    else for (const [k, x] of Object.entries(v)) stack.push({ v: x, depth: depth + 1, path: path ? `${path}.${k}` : k });
  }
  return null;
}

export function validateChatRequest(body: unknown): ChatRequest {
  if (!isObject(body)) {
    throw new InvalidRequestError(`The request body must be a JSON object, but got ${typeName(body)}.`, null, 'invalid_type');
  }
  const deep = tooDeep(body, MAX_JSON_DEPTH);
  if (deep !== null) {
    const param = deep.split(/[.[]/)[0];
    throw new InvalidRequestError(`Invalid '${param}': JSON nested deeper than ${MAX_JSON_DEPTH} levels (at ${deep.slice(0, 200)}).`, param, 'nesting_too_deep');
  }
  for (const key of Object.keys(body)) {
    if (!KNOWN.has(key) && !PASSTHROUGH.has(key)) {
      throw new InvalidRequestError(`Unrecognized request argument supplied: ${key}`, key, 'unknown_parameter');
    }
  }
  if (body.model !== undefined) checkString(body.model, 'model', { nonEmpty: true });
  if (body.messages === undefined) {
    throw new InvalidRequestError(`Missing required parameter: 'messages'.`, 'messages', 'missing_required_parameter');
  }
  if (!Array.isArray(body.messages)) {
    throw new InvalidRequestError(`Invalid type for 'messages': expected an array, but got ${typeName(body.messages)}.`, 'messages', 'invalid_type');
  }
  if (body.messages.length === 0) {
    throw new InvalidRequestError(`Invalid 'messages': empty array. Expected an array with minimum length 1.`, 'messages', 'empty_array');
  }
  body.messages.forEach(checkMessage);
  for (const key of ['max_tokens', 'max_completion_tokens'] as const) {
    if (body[key] !== undefined && body[key] !== null) checkNumber(body[key], key, 1, MAX_TOKENS_CEILING, true);
  }
  if (body.temperature !== undefined && body.temperature !== null) checkNumber(body.temperature, 'temperature', 0, 2, false);
  if (body.top_p !== undefined && body.top_p !== null) checkNumber(body.top_p, 'top_p', 0, 1, false);
  if (body.n !== undefined && body.n !== null) {
    checkNumber(body.n, 'n', 1, 128, true);
    if (body.n !== 1) {
      throw new InvalidRequestError(`Invalid 'n': the gateway serves one choice per request (n = 1); got ${body.n}.`, 'n', 'unsupported_value');
    }
  }
  if (body.stop !== undefined && body.stop !== null) {
    if (typeof body.stop === 'string') checkString(body.stop, 'stop', { nonEmpty: true });
    else if (Array.isArray(body.stop)) {
      if (body.stop.length > 4) throw new InvalidRequestError(`Invalid 'stop': at most 4 sequences, got ${body.stop.length}.`, 'stop', 'out_of_range');
      body.stop.forEach((s: unknown, i) => checkString(s, `stop[${i}]`, { nonEmpty: true }));
    } else {
      throw new InvalidRequestError(`Invalid type for 'stop': expected a string or an array of strings, but got ${typeName(body.stop)}.`, 'stop', 'invalid_type');
    }
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    throw new InvalidRequestError(`Invalid type for 'stream': expected a boolean, but got ${typeName(body.stream)}.`, 'stream', 'invalid_type');
  }
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (body.stream !== true) {
      throw new InvalidRequestError(`The 'stream_options' parameter is only allowed when 'stream' is enabled.`, 'stream_options');
    }
    if (!isObject(body.stream_options)) {
      throw new InvalidRequestError(`Invalid type for 'stream_options': expected an object.`, 'stream_options', 'invalid_type');
    }
    const iu = body.stream_options.include_usage;
    if (iu !== undefined && typeof iu !== 'boolean') {
      throw new InvalidRequestError(`Invalid type for 'stream_options.include_usage': expected a boolean, but got ${typeName(iu)}.`, 'stream_options.include_usage', 'invalid_type');
    }
  }
  if (body.user !== undefined) checkString(body.user, 'user');
  if (body.service_tier !== undefined && body.service_tier !== null) {
    checkString(body.service_tier, 'service_tier', { nonEmpty: true });
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(body.service_tier as string)) {
      throw new InvalidRequestError(`Invalid 'service_tier': expected a tier name such as 'auto', 'default', 'flex' or 'priority'.`, 'service_tier', 'invalid_value');
    }
  }
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) {
      throw new InvalidRequestError(`Invalid type for 'tools': expected an array, but got ${typeName(body.tools)}.`, 'tools', 'invalid_type');
    }
    body.tools.forEach((t: unknown, i) => {
      if (!isObject(t) || t.type !== 'function' || !isObject(t.function)) {
        throw new InvalidRequestError(`Invalid 'tools[${i}]': expected {type: 'function', function: {name, ...}}.`, `tools[${i}]`);
      }
      checkString(t.function.name, `tools[${i}].function.name`, { nonEmpty: true });
    });
  }
  return body as unknown as ChatRequest;
}

