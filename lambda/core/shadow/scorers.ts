import { normaliseLabel } from '../routing/cascade';

/**
 * How a candidate's answer is scored against the premium answer in a shadow test, in [0, 1]; null when the premium
 * answer itself cannot be scored that way (a json-fields premium that is not JSON): such a pair is not counted.
 */
export type Scorer = (premium: string, candidate: string) => number | null;

/** Classification: the same label after trimming, case and trailing punctuation (normaliseLabel, as the labels check). */
export const exactScorer: Scorer = (p, c) => (normaliseLabel(p) === normaliseLabel(c) ? 1 : 0);

/** The first JSON object in a text (a fenced ```json block or a bare {...}); undefined when there is none. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  const candidates = [fenced?.[1], text, text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)];
  for (const c of candidates) {
    if (!c) continue;
    try {
      const v = JSON.parse(c.trim()) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // try the next reading
    }
  }
  return undefined;
}

/** A value compared as extraction compares it: strings trimmed and case-folded, numbers as numbers, the rest as JSON. */
const canonical = (v: unknown): string => (typeof v === 'string' ? v.trim().toLowerCase() : JSON.stringify(v));

/** Extraction: the share of the premium JSON's top-level fields the candidate gives the same value; 0 if it is not JSON. */
export const jsonFieldsScorer: Scorer = (p, c) => {
  const want = jsonObject(p);
  if (!want || !Object.keys(want).length) return null;
  const got = jsonObject(c);
  if (!got) return 0;
  const keys = Object.keys(want);
  return keys.filter((k) => k in got && canonical(got[k]) === canonical(want[k])).length / keys.length;
};

const words = (s: string): string[] => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** Free text: word-overlap F1 (as SQuAD scores answers): 1 for the same words, 0 for none shared. */
export const similarityScorer: Scorer = (p, c) => {
  const a = words(p);
  const b = words(c);
  if (!a.length && !b.length) return 1;
  if (!a.length || !b.length) return 0;
  const counts = new Map<string, number>();
  for (const w of a) counts.set(w, (counts.get(w) ?? 0) + 1);
  let common = 0;
  for (const w of b) {
    const n = counts.get(w) ?? 0;
    if (n > 0) {
      common++;
      counts.set(w, n - 1);
    }
  }
  if (!common) return 0;
  const precision = common / b.length;
  const recall = common / a.length;
  return (2 * precision * recall) / (precision + recall);
};

export const SCORERS: Readonly<Record<'exact' | 'json-fields' | 'similarity', Scorer>> = { exact: exactScorer, 'json-fields': jsonFieldsScorer, similarity: similarityScorer };
