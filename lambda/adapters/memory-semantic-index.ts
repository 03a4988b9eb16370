import type { SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';

interface Entry extends SemanticEntry {
  readonly vector: Float32Array;
  readonly expiresAtMs: number;
  /** Approximate memory the entry holds: the vector, the prompt and the stored answer. */
  readonly bytes: number;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The indices of a vector's non-zero components when they are under a quarter of them, else null (dense). */
function nonZero(v: Float32Array): Uint32Array | null {
  const idx: number[] = [];
  const max = v.length >> 2;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== 0) {
      idx.push(i);
      if (idx.length > max) return null;
    }
  }
  return Uint32Array.from(idx);
}

function sparseDot(idx: Uint32Array, q: Float32Array, e: Float32Array): number {
  let s = 0;
  for (let k = 0; k < idx.length; k++) s += q[idx[k]] * e[idx[k]];
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

export interface MemorySemanticIndexLimits {
  /** Entries across every tenant; past it the least recently written partition loses its oldest entry. */
  readonly maxEntries?: number;
  /** Entries one tenant may hold; past it the tenant's own oldest entry goes, never another tenant's. */
  readonly maxEntriesPerTenant?: number;
  /** Approximate memory the entries may hold (vectors, prompts, answers); default 128 MiB, a quarter of a 512 MB Lambda. */
  readonly maxBytes?: number;
}

interface Partition {
  readonly tenant: string;
  readonly entries: Entry[];
}

/** How often (puts) expired entries are swept from every partition, so expiry does not wait for a write to each. */
const SWEEP_EVERY_PUTS = 1_000;

/**
 * Brute-force cosine index partitioned by tenant and conversation context: a search only ever scans the caller's
 * own partition, so a cross-tenant hit is impossible by construction. Vectors are expected L2-normalised. In
 * process and not persisted: a warm Lambda or one local gateway; `EmbeddedSemanticIndex` persists to disk. Bounded
 * per partition, per tenant and in total, and expired entries are swept every 1,000 puts: memory stays flat however
 * many conversations (system prompts) pass through: at most maxEntries entries and about maxBytes of memory.
 */
export class MemorySemanticIndex implements SemanticIndex {
  /** Partitions, least recently written first. */
  private readonly partitions = new Map<string, Partition>();
  private readonly tenantCounts = new Map<string, number>();
  private total = 0;
  private bytes = 0;
  private puts = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxEntriesPerTenant: number;

  constructor(private readonly maxEntriesPerPartition = 5_000, private readonly now: () => number = Date.now, limits: MemorySemanticIndexLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 50_000;
    this.maxBytes = limits.maxBytes ?? 128 * 1024 * 1024;
    this.maxEntriesPerTenant = Math.min(this.maxEntries, limits.maxEntriesPerTenant ?? Math.floor(this.maxEntries / 4));
  }

  /** Entries held, in total or for one tenant. */
  get size(): number {
    return this.total;
  }

  sizeOf(tenant: string): number {
    return this.tenantCounts.get(tenant) ?? 0;
  }

  /** Approximate bytes the entries hold. */
  get byteSize(): number {
    return this.bytes;
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    const part = this.partitions.get(`${tenant}\u0000${contextHash}`);
    const top: SemanticCandidate[] = [];
    if (!part) return top;
    const now = this.now();
    // A sparse query (the lexical embedder hashes a few dozen words into 1,024 dimensions) needs only its non-zero
    // components: the dot product then costs a few dozen multiplications per entry instead of one per dimension.
    const nz = nonZero(vector);
    for (const e of part.entries) {
      if (e.expiresAtMs <= now) continue;
      const score = nz ? sparseDot(nz, vector, e.vector) : dot(vector, e.vector);
      if (score >= minScore) pushTop(top, { score, prompt: e.prompt, value: e.value }, limit);
    }
    return top;
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    const key = `${tenant}\u0000${contextHash}`;
    const now = this.now();
    let part = this.partitions.get(key);
    if (part) this.partitions.delete(key);
    else part = { tenant, entries: [] };
    this.partitions.set(key, part);
    this.prune(key, part, now, false);
    const bytes = vector.byteLength + 2 * entry.prompt.length + 2 * JSON.stringify(entry.value.completion).length + 256;
    part.entries.push({ vector, prompt: entry.prompt, value: entry.value, expiresAtMs: now + ttlMs, bytes });
    this.count(tenant, 1, bytes);
    if (part.entries.length > this.maxEntriesPerPartition) this.evictFrom(key, part);
    while (this.sizeOf(tenant) > this.maxEntriesPerTenant) this.evictOldestOf(tenant);
    while (this.total > this.maxEntries || this.bytes > this.maxBytes) {
      const [k, p] = this.partitions.entries().next().value!;
      this.evictFrom(k, p);
    }
    if (++this.puts % SWEEP_EVERY_PUTS === 0) this.sweep(now);
  }

  /** Drops expired entries everywhere and the partitions they leave empty. */
  sweep(now = this.now()): void {
    for (const [k, p] of this.partitions) this.prune(k, p, now);
  }

  private prune(key: string, part: Partition, now: number, drop = true): void {
    // One pass, compacting in place: no copy when nothing expired (most puts), and no spread of a large list.
    const list = part.entries;
    let kept = 0;
    let freed = 0;
    for (const e of list) {
      if (e.expiresAtMs > now) list[kept++] = e;
      else freed += e.bytes;
    }
    if (kept === list.length) return;
    const removed = list.length - kept;
    list.length = kept;
    this.count(part.tenant, -removed, -freed);
    if (drop) this.dropIfEmpty(key, part);
  }

  private evictFrom(key: string, part: Partition): void {
    const gone = part.entries.shift();
    this.count(part.tenant, -1, -(gone?.bytes ?? 0));
    this.dropIfEmpty(key, part);
  }

  /** The tenant's least recently written partition loses its oldest entry. */
  private evictOldestOf(tenant: string): void {
    for (const [k, p] of this.partitions) {
      if (p.tenant === tenant && p.entries.length) {
        this.evictFrom(k, p);
        return;
      }
    }
  }

  private dropIfEmpty(key: string, part: Partition): void {
    if (!part.entries.length) this.partitions.delete(key);
  }

  private count(tenant: string, delta: number, bytes: number): void {
    this.bytes += bytes;
    if (!delta) return;
    this.total += delta;
    const n = (this.tenantCounts.get(tenant) ?? 0) + delta;
    if (n > 0) this.tenantCounts.set(tenant, n);
    else this.tenantCounts.delete(tenant);
  }
}
