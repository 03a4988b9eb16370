import type { ChatRequest, ContentPart } from '../openai/types';
import { messageText } from '../openai/types';
import type { Sha256 } from '../ports';

/**
 * Request fields that cannot change an answer's content: transport (stream, stream_options), bookkeeping (user,
 * metadata, store, safety_identifier, prompt_cache_key), the service tier (speed and price, not content), and those
 * the key carries in normalised form (model as the route target, max_tokens / max_completion_tokens as the cap).
 * Every other field (sampling, penalties, logit_bias, reasoning_effort, verbosity, response_format, seed, stop,
 * modalities, audio, prediction, tool settings, and any field added later) is part of the key: a parameter the key
 * ignored would serve one request the answer of another.
 */
const NOT_ANSWER_CHANGING = new Set([
  'messages', 'model', 'max_tokens', 'max_completion_tokens', 'stream', 'stream_options', 'user', 'metadata', 'store',
  'safety_identifier', 'prompt_cache_key', 'service_tier',
]);

/** The answer-changing parameters of a request besides its messages, keys sorted so equal requests hash equally. */
function answerParams(req: ChatRequest): [string, unknown][] {
  return Object.keys(req)
    .filter((k) => !NOT_ANSWER_CHANGING.has(k) && req[k] !== undefined && req[k] !== null)
    .sort()
    .map((k) => [k, req[k]]);
}

/**
 * Exact-cache key: the tenant plus everything that changes the answer. The tenant is part of the hashed material,
 * so two tenants can never share an entry even with identical prompts.
 */
export function exactCacheKey(sha256: Sha256, tenant: string, routeTarget: string, req: ChatRequest, maxTokens: number | undefined): string {
  const material = JSON.stringify(['v2', tenant, routeTarget, req.messages, maxTokens ?? null, answerParams(req)]);
  return `exact:${tenant}:${sha256(material)}`;
}

/**
 * Semantic-cache partition within a tenant: system prompt, earlier turns, the last turn's non-text parts (an image
 * question asked of another image is another question, though its text embeds the same), every answer-changing
 * parameter and the embedder, hashed. The embedder is part of it so that vectors of two embedders (after a config
 * change) are never compared.
 */
export function semanticContextHash(sha256: Sha256, embedderId: string, routeTarget: string, req: ChatRequest, maxTokens: number | undefined): string {
  const lastUser = req.messages.map((m) => m.role).lastIndexOf('user');
  const last = lastUser >= 0 ? req.messages[lastUser].content : null;
  const attachments = Array.isArray(last) ? (last as readonly ContentPart[]).filter((p) => p.type !== 'text') : [];
  return sha256(JSON.stringify(['v2', embedderId, routeTarget, req.messages.slice(0, lastUser), attachments, maxTokens ?? null, answerParams(req)]));
}

/** The tenant of an exact-cache key (`exact:<tenant>:<sha256 hex>`); tenant ids may hold ':', the hash never does. */
export function tenantOfExactKey(key: string): string {
  return key.startsWith('exact:') ? key.slice(6, key.lastIndexOf(':')) : '';
}

export function lastUserText(req: ChatRequest): string {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    if (req.messages[i].role === 'user') return messageText(req.messages[i].content);
  }
  return '';
}

export type CacheDecision = { readonly cacheable: true } | { readonly cacheable: false; readonly reason: string };

export function cacheability(req: ChatRequest, maxTemperature: number): CacheDecision {
  // Unset temperature means the provider default (1.0 on OpenAI-style APIs).
  if ((req.temperature ?? 1) > maxTemperature) return { cacheable: false, reason: 'temperature' };
  if ((req.n ?? 1) > 1) return { cacheable: false, reason: 'n' };
  if (req.tools && req.tools.length > 0) return { cacheable: false, reason: 'tools' };
  if (req.messages.some((m) => m.role === 'tool' || (m.tool_calls && m.tool_calls.length > 0))) return { cacheable: false, reason: 'tool-calls' };
  // A stored answer carries no log-probabilities: replaying one would drop what the client asked for.
  if (req.logprobs === true || (typeof req.top_logprobs === 'number' && req.top_logprobs > 0)) return { cacheable: false, reason: 'logprobs' };
  return { cacheable: true };
}
