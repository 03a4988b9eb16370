import type { SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';

interface Entry extends SemanticEntry {
  readonly vector: Float32Array;
  readonly expiresAtMs: number;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Keeps the `limit` best candidates, best first. */
export function pushTop(top: SemanticCandidate[], c: SemanticCandidate, limit: number): void {
  if (top.length === limit && c.score <= top[top.length - 1].score) return;
  let i = top.length;
  while (i > 0 && top[i - 1].score < c.score) i--;
  top.splice(i, 0, c);
  if (top.length > limit) top.pop();
}

/**
 * Brute-force cosine index partitioned by tenant and conversation context: a search only ever scans the caller's
 * own partition, so a cross-tenant hit is impossible by construction. Vectors are expected L2-normalised. In
 * process and not persisted: a warm Lambda or one local gateway; `EmbeddedSemanticIndex` persists to disk.
 */
export class MemorySemanticIndex implements SemanticIndex {
  private readonly partitions = new Map<string, Entry[]>();

  constructor(private readonly maxEntriesPerPartition = 5_000, private readonly now: () => number = Date.now) {}

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    const part = this.partitions.get(`${tenant}\u0000${contextHash}`);
    const top: SemanticCandidate[] = [];
    if (!part) return top;
    const now = this.now();
    for (const e of part) {
      if (e.expiresAtMs <= now) continue;
      const score = dot(vector, e.vector);
      if (score >= minScore) pushTop(top, { score, prompt: e.prompt, value: e.value }, limit);
    }
    return top;
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    const key = `${tenant}\u0000${contextHash}`;
    const now = this.now();
    const part = (this.partitions.get(key) ?? []).filter((e) => e.expiresAtMs > now);
    part.push({ vector, prompt: entry.prompt, value: entry.value, expiresAtMs: now + ttlMs });
    if (part.length > this.maxEntriesPerPartition) part.splice(0, part.length - this.maxEntriesPerPartition);
    this.partitions.set(key, part);
  }
}
