/** Tokenising for lexical relevance: lower-case words, English stop words out, a light Porter-style stem. */

const STOP = new Set(
  ('a an the of in on at to for by with from and or but is are was were be been being am do does did doing what which who whom whose ' +
    'when where why how that this these those it its as into than then there their theirs they them he she his her hers him i me my ' +
    'you your yours we our ours us not no nor can could would should will shall may might must has have had having about over after ' +
    'before s t so such very just also any all each other some if out up down off only own same too')
    .split(' '),
);

/** A light stemmer: plurals, -ed/-ing, -ly, y/i, and common derivational suffixes. Deterministic, dependency-free. */
export function stem(w: string): string {
  if (w.length <= 3) return w;
  let s = w;
  if (s.endsWith('sses')) s = s.slice(0, -2);
  else if (s.endsWith('ies')) s = `${s.slice(0, -3)}i`;
  else if (s.endsWith('s') && !s.endsWith('ss') && !s.endsWith('us') && !s.endsWith('is')) s = s.slice(0, -1);
  if (s.endsWith('eed')) s = s.slice(0, -1);
  else if (/[aeiouy].*(ed|ing)$/.test(s)) {
    s = s.replace(/(ed|ing)$/, '');
    if (/(at|bl|iz)$/.test(s)) s += 'e';
    else if (/([^aeiouslz])\1$/.test(s)) s = s.slice(0, -1);
  }
  if (/[aeiou].*y$/.test(s)) s = `${s.slice(0, -1)}i`;
  for (const [suf, rep] of [
    ['ational', 'ate'], ['tional', 'tion'], ['ization', 'ize'], ['ation', 'ate'], ['fulness', 'ful'], ['ousness', 'ous'],
    ['iveness', 'ive'], ['biliti', 'ble'], ['ement', ''], ['ment', ''], ['ness', ''], ['ful', ''], ['ly', ''],
  ] as const) {
    if (s.endsWith(suf) && s.length - suf.length >= 3) {
      s = s.slice(0, -suf.length) + rep;
      break;
    }
  }
  return s;
}

export function tokens(text: string): string[] {
  const out: string[] = [];
  for (const w of text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (!STOP.has(w)) out.push(stem(w));
  }
  return out;
}

/** BM25 scores of each document against the query, with IDF taken from the documents themselves. */
export function bm25(query: readonly string[], docs: readonly (readonly string[])[], k1 = 1.2, b = 0.75): number[] {
  const n = docs.length;
  if (!n) return [];
  const avg = docs.reduce((a, d) => a + d.length, 0) / n || 1;
  const df = new Map<string, number>();
  for (const d of docs) for (const w of new Set(d)) df.set(w, (df.get(w) ?? 0) + 1);
  const q = [...new Set(query)];
  return docs.map((d) => {
    const tf = new Map<string, number>();
    for (const w of d) tf.set(w, (tf.get(w) ?? 0) + 1);
    let score = 0;
    for (const w of q) {
      const f = tf.get(w);
      if (!f) continue;
      const dfw = df.get(w)!;
      const idf = Math.log(1 + (n - dfw + 0.5) / (dfw + 0.5));
      score += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * d.length) / avg));
    }
    return score;
  });
}
