import { tenantOfExactKey } from '../core/cache/keys';
import type { CachedCompletion, ExactCache } from '../core/ports';

interface Held {
  readonly tenant: string;
  readonly value: CachedCompletion;
  readonly expiresAtMs: number;
}

/**
 * LRU-bounded in-process exact cache with per-entry TTL, for the local gateway and a warm Lambda. Bounded in total
 * and per tenant: one tenant filling the cache evicts its own least recently used entries, never another's.
 */
export class MemoryExactCache implements ExactCache {
  /** Every entry, least recently used first. */
  private readonly entries = new Map<string, Held>();
  /** Each tenant's keys, least recently used first. */
  private readonly byTenant = new Map<string, Set<string>>();
  private readonly maxEntriesPerTenant: number;

  constructor(private readonly maxEntries = 10_000, private readonly now: () => number = Date.now, maxEntriesPerTenant?: number) {
    this.maxEntriesPerTenant = Math.min(maxEntries, maxEntriesPerTenant ?? Math.max(1, Math.floor(maxEntries / 4)));
  }

  async get(key: string): Promise<CachedCompletion | undefined> {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAtMs <= this.now()) {
      this.remove(key);
      return undefined;
    }
    // Re-insert to mark as most recently used, in both orders.
    this.entries.delete(key);
    this.entries.set(key, e);
    const keys = this.byTenant.get(e.tenant)!;
    keys.delete(key);
    keys.add(key);
    return e.value;
  }

  async set(key: string, value: CachedCompletion, ttlMs: number): Promise<void> {
    this.remove(key);
    const tenant = tenantOfExactKey(key);
    this.entries.set(key, { tenant, value, expiresAtMs: this.now() + ttlMs });
    let keys = this.byTenant.get(tenant);
    if (!keys) this.byTenant.set(tenant, (keys = new Set()));
    keys.add(key);
    while (keys.size > this.maxEntriesPerTenant) this.remove(keys.values().next().value!);
    while (this.entries.size > this.maxEntries) this.remove(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries a tenant holds. */
  sizeOf(tenant: string): number {
    return this.byTenant.get(tenant)?.size ?? 0;
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    const keys = this.byTenant.get(e.tenant);
    keys?.delete(key);
    if (keys && !keys.size) this.byTenant.delete(e.tenant);
  }
}
