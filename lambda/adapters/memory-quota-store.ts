import type { QuotaCounterSpec, QuotaSettlement, QuotaStore, ReserveOutcome } from '../core/ports';

interface OpenReservation {
  readonly amounts: ReadonlyMap<string, number>;
  readonly expiresAtMs: number;
}

/**
 * In-process quota store for the local gateway and tests. Single-threaded JavaScript makes each reserve atomic;
 * reservations that are never settled (a crashed request) are released by `sweepExpired`, which reserve also runs.
 */
export class MemoryQuotaStore implements QuotaStore {
  private readonly counters = new Map<string, number>();
  private readonly open = new Map<string, OpenReservation>();

  constructor(private readonly now: () => number = Date.now) {}

  async reserve(reservationId: string, counters: readonly QuotaCounterSpec[], reservationExpiresAtMs: number): Promise<ReserveOutcome> {
    this.sweepExpired();
    for (const c of counters) {
      const committed = this.counters.get(c.key) ?? 0;
      if (c.limit !== undefined && committed > c.limit - c.amount) return { ok: false, key: c.key, committed };
    }
    const after = new Map<string, number>();
    for (const c of counters) {
      const v = (this.counters.get(c.key) ?? 0) + c.amount;
      this.counters.set(c.key, v);
      after.set(c.key, v);
    }
    this.open.set(reservationId, { amounts: new Map(counters.map((c) => [c.key, c.amount])), expiresAtMs: reservationExpiresAtMs });
    return { ok: true, committed: after };
  }

  async settle(reservationId: string, entries: readonly QuotaSettlement[]): Promise<ReadonlyMap<string, number>> {
    const after = new Map<string, number>();
    // A reservation already swept as expired was released in full: add the actual amount only.
    const open = this.open.delete(reservationId);
    for (const e of entries) {
      const change = open ? e.actual - e.reserved : e.actual;
      const v = Math.max(0, (this.counters.get(e.key) ?? 0) + change);
      this.counters.set(e.key, v);
      after.set(e.key, v);
    }
    return after;
  }

  async read(keys: readonly string[]): Promise<ReadonlyMap<string, number>> {
    return new Map(keys.map((k) => [k, this.counters.get(k) ?? 0]));
  }

  /** Releases reservations past their expiry; returns how many were freed. */
  sweepExpired(): number {
    const now = this.now();
    let n = 0;
    for (const [id, res] of this.open) {
      if (res.expiresAtMs > now) continue;
      for (const [key, amount] of res.amounts) this.counters.set(key, Math.max(0, (this.counters.get(key) ?? 0) - amount));
      this.open.delete(id);
      n++;
    }
    return n;
  }
}
