import type { CachedCompletion, SemanticHit, SemanticIndex } from '../core/ports';

interface Entry {
  readonly vector: Float32Array;
  readonly value: CachedCompletion;
  readonly expiresAtMs: number;
}

/**
 * Brute-force cosine index partitioned by tenant and conversation context: a search only ever scans the caller's
 * own partition, so a cross-tenant hit is impossible by construction. Vectors are expected L2-normalised.
 */
export class MemorySemanticIndex implements SemanticIndex {
  private readonly partitions = new Map<string, Entry[]>();

  constructor(private readonly maxEntriesPerPartition = 5_000, private readonly now: () => number = Date.now) {}

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number): Promise<SemanticHit | undefined> {
    const part = this.partitions.get(`${tenant}\u0000${contextHash}`);
    if (!part) return undefined;
    const now = this.now();
    let best: SemanticHit | undefined;
    for (const e of part) {
      if (e.expiresAtMs <= now) continue;
      let dot = 0;
      for (let i = 0; i < vector.length; i++) dot += vector[i] * e.vector[i];
      if (dot >= minScore && (!best || dot > best.score)) best = { score: dot, value: e.value };
    }
    return best;
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, value: CachedCompletion, ttlMs: number): Promise<void> {
    const key = `${tenant}\u0000${contextHash}`;
    const now = this.now();
    const part = (this.partitions.get(key) ?? []).filter((e) => e.expiresAtMs > now);
    part.push({ vector, value, expiresAtMs: now + ttlMs });
    if (part.length > this.maxEntriesPerPartition) part.splice(0, part.length - this.maxEntriesPerPartition);
    this.partitions.set(key, part);
  }
}
