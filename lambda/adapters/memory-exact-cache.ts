import type { CachedCompletion, ExactCache } from '../core/ports';

/** LRU-bounded in-process exact cache with per-entry TTL, for the local gateway and a warm Lambda. */
export class MemoryExactCache implements ExactCache {
  private readonly entries = new Map<string, { value: CachedCompletion; expiresAtMs: number }>();

  constructor(private readonly maxEntries = 10_000, private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<CachedCompletion | undefined> {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAtMs <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  async set(key: string, value: CachedCompletion, ttlMs: number): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs: this.now() + ttlMs });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
