import { estimateTextTokens } from '../tokens';
import { optimiseContext, type ContextPolicy } from './optimize';

/** A row of retrieval-evaluation data: a question, candidate chunks, and which chunks bear the answer. */
export interface ContextEvalRow {
  readonly question: string;
  readonly chunks: readonly string[];
  readonly answer_chunk_ids: readonly number[];
}

export interface ContextEvalResult {
  /** Share of chunk tokens removed. */
  readonly token_reduction: number;
  /** Share of rows keeping at least one answer-bearing chunk. */
  readonly answer_kept_any: number;
  /** Share of rows keeping every answer-bearing chunk. */
  readonly answer_kept_all: number;
  readonly rows: number;
}

const KEPT_ID = /<document id="(\d+)">/g;

/**
 * Runs the real context step on a prompt made of the question and its chunks as `<document id="i">` blocks, and
 * measures what it kept. Only re-ranking is evaluated: the policy's other strategies run too, as in production.
 */
export async function evaluateContext(
  rows: readonly ContextEvalRow[],
  policy: ContextPolicy,
  embed?: (texts: readonly string[]) => Promise<Float32Array[]>,
  onProgress?: (rowsDone: number, rows: number) => void,
  embeddingWeight?: number,
): Promise<ContextEvalResult> {
  let before = 0;
  let after = 0;
  let any = 0;
  let all = 0;
  let done = 0;
  for (const row of rows) {
    const prompt = `${row.question}\n\n${row.chunks.map((c, i) => `<document id="${i}">${c}</document>`).join('\n')}`;
    const out = await optimiseContext({ model: 'auto', messages: [{ role: 'user', content: prompt }] }, policy, embed, embeddingWeight);
    const kept = new Set([...String(out.request.messages[0].content).matchAll(KEPT_ID)].map((m) => Number(m[1])));
    row.chunks.forEach((c, i) => {
      const t = estimateTextTokens(c);
      before += t;
      if (kept.has(i)) after += t;
    });
    if (row.answer_chunk_ids.some((i) => kept.has(i))) any++;
    if (row.answer_chunk_ids.every((i) => kept.has(i))) all++;
    onProgress?.(++done, rows.length);
  }
  const share = (n: number): number => Math.round((n / Math.max(1, rows.length)) * 1000) / 1000;
  return {
    token_reduction: before ? Math.round((1 - after / before) * 1000) / 1000 : 0,
    answer_kept_any: share(any),
    answer_kept_all: share(all),
    rows: rows.length,
  };
}
