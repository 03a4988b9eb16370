import type {
  CounterState,
  KillSwitch,
  QuotaControls,
  QuotaCounterSpec,
  QuotaScope,
  QuotaSettlement,
  QuotaStore,
  ReserveOutcome,
  StoredLimits,
} from '../core/ports';
import type { PolicyConfig } from '../core/config/schema';
import { controlScopeKey, parseStoredPolicies } from '../core/quota/policy';

interface OpenReservation {
  readonly amounts: ReadonlyMap<string, number>;
  readonly expiresAtMs: number;
}

interface Counter {
  committed: number;
  reserved: number;
}


/**
 * In-process quota store for the local gateway and tests. Each method runs without awaiting in between, so on
 * JavaScript's single thread every reserve is atomic. Counters are not shared between processes.
 */
export class MemoryQuotaStore implements QuotaStore {
  private readonly counters = new Map<string, Counter>();
  private readonly open = new Map<string, OpenReservation>();
  private readonly alerts = new Set<string>();
  private readonly limits = new Map<string, StoredLimits>();
  private readonly switches = new Map<string, KillSwitch>();
  private readonly policies = new Map<string, readonly PolicyConfig[]>();

  async reserve(reservationId: string, counters: readonly QuotaCounterSpec[], reservationExpiresAtMs: number): Promise<ReserveOutcome> {
    for (const c of counters) {
      const committed = this.counters.get(c.key)?.committed ?? 0;
      if (c.limit !== undefined && committed > c.limit - c.amount) return { ok: false, key: c.key, committed };
    }
    const after = new Map<string, number>();
    for (const c of counters) {
      const ctr = this.counter(c.key);
      ctr.committed += c.amount;
      ctr.reserved += c.amount;
      after.set(c.key, ctr.committed);
    }
    this.open.set(reservationId, { amounts: new Map(counters.map((c) => [c.key, c.amount])), expiresAtMs: reservationExpiresAtMs });
    return { ok: true, committed: after };
  }

  async settle(reservationId: string, entries: readonly QuotaSettlement[]): Promise<ReadonlyMap<string, number>> {
    const after = new Map<string, number>();
    // A reservation already swept as expired was released in full: add the actual amount only.
    const open = this.open.delete(reservationId);
    for (const e of entries) {
      const ctr = this.counter(e.key);
      ctr.committed += open ? e.actual - e.reserved : e.actual;
      if (open) ctr.reserved -= e.reserved;
      after.set(e.key, ctr.committed);
    }
    return after;
  }

  async read(keys: readonly string[]): Promise<ReadonlyMap<string, CounterState>> {
    return new Map(keys.map((k) => {
      const c = this.counters.get(k);
      return [k, { committed: c?.committed ?? 0, reserved: c?.reserved ?? 0 }];
    }));
  }

  async sweepExpired(nowMs: number): Promise<number> {
    let n = 0;
    for (const [id, res] of this.open) {
      if (res.expiresAtMs > nowMs) continue;
      for (const [key, amount] of res.amounts) {
        const ctr = this.counter(key);
        ctr.committed -= amount;
        ctr.reserved -= amount;
      }
      this.open.delete(id);
      n++;
    }
    return n;
  }

  async claimAlert(counterKey: string, threshold: number): Promise<boolean> {
    const id = `${counterKey}@${threshold}`;
    if (this.alerts.has(id)) return false;
    this.alerts.add(id);
    return true;
  }

  async getControls(tenant: string, feature: string): Promise<QuotaControls> {
    return {
      globalLimits: this.limits.get('global'),
      tenantLimits: this.limits.get(controlScopeKey({ tenant })),
      featureLimits: this.limits.get(controlScopeKey({ tenant, feature })),
      globalKillSwitch: this.switches.get('global'),
      tenantKillSwitch: this.switches.get(controlScopeKey({ tenant })),
      tenantPolicies: this.policies.get(tenant),
    };
  }

  async putPolicies(tenant: string, policies: readonly PolicyConfig[] | null): Promise<void> {
    if (policies === null) this.policies.delete(tenant);
    else this.policies.set(tenant, parseStoredPolicies(JSON.stringify(policies)));
  }

  async putLimits(scope: QuotaScope, limits: StoredLimits | null): Promise<void> {
    if (limits === null) this.limits.delete(controlScopeKey(scope));
    else this.limits.set(controlScopeKey(scope), { ...limits });
  }

  async setKillSwitch(scope: QuotaScope, state: KillSwitch | null): Promise<void> {
    if (scope.feature !== undefined) throw new Error('A kill switch is global or per tenant, not per feature.');
    if (state === null) this.switches.delete(controlScopeKey(scope));
    else this.switches.set(controlScopeKey(scope), { ...state });
  }

  /** Open reservations, for tests and the local gateway's diagnostics. */
  get openReservations(): number {
    return this.open.size;
  }

  private counter(key: string): Counter {
    let c = this.counters.get(key);
    if (!c) {
      c = { committed: 0, reserved: 0 };
      this.counters.set(key, c);
    }
    return c;
  }
}
