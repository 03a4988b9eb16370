import { EMBEDDING_WEIGHT } from '../core/context/optimize';
import { LexicalEmbedder } from './lexical-embedder';
import { SentenceEmbedder } from './sentence-embedder';

export type ContextEmbedderKind = 'lexical' | 'sentence' | 'none';

/** What the context step's re-ranking adds to BM25: vectors per text and the weight of their cosine. */
export interface ContextEmbedding {
  readonly embed?: (texts: readonly string[]) => Promise<Float32Array[]>;
  readonly weight: number;
}

/**
 * Vectors for the context step's re-ranking. lexical: hashed features, weight 2 (tuned on TREC QA dev). sentence: the
 * lexical vector and the sentence encoder's side by side, each scaled by the square root of its weight (2 and 2), so
 * one dot product gives 2 x lexical cosine + 2 x encoder cosine. On TREC QA dev (51 rows, default policy) the encoder
 * keeps every answer chunk in more rows (49% against 43%) but an answer chunk in no more (98%): docs/context.md.
 */
export function contextEmbedding(kind: ContextEmbedderKind): ContextEmbedding {
  if (kind === 'none') return { weight: 0 };
  const lexical = new LexicalEmbedder();
  if (kind === 'lexical') return { embed: async (texts) => (await lexical.embed(texts)).vectors, weight: EMBEDDING_WEIGHT };
  const sentence = new SentenceEmbedder();
  const [wl, ws] = [Math.sqrt(EMBEDDING_WEIGHT), Math.sqrt(2)];
  return {
    weight: 1,
    embed: async (texts) => {
      const { vectors } = await sentence.embed(texts);
      return texts.map((t, i) => {
        const a = lexical.embedOne(t);
        const b = vectors[i];
        const v = new Float32Array(a.length + b.length);
        for (let k = 0; k < a.length; k++) v[k] = wl * a[k];
        for (let k = 0; k < b.length; k++) v[a.length + k] = ws * b[k];
        return v;
      });
    },
  };
}
