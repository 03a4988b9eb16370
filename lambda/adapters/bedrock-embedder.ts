import { type BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import type { Embedder, Embeddings } from '../core/ports';
import { normalised } from './embedding-vectors';

/** Titan Text Embeddings V2 accepts at most 50,000 characters (and 8,192 tokens). */
const TITAN_MAX_CHARS = 50_000;

export interface BedrockEmbedderOptions {
  /** Default amazon.titan-embed-text-v2:0. */
  readonly modelId?: string;
  /** Titan Text Embeddings V2: 256, 512 or 1024. */
  readonly dimensions?: 256 | 512 | 1024;
  readonly timeoutMs?: number;
  /**
   * Calls in flight at once for one `embed` (default 16): a bulk run (`cache calibrate`, `eval`) sends thousands of
   * texts, and Titan's per-model request and token quotas per minute throttle a burst of them all at once.
   */
  readonly concurrency?: number;
}

/**
 * Amazon Titan Text Embeddings V2 through InvokeModel: one text per call (the model takes no batch), up to
 * `concurrency` calls in parallel, vectors requested normalised; the billed input tokens come from
 * `inputTextTokenCount`. Throttling is retried by the client's retry strategy (the CLI's bulk client: adaptive).
 */
export class BedrockEmbedder implements Embedder {
  readonly id: string;
  readonly dimensions: number;
  private readonly modelId: string;

  constructor(private readonly client: BedrockRuntimeClient, private readonly opts: BedrockEmbedderOptions = {}) {
    this.modelId = opts.modelId ?? 'amazon.titan-embed-text-v2:0';
    this.dimensions = opts.dimensions ?? 1024;
    this.id = `bedrock:${this.modelId}:${this.dimensions}`;
  }

  async embed(texts: readonly string[]): Promise<Embeddings> {
    const out = new Array<{ vector: Float32Array; tokens: number }>(texts.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < texts.length) {
        const i = next++;
        out[i] = await this.embedOne(texts[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(texts.length, Math.max(1, this.opts.concurrency ?? 16)) }, lane));
    return { vectors: out.map((o) => o.vector), inputTokens: out.reduce((n, o) => n + o.tokens, 0) };
  }

  private async embedOne(text: string): Promise<{ vector: Float32Array; tokens: number }> {
    const res = await this.client.send(
      new InvokeModelCommand({
        modelId: this.modelId,
        contentType: 'application/json',
        accept: 'application/json',
        // Titan rejects empty input; a single space embeds "nothing" deterministically.
        body: JSON.stringify({ inputText: (text.length ? text : ' ').slice(0, TITAN_MAX_CHARS), dimensions: this.dimensions, normalize: true }),
      }),
      { abortSignal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) },
    );
    const parsed = JSON.parse(new TextDecoder().decode(res.body)) as { embedding?: unknown; inputTextTokenCount?: unknown };
    if (!Array.isArray(parsed.embedding) || parsed.embedding.length !== this.dimensions) {
      throw new Error(`${this.modelId}: expected an embedding of ${this.dimensions} floats`);
    }
    return { vector: normalised(parsed.embedding as number[], this.modelId), tokens: typeof parsed.inputTextTokenCount === 'number' ? parsed.inputTextTokenCount : 0 };
  }
}
