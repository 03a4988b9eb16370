/**
 * The TF-IDF cosine baseline the semantic cache is compared with (issue 19): the context module's tokens (lower case,
 * English stop words out, light stemming), raw term frequency times smoothed IDF counted over the rows' own texts,
 * L2-normalised. Of the variants tried on cache-dev-qqp.jsonl (plain words, with or without sublinear tf) this one
 * is the strongest: 25.9% wrong at 20% recall where plain words give 40%. Bench code only.
 */
import { tokens } from '../lambda/core/context/text';

export interface PairRow {
  readonly a: string;
  readonly b: string;
  readonly duplicate: boolean;
}

/** Wrong-hit share of the TF-IDF cosine at the lowest threshold reaching each recall, as a lookup. */
export function tfidfCurve(rows: readonly PairRow[]): (recall: number) => number {
  const docs = rows.flatMap((p) => [tokens(p.a), tokens(p.b)]);
  const df = new Map<string, number>();
  for (const d of docs) for (const w of new Set(d)) df.set(w, (df.get(w) ?? 0) + 1);
  const n = docs.length;
  const vector = (d: readonly string[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const w of d) m.set(w, (m.get(w) ?? 0) + 1);
    let norm = 0;
    for (const [w, c] of m) {
      const v = c * (Math.log((1 + n) / (1 + (df.get(w) ?? 0))) + 1);
      m.set(w, v);
      norm += v * v;
    }
    norm = Math.sqrt(norm) || 1;
    for (const [w, v] of m) m.set(w, v / norm);
    return m;
  };
  const scored = rows.map((p, i) => {
    const [a, b] = [vector(docs[2 * i]), vector(docs[2 * i + 1])];
    let s = 0;
    for (const [w, v] of a) s += v * (b.get(w) ?? 0);
    return { duplicate: p.duplicate, s };
  }).sort((x, y) => y.s - x.s);
  const positives = scored.filter((r) => r.duplicate).length;
  const curve: [number, number][] = [];
  let tp = 0;
  let fp = 0;
  for (const r of scored) {
    if (r.duplicate) tp++;
    else fp++;
    curve.push([tp / positives, fp / (tp + fp)]);
  }
  return (recall) => curve.find(([r]) => r >= recall)?.[1] ?? curve[curve.length - 1][1];
}
