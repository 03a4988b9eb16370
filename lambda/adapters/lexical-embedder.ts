import type { Embedder, Embeddings } from '../core/ports';

/**
 * A built-in embedder that needs no model download: hashed word unigrams, bigrams and character trigrams, L2
 * normalised. It is lexical, not semantic: paraphrases with different words score low, and sentences differing only
 * in a negation or a number can score high. Use it for local runs and tests; use Titan or an OpenAI-compatible
 * embeddings endpoint where meaning matters.
 */
export class LexicalEmbedder implements Embedder {
  readonly id: string;

  constructor(readonly dimensions = 1024) {
    this.id = `lexical-hash-${dimensions}`;
  }

  async embed(texts: readonly string[]): Promise<Embeddings> {
    return { vectors: texts.map((t) => this.embedOne(t)), inputTokens: 0 };
  }

  /** Synchronous form for batch evaluation. */
  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dimensions);
    const words = text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [];
    const add = (feature: string, weight: number): void => {
      let h = 2166136261;
      for (let i = 0; i < feature.length; i++) h = Math.imul(h ^ feature.charCodeAt(i), 16777619);
      const idx = (h >>> 0) % this.dimensions;
      v[idx] += (h & 0x80000000) === 0 ? weight : -weight;
    };
    words.forEach((w, i) => {
      add(`w:${w}`, 1);
      if (i > 0) add(`b:${words[i - 1]} ${w}`, 0.7);
      const padded = ` ${w} `;
      for (let j = 0; j + 3 <= padded.length; j++) add(`c:${padded.slice(j, j + 3)}`, 0.3);
    });
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < v.length; i++) v[i] /= norm;
    return v;
  }
}
