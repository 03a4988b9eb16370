/**
 * Cache evaluation on labelled pairs `{a, b, duplicate, answer?}`: would a query `b` be served the entry stored for `a`
 * (whose cached answer, when given, the answer-slot check reads)? Pure: the caller supplies each pair's similarity
 * from the real embedder.
 */
import type { CachedCompletion, Embedder } from '../ports';
import { jsonObjectLines } from '../jsonl';
import type { GuardSettings } from './guards';
import { chooseSemanticHit } from './semantic';
import type { Verifier } from './verifier';

export interface LabelledPair {
  readonly a: string;
  readonly b: string;
  readonly duplicate: boolean;
  /** The answer cached for `a`, when known: the answer-slot check reads it, as the gateway's does (optional). */
  readonly answer?: string;
}

export interface ScoredPair extends LabelledPair {
  readonly similarity: number;
}

export interface EvalPoint {
  readonly threshold: number;
  /** Duplicate pairs that hit / duplicate pairs. */
  readonly recall: number;
  /** Non-duplicate pairs that hit / non-duplicate pairs. */
  readonly false_hit_rate: number;
  /** Non-duplicate hits / all hits (0 when nothing hits). */
  readonly wrong_hit_share: number;
  readonly hits: number;
}

export interface EvalOptions {
  readonly thresholds: readonly number[];
  readonly guards: GuardSettings;
  readonly verifier?: Verifier;
}

/** Parses and checks JSONL rows `{a, b, duplicate}`; throws naming the first bad line. */
export function parsePairs(jsonl: string, source = 'pairs'): LabelledPair[] {
  const out: LabelledPair[] = [];
  for (const { line, value: r } of jsonObjectLines(jsonl, source)) {
    const dup = r.duplicate === true || r.duplicate === 1 ? true : r.duplicate === false || r.duplicate === 0 ? false : undefined;
    if (typeof r.a !== 'string' || typeof r.b !== 'string' || dup === undefined || (r.answer !== undefined && typeof r.answer !== 'string')) {
      throw new Error(`${source}:${line}: expected {"a": string, "b": string, "duplicate": 0|1|true|false, "answer"?: string}`);
    }
    out.push({ a: r.a, b: r.b, duplicate: dup, ...(typeof r.answer === 'string' ? { answer: r.answer } : {}) });
  }
  if (out.length === 0) throw new Error(`${source}: no pairs`);
  return out;
}

/**
 * Each pair's cosine through the real embedder (vectors are L2-normalised, so the dot product), 64 pairs a call: a
 * remote embedder bills each call. `onProgress` gets the pairs scored so far.
 */
export async function scorePairs<P extends LabelledPair>(pairs: readonly P[], embedder: Embedder, onProgress?: (done: number) => void): Promise<(P & ScoredPair)[]> {
  const out: (P & ScoredPair)[] = [];
  for (let i = 0; i < pairs.length; i += 64) {
    const chunk = pairs.slice(i, i + 64);
    const { vectors } = await embedder.embed(chunk.flatMap((p) => [p.a, p.b]));
    chunk.forEach((p, j) => {
      const [va, vb] = [vectors[2 * j], vectors[2 * j + 1]];
      let dot = 0;
      for (let k = 0; k < va.length; k++) dot += va[k] * vb[k];
      out.push({ ...p, similarity: dot });
    });
    onProgress?.(out.length);
  }
  return out;
}

/** Deterministic halves: even rows and odd rows of the file, so both keep the file's label mix. */
export function splitHalves<T>(rows: readonly T[]): { readonly even: T[]; readonly odd: T[] } {
  return { even: rows.filter((_, i) => i % 2 === 0), odd: rows.filter((_, i) => i % 2 === 1) };
}

/** A pair's `answer` as the cache would hold it (only its text is read), or nothing. */
export function cachedAnswer(answer: string | undefined): CachedCompletion {
  if (answer === undefined) return undefined as unknown as CachedCompletion;
  return {
    completion: { id: 'eval', object: 'chat.completion', created: 0, model: 'eval', choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }] },
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, modelId: 'eval', tier: 'eval', storedAtMs: 0,
  };
}

export function evaluatePairs(pairs: readonly ScoredPair[], opts: EvalOptions): EvalPoint[] {
  // What does not depend on the threshold is decided once per pair, by the function the gateway serves hits with.
  const admissible = pairs.map((p) => {
    const candidate = { score: p.similarity, prompt: p.a, value: cachedAnswer(p.answer) };
    return chooseSemanticHit(p.b, [candidate], opts.guards, opts.verifier).hit !== undefined;
  });
  const duplicates = pairs.filter((p) => p.duplicate).length;
  const others = pairs.length - duplicates;
  return opts.thresholds.map((threshold) => {
    let tp = 0;
    let fp = 0;
    pairs.forEach((p, i) => {
      if (!admissible[i] || p.similarity < threshold) return;
      if (p.duplicate) tp++;
      else fp++;
    });
    const round = (x: number): number => Math.round(x * 10_000) / 10_000;
    return {
      threshold,
      recall: round(duplicates ? tp / duplicates : 0),
      false_hit_rate: round(others ? fp / others : 0),
      wrong_hit_share: round(tp + fp ? fp / (tp + fp) : 0),
      hits: tp + fp,
    };
  });
}

/** Thresholds 0.50, 0.55, ... 0.95, 0.96 ... 0.99 for a sweep. */
export function sweepThresholds(): number[] {
  const out: number[] = [];
  for (let t = 50; t < 95; t += 5) out.push(t / 100);
  for (let t = 95; t <= 99; t++) out.push(t / 100);
  return out;
}
