/**
 * A learned pair verifier for the semantic tier: logistic regression on features of (query, cached prompt) that a
 * similarity score alone does not see: which words differ and how rare they are, guard signals, length and
 * question-word agreement. Users fit it on their own labelled pairs (`llm-finops cache train-verifier`); the
 * semantic tier then serves a hit only when the verifier accepts it. Pure and deterministic for a seed.
 */
import { hashBucket, seededRandom, sigmoid } from '../numeric';
import { failedGuards, GUARD_NAMES, type TextSignals, textSignals, ALL_GUARDS } from './guards';

export const VERIFIER_FORMAT = 'llm-finops-cache-verifier';

/** The JSON artefact written by `cache train-verifier`. */
export interface VerifierModel {
  readonly format: typeof VERIFIER_FORMAT;
  readonly version: 1;
  /** Hash buckets for the document-frequency table and the differing-word weights. */
  readonly buckets: number;
  /** Documents (texts) the document frequencies were counted over. */
  readonly documents: number;
  /** Document frequency per hashed stemmed word. */
  readonly df: readonly number[];
  readonly dense: readonly string[];
  readonly mean: readonly number[];
  readonly scale: readonly number[];
  readonly weights: readonly number[];
  /** Weight per hashed stemmed word that appears in one text only. */
  readonly diffWeights: readonly number[];
  readonly bias: number;
  /** Accept when the predicted probability of "same question" is at least this. */
  readonly threshold: number;
  readonly trainedOn: { readonly pairs: number; readonly positives: number; readonly seed: number; readonly targetWrongShare: number };
}

/** A text prepared once for pair features. */
export interface PreparedText {
  readonly signals: TextSignals;
  readonly stems: ReadonlySet<string>;
  readonly trigrams: ReadonlySet<string>;
  readonly bigrams: ReadonlySet<string>;
  readonly firstWord: string;
}

export function prepareText(text: string): PreparedText {
  const signals = textSignals(text);
  const trigrams = new Set<string>();
  const squashed = ` ${signals.words.join(' ')} `;
  for (let i = 0; i + 3 <= squashed.length; i++) trigrams.add(squashed.slice(i, i + 3));
  const bigrams = new Set<string>();
  for (let i = 1; i < signals.words.length; i++) bigrams.add(`${signals.words[i - 1]} ${signals.words[i]}`);
  return { signals, stems: signals.content, trigrams, bigrams, firstWord: signals.words[0] ?? '' };
}


function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

const DENSE = [
  'similarity', 'stem_jaccard', 'word_jaccard', 'trigram_jaccard', 'bigram_jaccard', 'idf_overlap', 'max_diff_idf', 'diff_idf_sum',
  'diff_count', 'swapped_min_idf', 'swapped_count', 'length_ratio', 'same_first_word', ...GUARD_NAMES.map((g) => `guard_${g}_failed`),
] as const;

interface PairFeatures {
  readonly dense: number[];
  /** Hashed buckets of stems found in one text only. */
  readonly diff: number[];
}

function idf(df: readonly number[], documents: number, bucket: number): number {
  return Math.log((documents + 1) / (df[bucket] + 1)) + 1;
}

