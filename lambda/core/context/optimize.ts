import type { ChatMessage, ChatRequest, ContentPart } from '../openai/types';
import { messageText } from '../openai/types';
import { estimateTextTokens, utf8Length } from '../tokens';
import { joinSegments, questionOf, splitDocuments, type Segment } from './documents';
import { bm25, tokens } from './text';

/** One context policy, as configured (see GatewayConfig `context.policies`). */
export interface ContextPolicy {
  /** Share of document tokens that may be kept by re-ranking; 1 keeps every document. */
  readonly rerankBudget: number;
  /** Documents kept whatever the budget, best first. */
  readonly minChunks: number;
  /** Earlier turns beyond this many tokens are dropped, oldest first; undefined keeps the whole history. */
  readonly historyMaxTokens?: number;
  /** Whitespace, duplicate documents and boilerplate lines repeated across documents. */
  readonly cleanup: boolean;
  readonly includeSystem: boolean;
  readonly includeToolResults: boolean;
}

export interface ContextStats {
  readonly documentsIn: number;
  readonly documentsKept: number;
  readonly messagesDropped: number;
  /** UTF-8 bytes of message text before and after. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface ContextResult {
  readonly request: ChatRequest;
  readonly stats: ContextStats;
}

/** Weight of the lexical embedder's cosine beside max-normalised BM25; tuned on TREC QA dev data (see docs/context.md). */
export const EMBEDDING_WEIGHT = 2;

/** Relevance of each document to the question: BM25 (normalised to the best) plus `weight` times the embedder's cosine. */
export function scoreDocuments(
  question: string, docs: readonly string[], qVec?: Float32Array, docVecs?: readonly Float32Array[], weight = EMBEDDING_WEIGHT,
): number[] {
  const lexical = bm25(tokens(question), docs.map(tokens));
  const best = Math.max(...lexical, 0) || 1;
  return lexical.map((s, i) => {
    let semantic = 0;
    if (qVec && docVecs?.[i]) {
      const v = docVecs[i];
      for (let k = 0; k < qVec.length; k++) semantic += qVec[k] * v[k];
    }
    return s / best + weight * semantic;
  });
}

/**
 * Picks documents by score until the token budget is spent (skipping ones that do not fit, so a shorter relevant one
 * can still come in), always at least `minChunks`. Returns indices in original order.
 */
export function selectWithinBudget(scores: readonly number[], tokenCounts: readonly number[], budgetTokens: number, minChunks: number): number[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const keep = new Set<number>();
  let used = 0;
  for (const i of order) {
    if (keep.size < minChunks || used + tokenCounts[i] <= budgetTokens) {
      keep.add(i);
      used += tokenCounts[i];
    }
  }
  return [...keep].sort((a, b) => a - b);
}

const normalise = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Whitespace clean-up that keeps code intact: trailing spaces and runs of blank lines only. */
function tidy(text: string): string {
  return text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n');
}

/** Lines of 20+ characters found in three or more documents: kept in the first, dropped from the rest. */
function stripBoilerplate(docs: readonly string[]): string[] {
  const seenIn = new Map<string, number>();
  for (const d of docs) {
    for (const line of new Set(d.split('\n').map((l) => l.trim()).filter((l) => l.length >= 20))) seenIn.set(line, (seenIn.get(line) ?? 0) + 1);
  }
  const repeated = new Set([...seenIn].filter(([, n]) => n >= 3).map(([l]) => l));
  if (!repeated.size) return [...docs];
  const kept = new Set<string>();
  return docs.map((d) =>
    d
      .split('\n')
      .filter((line) => {
        const t = line.trim();
        if (!repeated.has(t)) return true;
        if (kept.has(t)) return false;
        kept.add(t);
        return true;
      })
      .join('\n'),
  );
}

interface DocRef {
  readonly message: number;
  readonly part: number;
  readonly segment: number;
}

/**
 * The context step. Pure: the caller supplies embeddings (or none, for BM25 alone) through `embed`.
 * System prompts, tool definitions and tool results are left alone unless the policy includes them.
 */
export async function optimiseContext(
  req: ChatRequest,
  policy: ContextPolicy,
  embed?: (texts: readonly string[]) => Promise<Float32Array[]>,
  embeddingWeight = EMBEDDING_WEIGHT,
): Promise<ContextResult> {
  const inScope = (m: ChatMessage): boolean =>
    m.role === 'user' || (m.role === 'assistant' && !m.tool_calls?.length) || ((m.role === 'system' || m.role === 'developer') && policy.includeSystem) ||
    (m.role === 'tool' && policy.includeToolResults);
  const bytesOf = (ms: readonly ChatMessage[]): number => ms.reduce((n, m) => n + utf8Length(messageText(m.content)), 0);
  const bytesIn = bytesOf(req.messages);

  let messages = [...req.messages];
  let dropped = 0;
  if (policy.historyMaxTokens !== undefined) ({ messages, dropped } = trimHistory(messages, policy.historyMaxTokens));

  // Split every in-scope text into segments; documents are ranked together against the last user question.
  const parts: Segment[][][] = messages.map((m) => {
    if (!inScope(m) || m.content === null) return [];
    if (typeof m.content === 'string') return [splitDocuments(m.content)];
    return m.content.map((p) => (p.type === 'text' ? splitDocuments((p as { text: string }).text) : []));
  });
  const refs: DocRef[] = [];
  parts.forEach((ps, mi) => ps.forEach((segs, pi) => segs.forEach((s, si) => s.kind === 'doc' && refs.push({ message: mi, part: pi, segment: si }))));
  const docOf = (r: DocRef) => parts[r.message][r.part][r.segment] as Extract<Segment, { kind: 'doc' }>;

  let bodies = refs.map((r) => docOf(r).body);
  const drop = new Set<number>();
  if (policy.cleanup && bodies.length) {
    bodies = bodies.map(tidy);
    const seen = new Set<string>();
    bodies.forEach((b, i) => {
      const key = normalise(b);
      if (seen.has(key)) drop.add(i);
      seen.add(key);
    });
    const unique = bodies.map((_, i) => i).filter((i) => !drop.has(i));
    const stripped = stripBoilerplate(unique.map((i) => bodies[i]));
    unique.forEach((i, k) => (bodies[i] = stripped[k]));
  }
  const alive = bodies.map((_, i) => i).filter((i) => !drop.has(i));
  if (alive.length && policy.rerankBudget < 1) {
    const lastUser = messages.map((m) => m.role).lastIndexOf('user');
    const question = lastUser >= 0 ? questionOf(parts[lastUser].flat()) || messageText(messages[lastUser].content) : '';
    const texts = alive.map((i) => bodies[i]);
    let qVec: Float32Array | undefined;
    let docVecs: Float32Array[] | undefined;
    if (embed && question) [qVec, ...docVecs] = await embed([question, ...texts]);
    const scores = scoreDocuments(question, texts, qVec, docVecs, embeddingWeight);
    const counts = texts.map(estimateTextTokens);
    const budget = policy.rerankBudget * counts.reduce((a, b) => a + b, 0);
    const keep = new Set(selectWithinBudget(scores, counts, budget, policy.minChunks).map((k) => alive[k]));
    for (const i of alive) if (!keep.has(i)) drop.add(i);
  }

  // Write the documents back; dropped ones vanish with their markers.
  refs.forEach((r, i) => {
    const segs = parts[r.message][r.part];
    segs[r.segment] = drop.has(i) ? { kind: 'text', text: '' } : { ...docOf(r), body: bodies[i] };
  });
  const out = messages.map((m, mi): ChatMessage => {
    if (!parts[mi].length) return m;
    if (typeof m.content === 'string') {
      const text = joinSegments(parts[mi][0]);
      return { ...m, content: policy.cleanup ? tidy(text) : text };
    }
    return {
      ...m,
      content: (m.content as readonly ContentPart[]).map((p, pi) => {
        if (p.type !== 'text') return p;
        const text = joinSegments(parts[mi][pi]);
        return { ...p, text: policy.cleanup ? tidy(text) : text } as ContentPart;
      }),
    };
  });
  return {
    request: { ...req, messages: out },
    stats: { documentsIn: refs.length, documentsKept: refs.length - drop.size, messagesDropped: dropped, bytesIn, bytesOut: bytesOf(out) },
  };
}

/**
 * Drops the oldest turns until the history (everything before the last user message, system prompts aside) fits,
 * and says so in one short system line. Stops at a tool call or tool result: those travel in pairs.
 */
function trimHistory(messages: ChatMessage[], maxTokens: number): { messages: ChatMessage[]; dropped: number } {
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  const isSys = (m: ChatMessage) => m.role === 'system' || m.role === 'developer';
  const history = messages.slice(0, Math.max(0, lastUser)).map((m, i) => ({ m, i })).filter(({ m }) => !isSys(m));
  let total = history.reduce((n, { m }) => n + estimateTextTokens(messageText(m.content)), 0);
  const gone = new Set<number>();
  for (const { m, i } of history) {
    if (total <= maxTokens) break;
    if (m.role === 'tool' || m.tool_calls?.length) break;
    gone.add(i);
    total -= estimateTextTokens(messageText(m.content));
  }
  // Never leave an assistant turn first: drop up to the next user message.
  for (const { m, i } of history) {
    if (!gone.size || gone.has(i)) continue;
    if (m.role === 'assistant' && !m.tool_calls?.length && [...gone].every((g) => g < i)) gone.add(i);
    break;
  }
  if (!gone.size) return { messages, dropped: 0 };
  const kept = messages.filter((_, i) => !gone.has(i));
  const at = kept.findIndex((m) => !isSys(m));
  kept.splice(at < 0 ? kept.length : at, 0, { role: 'system', content: `[${gone.size} earlier messages omitted to fit the context budget]` });
  return { messages: kept, dropped: gone.size };
}
