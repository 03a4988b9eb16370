import type { ChatRequest } from '../openai/types';
import { messageText } from '../openai/types';
import type { Sha256 } from '../ports';

/**
 * Exact-cache key: the tenant plus everything that changes the answer. The tenant is part of the hashed material,
 * so two tenants can never share an entry even with identical prompts.
 */
export function exactCacheKey(sha256: Sha256, tenant: string, routeTarget: string, req: ChatRequest, maxTokens: number | undefined): string {
  const material = JSON.stringify([
    'v1',
    tenant,
    routeTarget,
    req.messages,
    req.temperature ?? null,
    req.top_p ?? null,
    maxTokens ?? null,
    req.stop ?? null,
    req.response_format ?? null,
    req.seed ?? null,
  ]);
  return `exact:${tenant}:${sha256(material)}`;
}

/**
 * Semantic-cache partition within a tenant: system prompt, earlier turns, parameters and the embedder, hashed. The
 * embedder is part of it so that vectors of two embedders (after a config change) are never compared.
 */
export function semanticContextHash(sha256: Sha256, embedderId: string, routeTarget: string, req: ChatRequest, maxTokens: number | undefined): string {
  const lastUser = req.messages.map((m) => m.role).lastIndexOf('user');
  return sha256(JSON.stringify([embedderId, routeTarget, req.messages.slice(0, lastUser), req.temperature ?? null, maxTokens ?? null, req.stop ?? null, req.response_format ?? null, req.seed ?? null]));
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
  return { cacheable: true };
}