function pairFeatures(a: PreparedText, b: PreparedText, similarity: number, df: readonly number[], documents: number, buckets: number): PairFeatures {
  let shared = 0;
  let union = 0;
  let maxDiff = 0;
  let diffSum = 0;
  const diff: number[] = [];
  // The rarest word each side has alone: both high means one thing was swapped for another (fluorine / hexane).
  const sideMax = [0, 0];
  const sideCount = [0, 0];
  const visit = (x: string, inOther: boolean, side = 0): void => {
    const bucket = hashBucket(x, buckets);
    const w = idf(df, documents, bucket);
    union += w;
    if (inOther) {
      shared += w;
    } else {
      diff.push(bucket);
      diffSum += w;
      sideCount[side]++;
      if (w > sideMax[side]) sideMax[side] = w;
      if (w > maxDiff) maxDiff = w;
    }
  };
  for (const x of a.stems) visit(x, b.stems.has(x));
  for (const x of b.stems) if (!a.stems.has(x)) visit(x, false, 1);
  // Function words that differ (what/who, I/you, will/did) change the question too; a separate hash namespace.
  for (const x of a.signals.wordSet) if (!b.signals.wordSet.has(x)) diff.push(hashBucket(`w:${x}`, buckets));
  for (const x of b.signals.wordSet) if (!a.signals.wordSet.has(x)) diff.push(hashBucket(`w:${x}`, buckets));
  const failed = new Set(failedGuards(a.signals, b.signals, ALL_GUARDS));
  const la = a.signals.words.length;
  const lb = b.signals.words.length;
  return {
    dense: [
      similarity,
      jaccard(a.stems, b.stems),
      jaccard(a.signals.wordSet, b.signals.wordSet),
      jaccard(a.trigrams, b.trigrams),
      jaccard(a.bigrams, b.bigrams),
      union === 0 ? 1 : shared / union,
      maxDiff,
      Math.log1p(diffSum),
      Math.log1p(sideCount[0] + sideCount[1]),
      Math.min(sideMax[0], sideMax[1]),
      Math.min(sideCount[0], sideCount[1]),
      Math.min(la, lb) / Math.max(la, lb, 1),
      a.firstWord === b.firstWord ? 1 : 0,
      ...GUARD_NAMES.map((g) => (failed.has(g) ? 1 : 0)),
    ],
    diff,
  };
}


/** Scores pairs with a trained model. */
export class Verifier {
  constructor(readonly model: VerifierModel) {}

  static parse(json: unknown): Verifier {
    const m = json as Partial<VerifierModel> | null;
    if (!m || typeof m !== 'object' || m.format !== VERIFIER_FORMAT || m.version !== 1) {
      throw new Error(`not a cache verifier: expected {"format": "${VERIFIER_FORMAT}", "version": 1, ...}`);
    }
    const n = DENSE.length;
    const ok = Array.isArray(m.weights) && m.weights.length === n && Array.isArray(m.mean) && m.mean.length === n &&
      Array.isArray(m.scale) && m.scale.length === n && Array.isArray(m.df) && m.df.length === m.buckets &&
      Array.isArray(m.diffWeights) && m.diffWeights.length === m.buckets && typeof m.bias === 'number' &&
      typeof m.threshold === 'number' && typeof m.documents === 'number';
    if (!ok) throw new Error(`cache verifier is malformed: it needs ${n} dense weights and df/diffWeights of length buckets`);
    return new Verifier(m as VerifierModel);
  }

  /** Probability that `cached`'s answer answers `query`. */
  probability(query: PreparedText, cached: PreparedText, similarity: number): number {
    const m = this.model;
    return sigmoid(score(pairFeatures(query, cached, similarity, m.df, m.documents, m.buckets), m.mean, m.scale, m.weights, m.diffWeights, m.bias));
  }

  accepts(query: PreparedText, cached: PreparedText, similarity: number): boolean {
    return this.probability(query, cached, similarity) >= this.model.threshold;
  }
}

function score(f: PairFeatures, mean: readonly number[], scale: readonly number[], w: readonly number[], dw: readonly number[], bias: number): number {
  let z = bias;
  for (let i = 0; i < f.dense.length; i++) z += w[i] * ((f.dense[i] - mean[i]) / scale[i]);
  for (const b of f.diff) z += dw[b];
  return z;
}

export interface TrainingPair {
  readonly a: string;
  readonly b: string;
  readonly duplicate: boolean;
  /** The embedder's cosine similarity of a and b. */
  readonly similarity: number;
}

export interface TrainOptions {
  readonly seed?: number;
  readonly buckets?: number;
  readonly epochs?: number;
  readonly learningRate?: number;
  readonly l2?: number;
  /** The acceptance cutoff is set so that, on a held-out fifth of the pairs, at most this share of accepted are wrong. */
  readonly targetWrongShare?: number;
  /** Called after each epoch (a CLI progress bar). */
  readonly onProgress?: (epochsDone: number, epochs: number) => void;
}


function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Fits the verifier: document frequencies from the texts, standardised dense features, SGD on the log loss with L2,
 * on four fifths of the pairs; the cutoff comes from the held-out fifth (lowest cutoff whose wrong share is within
 * the target, looking only at cutoffs that accept at least 1% of held-out duplicates).
 */
