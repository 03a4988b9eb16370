import type { ChatMessage, ChatRequest, ContentPart } from './openai/types';
import { estimateMessage, estimateTextTokens } from './tokens';

/** An Anthropic-style cache hint on a content part, as OpenAI-compatible clients pass it through. */
export interface CacheControl {
  readonly type: 'ephemeral';
  readonly ttl?: '5m' | '1h';
}

/** What a model's provider cache accepts (Bedrock's prompt-caching table, per model). */
export interface PromptCacheLimits {
  /** Tokens a prefix must reach before its cache point takes effect; each further point needs as many again. */
  readonly minTokens: number;
  /** Cache points one request may carry. */
  readonly maxPoints: number;
  /** Whether the 1-hour TTL is offered (else 5 minutes only). */
  readonly ttl1h: boolean;
}

/** The hint on a part, if any. */
export function cacheControlOf(part: ContentPart): CacheControl | undefined {
  const c = (part as { cache_control?: CacheControl }).cache_control;
  return c && c.type === 'ephemeral' ? c : undefined;
}

/** The longest TTL among the client's cache hints ('1h' if any asks for it), or undefined without hints. */
export function cacheHintTtl(req: ChatRequest): '5m' | '1h' | undefined {
  let ttl: '5m' | '1h' | undefined;
  for (const m of req.messages) {
    if (!Array.isArray(m.content)) continue;
    for (const p of m.content) {
      const c = cacheControlOf(p);
      if (c) ttl = c.ttl === '1h' || ttl === '1h' ? '1h' : '5m';
    }
  }
  return ttl;
}

/** Cache hints the request already carries (the client's own). */
export function countCachePoints(req: ChatRequest): number {
  let n = 0;
  for (const m of req.messages) if (Array.isArray(m.content)) for (const p of m.content) if (cacheControlOf(p)) n++;
  return n;
}

function marked(m: ChatMessage, control: CacheControl): ChatMessage {
  const parts: ContentPart[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : [...(m.content ?? [])];
  if (!parts.length) return m;
  const last = parts[parts.length - 1];
  parts[parts.length - 1] = { ...last, cache_control: control } as ContentPart;
  return { ...m, content: parts };
}

/**
 * The automatic policy: cache points where a long prefix repeats across requests. One after the system prompt (the
 * tools and system prompt are the prefix), one after the conversation before the final user turn; each only where
 * its prefix reaches the model's minimum (the second, twice it), within the model's point limit, and never on a
 * request that already carries the client's own hints (the client knows its prefixes). Returns the request unchanged
 * when nothing qualifies. Pure: the Bedrock adapter turns the hints into Converse `cachePoint` blocks.
 */
export function placeCachePoints(req: ChatRequest, limits: PromptCacheLimits, ttl: '5m' | '1h'): ChatRequest {
  if (countCachePoints(req) > 0 || limits.maxPoints < 1) return req;
  const control: CacheControl = ttl === '1h' && limits.ttl1h ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
  const messages = [...req.messages];
  let prefix = req.tools?.length ? estimateTextTokens(JSON.stringify(req.tools)) : 0;
  let points = 0;
  // The system block: every system/developer message at the head of the conversation.
  let head = 0;
  while (head < messages.length && (messages[head].role === 'system' || messages[head].role === 'developer')) prefix += estimateMessage(messages[head++]);
  if (head > 0 && prefix >= limits.minTokens) {
    const m = marked(messages[head - 1], control);
    if (m !== messages[head - 1]) {
      messages[head - 1] = m;
      points++;
    }
  }
  // The conversation so far: everything before the last user message.
  let lastUser = messages.length - 1;
  while (lastUser >= 0 && messages[lastUser].role !== 'user') lastUser--;
  if (points < limits.maxPoints && lastUser > head) {
    let conv = prefix;
    for (let i = head; i < lastUser; i++) conv += estimateMessage(messages[i]);
    const at = lastUser - 1;
    const m = conv >= limits.minTokens * (points + 1) && messages[at].role !== 'tool' ? marked(messages[at], control) : messages[at];
    if (m !== messages[at]) {
      messages[at] = m;
      points++;
    }
  }
  return points ? { ...req, messages } : req;
}
