import type { CachedCompletion, SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';

export interface PineconeSemanticIndexOptions {
  /** The index host from the Pinecone console or describe_index: https://my-index-abc123.svc.aped-1234.pinecone.io */
  readonly host: string;
  readonly apiKey: string;
  /** The data-plane API version sent as X-Pinecone-Api-Version. */
  readonly apiVersion?: string;
  readonly timeoutMs?: number;
  readonly now?: () => number;
  /** Replaces global fetch (tests). */
  readonly fetch?: typeof fetch;
}

/** Pinecone's documented limit on one record's metadata. */
export const PINECONE_METADATA_MAX_BYTES = 40 * 1024;

interface Match {
  readonly id?: unknown;
  readonly score?: unknown;
  readonly metadata?: { context?: unknown; expires_at?: unknown; prompt?: unknown; value?: unknown };
}

/**
 * Pinecone (a serverless index of the embedder's size, cosine metric) over its REST data plane. One namespace per
 * tenant, so a query can only ever reach the caller's records; within it, a metadata filter on the conversation
 * context and on expiry (`expires_at` > now, epoch ms). The prompt and the answer travel as metadata (strings; an
 * entry over Pinecone's 40 KB metadata limit is not stored). Pinecone's cosine score is the cosine itself.
 * Serverless indexes are eventually consistent: a record upserted a moment ago may not be found for a few seconds,
 * which for a cache means one more miss, never a wrong hit. Expired records are filtered out, not deleted: a
 * namespace's stale records can be removed with a delete-by-metadata call on `expires_at`.
 */
export class PineconeSemanticIndex implements SemanticIndex {
  private readonly now: () => number;
  private readonly fetch: typeof fetch;
  private readonly base: string;

  constructor(private readonly opts: PineconeSemanticIndexOptions) {
    this.now = opts.now ?? Date.now;
    this.fetch = opts.fetch ?? fetch;
    this.base = opts.host.startsWith('http') ? opts.host.replace(/\/+$/, '') : `https://${opts.host.replace(/\/+$/, '')}`;
  }

  static namespace(tenant: string): string {
    return `tenant-${tenant}`;
  }

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    const now = this.now();
    const body = await this.post('/query', {
      namespace: PineconeSemanticIndex.namespace(tenant),
      vector: Array.from(vector),
      topK: limit,
      filter: { context: { $eq: contextHash }, expires_at: { $gt: now } },
      includeMetadata: true,
      includeValues: false,
    });
    const matches = (body as { matches?: unknown }).matches;
    if (!Array.isArray(matches)) throw new Error('pinecone query: the response has no matches list');
    const out: SemanticCandidate[] = [];
    for (const m of matches as Match[]) {
      if (typeof m.score !== 'number' || !Number.isFinite(m.score)) throw new Error(`pinecone query: match ${String(m.id)} has no numeric score`);
      const md = m.metadata ?? {};
      // Re-checked here as well as in the filter: a record of another context or an expired one is never served.
      if (md.context !== contextHash || typeof md.expires_at !== 'number' || md.expires_at <= now || m.score < minScore) continue;
      if (typeof md.prompt !== 'string' || typeof md.value !== 'string') continue;
      let value: CachedCompletion;
      try {
        value = JSON.parse(md.value) as CachedCompletion;
      } catch {
        continue;
      }
      out.push({ score: m.score, prompt: md.prompt, value });
    }
    return out.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    const metadata = { context: contextHash, expires_at: this.now() + ttlMs, prompt: entry.prompt, value: JSON.stringify(entry.value) };
    if (Buffer.byteLength(JSON.stringify(metadata)) > PINECONE_METADATA_MAX_BYTES) return;
    await this.post('/vectors/upsert', {
      namespace: PineconeSemanticIndex.namespace(tenant),
      vectors: [{ id: `${contextHash.slice(0, 16)}-${this.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`, values: Array.from(vector), metadata }],
    });
  }

  private async post(path: string, payload: unknown): Promise<unknown> {
    const res = await this.fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': this.opts.apiKey, 'x-pinecone-api-version': this.opts.apiVersion ?? '2025-10' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON
      }
      throw new Error(`pinecone ${path}: HTTP ${res.status}: ${message}`);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`pinecone ${path}: the response is not JSON`);
    }
  }
}