export function trainVerifier(pairs: readonly TrainingPair[], opts: TrainOptions = {}): VerifierModel {
  const seed = opts.seed ?? 1;
  const buckets = opts.buckets ?? 4096;
  const epochs = opts.epochs ?? 30;
  const lr = opts.learningRate ?? 0.02;
  const l2 = opts.l2 ?? 1e-4;
  const target = opts.targetWrongShare ?? 0.1;
  const positives = pairs.filter((p) => p.duplicate).length;
  if (pairs.length < 20 || positives < 5 || pairs.length - positives < 5) {
    throw new Error(`need at least 20 labelled pairs with 5 of each label; got ${pairs.length} pairs, ${positives} duplicates`);
  }
  const rand = seededRandom(seed);
  const order = shuffled(pairs, rand);
  const holdout = order.slice(0, Math.floor(order.length / 5));
  const train = order.slice(holdout.length);

  const df = new Array<number>(buckets).fill(0);
  const prepared = new Map<string, PreparedText>();
  const prep = (t: string): PreparedText => {
    let p = prepared.get(t);
    if (!p) {
      p = prepareText(t);
      prepared.set(t, p);
      for (const s of p.stems) df[hashBucket(s, buckets)]++;
    }
    return p;
  };
  const trainRows = train.map((p) => ({ a: prep(p.a), b: prep(p.b), y: p.duplicate ? 1 : 0, sim: p.similarity }));
  const documents = prepared.size;
  const holdRows = holdout.map((p) => ({ a: prepareText(p.a), b: prepareText(p.b), y: p.duplicate ? 1 : 0, sim: p.similarity }));
  const feats = trainRows.map((r) => ({ f: pairFeatures(r.a, r.b, r.sim, df, documents, buckets), y: r.y }));

  const n = DENSE.length;
  const mean = new Array<number>(n).fill(0);
  const scale = new Array<number>(n).fill(0);
  for (const { f } of feats) f.dense.forEach((x, i) => (mean[i] += x / feats.length));
  for (const { f } of feats) f.dense.forEach((x, i) => (scale[i] += (x - mean[i]) ** 2 / feats.length));
  // A constant feature (variance ~0 up to rounding) is left unscaled rather than blown up.
  for (let i = 0; i < n; i++) scale[i] = Math.sqrt(scale[i]) > 1e-6 ? Math.sqrt(scale[i]) : 1;

  const w = new Array<number>(n).fill(0);
  const dw = new Array<number>(buckets).fill(0);
  let bias = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const rate = lr / (1 + epoch * 0.1);
    for (const { f, y } of shuffled(feats, rand)) {
      const g = sigmoid(score(f, mean, scale, w, dw, bias)) - y;
      bias -= rate * g;
      for (let i = 0; i < n; i++) w[i] -= rate * (g * ((f.dense[i] - mean[i]) / scale[i]) + l2 * w[i]);
      for (const b of f.diff) dw[b] -= rate * (g + l2 * dw[b]);
    }
    opts.onProgress?.(epoch + 1, epochs);
  }

  const probe = new Verifier({
    format: VERIFIER_FORMAT, version: 1, buckets, documents, df, dense: [...DENSE], mean, scale, weights: w, diffWeights: dw, bias,
    threshold: 0.5, trainedOn: { pairs: pairs.length, positives, seed, targetWrongShare: target },
  });
  const scored = holdRows.map((r) => ({ p: probe.probability(r.a, r.b, r.sim), y: r.y })).sort((x, y) => y.p - x.p);
  const holdPositives = scored.filter((s) => s.y === 1).length;
  let threshold = 1;
  let tp = 0;
  let fp = 0;
  for (const s of scored) {
    if (s.y === 1) tp++;
    else fp++;
    if (tp >= Math.max(1, holdPositives * 0.01) && fp / (tp + fp) <= target) threshold = s.p;
  }
  const round = (x: number): number => Math.round(x * 1e6) / 1e6;
  return {
    ...probe.model,
    mean: mean.map(round), scale: scale.map(round), weights: w.map(round), diffWeights: dw.map(round), bias: round(bias),
    threshold: round(threshold),
  };
}
