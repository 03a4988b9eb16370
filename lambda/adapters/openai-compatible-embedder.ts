import type { Embedder, Embeddings } from '../core/ports';
import { normalised } from './embedding-vectors';
import { httpPost, readText } from './http-client';

export interface OpenAiCompatibleEmbedderOptions {
  /** Base URL including the API prefix, e.g. https://api.openai.com/v1 or http://localhost:11434/v1. */
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey?: string;
  /** Sent as `dimensions` (text-embedding-3 models shorten their vectors); other servers must return this size. */
  readonly dimensions?: number;
  readonly timeoutMs?: number;
}

interface EmbeddingsResponse {
  data?: { index?: number; embedding?: unknown }[];
  usage?: { prompt_tokens?: number; total_tokens?: number };
}

/** `POST {baseUrl}/embeddings` on OpenAI, Azure-style proxies, Ollama, vLLM, LiteLLM and other compatible servers. */
export class OpenAiCompatibleEmbedder implements Embedder {
  readonly id: string;
  private readonly url: URL;
  private known: number | undefined;

  constructor(private readonly opts: OpenAiCompatibleEmbedderOptions) {
    this.url = new URL(`${opts.baseUrl.replace(/\/+$/, '')}/embeddings`);
    this.id = `openai-compatible:${opts.model}`;
    this.known = opts.dimensions;
  }

  /** The configured size, else the size of the first vector returned (0 before the first call). */
  get dimensions(): number {
    return this.known ?? 0;
  }

  async embed(texts: readonly string[]): Promise<Embeddings> {
    if (texts.length === 0) return { vectors: [], inputTokens: 0 };
    const body = JSON.stringify({ model: this.opts.model, input: texts, encoding_format: 'float', ...(this.opts.dimensions ? { dimensions: this.opts.dimensions } : {}) });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const signal = AbortSignal.timeout(this.opts.timeoutMs ?? 10_000);
    const res = await httpPost(this.url, headers, body, signal);
    const text = await readText(res);
    if (res.status !== 200) throw new Error(`embeddings ${this.url.host}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    let parsed: EmbeddingsResponse;
    try {
      parsed = JSON.parse(text) as EmbeddingsResponse;
    } catch {
      throw new Error(`embeddings ${this.url.host}: response is not JSON`);
    }
    const data = parsed.data;
    if (!Array.isArray(data) || data.length !== texts.length) {
      throw new Error(`embeddings ${this.url.host}: expected ${texts.length} embeddings, got ${Array.isArray(data) ? data.length : 'none'}`);
    }
    const vectors = new Array<Float32Array>(texts.length);
    data.forEach((d, i) => {
      if (!Array.isArray(d.embedding)) throw new Error(`embeddings ${this.url.host}: data[${i}].embedding is not a float array`);
      vectors[typeof d.index === 'number' ? d.index : i] = normalised(d.embedding as number[], `embeddings ${this.url.host}`);
    });
    const size = vectors[0].length;
    if (vectors.some((v) => !v || v.length !== size)) throw new Error(`embeddings ${this.url.host}: vectors of different sizes`);
    if (this.known !== undefined && size !== this.known) throw new Error(`embeddings ${this.url.host}: expected ${this.known} dimensions, got ${size}`);
    this.known = size;
    // Servers without usage (some local ones) bill nothing; a missing count is then honestly zero tokens.
    return { vectors, inputTokens: parsed.usage?.prompt_tokens ?? parsed.usage?.total_tokens ?? 0 };
  }
}
