import type { ResolvedConfig, ResolvedModel, ResolvedTenant, ResolvedTier } from '../config/resolve';
import { GatewayError, QuotaExceededError } from '../errors';
import { SettleDeferredError, type AlertSink, type Clock, type OperationsLog, type QuotaControls, type QuotaSettlement, type QuotaStore } from '../ports';
import { formatUsd, microsToUsd } from '../pricing/money';
import { costMicrosCeil, ratesFor } from '../pricing/prices';
import { cascadeTierOf, type Route } from '../routing/route';
import { BudgetAlerts } from './alerts';
import { effectiveLimits, killSwitchFor, planCounters, planPolicyCounters, planRequest, rateHoursOf, remainingUsdMicros, hourRatePerMs, runsOutAt, windowsAt, withRateCounters, type CounterPlan, type EffectiveLimits, type PolicyCounter } from './policy';

/** What the quota step did to a request; recorded as `quota_action`. */
export type QuotaAction =
  | 'none'
  | 'downgraded'
  | 'shadow_exceeded'
  | 'kill_switch_downgraded'
  | 'store_unavailable'
  | 'settle_deferred'
  | 'settle_failed'
  | 'output_fitted'
  | 'brownout_downgraded'
  | 'brownout_throttled';

export class QuotaStoreUnavailableError extends GatewayError {
  constructor(options?: { cause?: unknown }) {
    super('The quota store is unavailable; requests are refused until it recovers (quota.onStoreError = fail-closed).', 503, 'server_error', 'quota_store_unavailable', null, options);
  }
}

export class KillSwitchError extends GatewayError {
  constructor(tier: string, reason: string | undefined) {
    super(`The budget kill switch blocks premium tier '${tier}'${reason ? ` (${reason})` : ''}. Use a non-premium tier or model.`, 429, 'insufficient_quota', 'budget_kill_switch', 'model');
  }
}

export interface Reservation {
  readonly id: string;
  readonly plans: readonly CounterPlan[];
  /** The USD the reservation holds (the bound every answer must stay within), micro-dollars, extensions included. */
  usdMicros: number;
  /** Counter values right after the reservation, for the remaining-quota header of a stream. */
  readonly committed: ReadonlyMap<string, number>;
  settled: boolean;
  /**
   * Further reservations (ids `<id>+1`, `<id>+2`, ...) taken when a charged failure, a timed-out attempt billed at its
   * bound, left too little for another attempt (QuotaGuard.extend). Released when the request settles; each expires
   * on its own if the process dies first.
   */
  readonly extensions: { readonly id: string; readonly plans: readonly CounterPlan[] }[];
}

export interface Admission {
  /** The route to call: the requested one, or a cheaper tier after a downgrade. */
  readonly route: Route;
  /** The output cap the reservation priced when it was fitted to the budget (action output_fitted); else the request's. */
  readonly maxTokens: number | undefined;
  /** Undefined only when the store was unreachable and the policy is fail-open. */
  readonly reservation: Reservation | undefined;
  readonly action: QuotaAction;
}

export interface AdmitRequest {
  readonly requestId: string;
  readonly tenant: ResolvedTenant;
  readonly feature: string;
  readonly route: Route;
  readonly inputTokens: number;
  readonly maxTokens: number | undefined;
  /** A non-standard service tier the request asks for (priced on its own row). */
  readonly serviceTier?: string;
  /** A line of a batch: reserved at the batch price. */
  readonly batch?: boolean;
  /**
   * A line of a batch whose whole reservation is held (BatchHolds, checked against the limits when the batch was
   * submitted): counted on every counter like any request, never refused, downgraded or fitted here.
   */
  readonly underHold?: boolean;
  /** No downgrade to a cheaper tier when a limit is hit (an embeddings request: a chat tier cannot answer it). */
  readonly noDowngrade?: boolean;
  /** The hashed end user and the session, for policies counted per end user or per session. */
  readonly endUser?: string;
  readonly session?: string;
  /** The API key (16 hex of its SHA-256), for policies counted per key or matching keys. */
  readonly apiKey?: string;
  /**
   * Cache points the request may carry: the client's own hints (any provider) or the prompt-cache policy's TTL (placed
   * on Bedrock models with cache limits only). The reservation then prices input as cache writes.
   */
  readonly cacheWrites?: { readonly hinted?: '5m' | '1h'; readonly policy?: '5m' | '1h' };
}

/** The cache-write TTL a model of the route may be billed at for this request, if any. */
function cacheWritesOn(m: ResolvedModel, a: AdmitRequest): '5m' | '1h' | undefined {
  const c = a.cacheWrites;
  if (!c) return undefined;
  if (c.hinted) return c.hinted;
  return c.policy && m.promptCache && m.provider.type === 'bedrock' ? (c.policy === '1h' && m.promptCache.ttl1h ? '1h' : '5m') : undefined;
}

/**
 * The output cap of one call: the client's max_tokens (an agent's 128k is honoured), else quota.outputTokenCap, never
 * above the model's maximum. The reservation prices exactly this and the gateway sends exactly this upstream, so an
 * upstream that honours its cap cannot cost more than was reserved; a cap a limit cannot cover is fitted to it first
 * (QuotaGuard, fitOutputToBudget).
 */
export function outputCapFor(model: ResolvedModel, maxTokens: number | undefined, cap: number): number {
  return Math.min(maxTokens ?? cap, model.maxOutputTokens);
}

/** Who a request that reserved nothing (a cache hit) is, for the policies that count it. */
export interface UnreservedRequest {
  readonly endUser?: string;
  readonly session?: string;
  readonly apiKey?: string;
  /** The model whose answer was served (the cached one's). */
  readonly model?: ResolvedModel;
}

export interface SettleResult {
  /** Smallest USD left over the limited counters, micro-dollars; undefined when no USD limit applies. */
  readonly remainingMicros: number | undefined;
  /** failed: the actual amounts never reached the store; deferred: recorded, the sweep applies them. */
  readonly outcome: 'settled' | 'deferred' | 'failed';
  /** When a USD limit runs out at this hour's rate, before its window resets (runsOutAt); undefined otherwise. */
  readonly runsOutAtMs?: number;
}

/**
 * The quota step: reserve a bounded estimate before the call, reconcile after it, alert at thresholds, and apply
 * the kill switch, downgrade and shadow policies. Pure policy on the QuotaStore port.
 */
export class QuotaGuard {
  private readonly budgetAlerts: BudgetAlerts;
  private readonly controlsCache = new Map<string, { value: QuotaControls; expiresAtMs: number }>();
  private lastSweepMs = 0;
  /**
   * Settlements that never reached the store (quota_action settle_failed), applied when it answers again: the store
   * adds a swept reservation's actual amounts alone, so a late one counts once. Oldest first, bounded.
   */
  private readonly unsettled: { readonly requestId: string; readonly reservationId: string; readonly entries: readonly QuotaSettlement[] }[] = [];
  private lastReplayMs = 0;
  /** The store's current outage: since when, how many calls failed, when it was last logged. */
  private outage: { sinceMs: number; failures: number; loggedMs: number } | undefined;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly store: QuotaStore,
    alerts: AlertSink,
    private readonly clock: Clock,
    private readonly ops?: OperationsLog,
  ) {
    this.budgetAlerts = new BudgetAlerts(config, store, alerts, clock);
  }

  async admit(a: AdmitRequest): Promise<Admission> {
    const q = this.config.raw.quota;
    this.maybeSweep();
    let controls: QuotaControls;
    try {
      controls = await this.controls(a.tenant.id, a.feature);
    } catch (err) {
      this.storeFailed(err);
      if (q.onStoreError === 'fail-open') return { route: a.route, maxTokens: a.maxTokens, reservation: undefined, action: 'store_unavailable' };
      throw new QuotaStoreUnavailableError({ cause: err });
    }
    await this.maybeReplay();
    let route = a.route;
    let action: QuotaAction = 'none';
    const ks = killSwitchFor(controls);
    if (ks && this.isPremium(route)) {
      if (ks.mode === 'block') throw new KillSwitchError(route.tier ?? route.chain[0].id, ks.reason);
      const tier = this.bestNonPremiumTier(a.tenant);
      if (!tier) throw new KillSwitchError(route.tier ?? route.chain[0].id, ks.reason);
      route = { chain: tier.models, tier: tier.name, reason: `${route.reason} (kill switch: ${tier.name})` };
      action = 'kill_switch_downgraded';
    }
    const limits = this.limitsFor(a.tenant, a.feature, controls);
    const now = this.clock.now();
    const expires = now + q.reservationTtlSeconds * 1000;
    try {
      if (a.underHold) return { route, maxTokens: a.maxTokens, reservation: await this.reserveUnlimited(a.requestId, this.plan(limits, a, route, now), expires), action };
      const first = this.plan(limits, a, route, now);
      const outcome = await this.store.reserve(a.requestId, first, expires);
      if (outcome.ok) {
        const admitted: Admission = { route, maxTokens: a.maxTokens, reservation: reservationOf(a.requestId, first, outcome.committed), action };
        return await this.brownout(a, limits, admitted, now, expires);
      }
      const fitted = await this.fit(limits, a, route, now, expires, first, outcome);
      if (fitted) return { ...fitted, action: action === 'none' ? 'output_fitted' : action };
      if (q.mode === 'shadow') {
        // Record what enforcement would have refused, then admit with the limits lifted.
        return { route, maxTokens: a.maxTokens, reservation: await this.reserveUnlimited(a.requestId, first, expires), action: 'shadow_exceeded' };
      }
      const refusing = first.find((p) => p.key === outcome.key)?.policy;
      if ((q.onExhausted === 'downgrade' || refusing?.onExhausted === 'downgrade') && !a.noDowngrade) {
        for (const tier of this.cheaperTiers(a.tenant, route)) {
          const candidate: Route = { chain: tier.models, tier: tier.name, reason: `${route.reason} (quota: downgraded to ${tier.name})` };
          const plans = this.plan(limits, a, candidate, now);
          const out = await this.store.reserve(a.requestId, plans, expires);
          if (out.ok) return { route: candidate, maxTokens: a.maxTokens, reservation: reservationOf(a.requestId, plans, out.committed), action: 'downgraded' };
        }
      }
      throw this.exceeded(first, outcome.key, outcome.committed, a, now);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      this.storeFailed(err);
      if (q.onStoreError === 'fail-open') return { route, maxTokens: a.maxTokens, reservation: undefined, action: 'store_unavailable' };
      throw new QuotaStoreUnavailableError({ cause: err });
    }
  }

  /**
   * A request whose output cap a USD or token limit cannot cover is admitted with a smaller cap that fits, rather
   * than refused: at most `share` of what is left in the refusing window (so an agent's parallel subagents are all
   * admitted), at least `minOutputTokens` (if what is left pays for that; else refusal). The cap is what the reservation
   * prices and what is sent upstream, so nothing overshoots; the answer may stop at max_tokens, and says so.
   * Undefined when fitting is off or cannot help (a request-rate limit, a cascade, a cap already at the minimum).
   */
  private async fit(
    limits: EffectiveLimits, a: AdmitRequest, route: Route, now: number, expires: number, plans: CounterPlan[], refused: { key: string; committed: number },
  ): Promise<Omit<Admission, 'action'> | undefined> {
    const f = this.config.raw.quota.fitOutputToBudget;
    if (!f.enabled || cascadeTierOf(this.config, route) !== undefined) return undefined;
    const cap = this.config.raw.quota.outputTokenCap;
    let current = Math.max(...route.chain.map((m) => outputCapFor(m, a.maxTokens, cap)));
    let refusal = refused;
    let tried = plans;
    // Each round fits the counter that refused; another may refuse the smaller amount (three rounds cover tenant, feature, global).
    for (let round = 0; round < 3; round++) {
      const p = tried.find((x) => x.key === refusal.key);
      if (!p || p.limit === undefined || (p.unit !== 'usd' && p.unit !== 'tokens')) return undefined;
      const left = p.limit - refusal.committed;
      const afford = (budget: number): number => Math.min(...route.chain.map((m) => this.affordableOutput(m, a, p.unit as 'usd' | 'tokens', budget)));
      let next = Math.min(current - 1, afford(Math.floor(left * f.share)));
      // Below the minimum, the minimum, if what is left pays for it: never all of it, which would starve parallel requests.
      if (next < f.minOutputTokens) next = Math.min(current - 1, f.minOutputTokens);
      if (next < f.minOutputTokens || afford(left) < next) return undefined;
      const fitted = { ...a, maxTokens: next };
      tried = this.plan(limits, fitted, route, now);
      const out = await this.store.reserve(a.requestId, tried, expires);
      if (out.ok) return { route, maxTokens: next, reservation: reservationOf(a.requestId, tried, out.committed) };
      refusal = out;
      current = next;
    }
    return undefined;
  }

  /** Reserves the plans with their limits lifted (shadow mode, a line under its batch's hold): counted, never refused. */
  private async reserveUnlimited(id: string, plans: readonly CounterPlan[], expires: number): Promise<Reservation> {
    const unlimited = plans.map((p) => ({ ...p, limit: undefined }));
    const out = await this.store.reserve(id, unlimited, expires);
    if (!out.ok) throw new Error('an unlimited reservation was refused');
    return reservationOf(id, unlimited, out.committed);
  }

  /**
   * The counters a request would touch now and what it would reserve on each (its input estimate and output cap, at
   * its price), the limits in force included: what a batch's hold sums over its lines (BatchHolds). Throws when the
   * store cannot be read.
   */
  async planFor(a: AdmitRequest, nowMs: number): Promise<CounterPlan[]> {
    const limits = this.limitsFor(a.tenant, a.feature, await this.controls(a.tenant.id, a.feature));
    return this.plan(limits, a, a.route, nowMs);
  }

  /** The 429 for a reservation the store refused on `key`, naming the scope, the window and what was left. */
  refusal(plans: readonly CounterPlan[], key: string, committed: number, a: AdmitRequest, nowMs: number, subject = 'this request'): GatewayError {
    return this.exceeded(plans, key, committed, a, nowMs, subject);
  }

  /** The output tokens `budget` (micro-dollars or tokens) pays for on a model after the request's input. */
  private affordableOutput(m: ResolvedModel, a: AdmitRequest, unit: 'usd' | 'tokens', budget: number): number {
    if (unit === 'tokens') return Math.max(0, budget - a.inputTokens);
    if (!m.price) return m.maxOutputTokens;
    const opts = { serviceTier: a.serviceTier, batch: a.batch, cacheWrites: cacheWritesOn(m, a) };
    const input = costMicrosCeil(a.inputTokens, 0, m.price, opts);
    const perMTok = ratesFor(m.price, a.inputTokens, opts).rates.outputPerMTok;
    if (perMTok <= 0) return m.maxOutputTokens;
    return Math.max(0, Math.floor(((budget - input - 1) * 1_000_000) / perMTok));
  }

  /** Moves the reservation to the actual cost (zero on failure paths) and raises threshold alerts. Never throws. */
  async settle(res: Reservation, tenant: string, feature: string, actual: { readonly micros: number; readonly tokens: number }): Promise<SettleResult> {
    if (res.settled) return { remainingMicros: undefined, outcome: 'settled' };
    res.settled = true;
    const entries = res.plans.map((p) => ({
      key: p.key,
      reserved: p.amount,
      actual: p.unit === 'usd' ? actual.micros : p.unit === 'tokens' ? actual.tokens : 1,
    }));
    let after: ReadonlyMap<string, number>;
    try {
      after = await this.store.settle(res.id, entries);
      this.storeAnswered();
      // The actual amounts went on the first reservation; the extensions are released (or, failing that, expire).
      for (const ext of res.extensions) {
        await this.store.settle(ext.id, ext.plans.map((p) => ({ key: p.key, reserved: p.amount, actual: 0 }))).catch(() => undefined);
      }
    } catch (err) {
      // Deferred: the sweep applies the recorded actual amounts. Failed: nothing reached the store; the settlement
      // is kept and applied when the store answers again (maybeReplay), the record saying settle_failed meanwhile.
      if (err instanceof SettleDeferredError) return { remainingMicros: undefined, outcome: 'deferred' };
      this.storeFailed(err);
      this.keepUnsettled(res.id, entries);
      return { remainingMicros: undefined, outcome: 'failed' };
    }
    await this.budgetAlerts.raise(res.plans, after, tenant, feature).catch(() => undefined);
    return { remainingMicros: remainingUsdMicros(res.plans, after), outcome: 'settled', runsOutAtMs: runsOutAt(res.plans, after, this.clock.now()) };
  }

  /**
   * Holds `micros` (and `tokens`) more on every counter of the reservation, all or nothing, within the limits: what
   * another attempt needs once charged failures (timed-out attempts, billed at their bound) have used what was held.
   * False when a limit cannot take it or the store cannot tell: the request then makes no further attempt, so what
   * it is charged never passes what it held.
   */
  async extend(res: Reservation, micros: number, tokens: number): Promise<boolean> {
    if (res.settled) return false;
    const id = `${res.id}+${res.extensions.length + 1}`;
    const plans = res.plans.map((p) => ({ ...p, amount: p.unit === 'usd' ? micros : p.unit === 'tokens' ? tokens : 0 }));
    try {
      const out = await this.store.reserve(id, plans, this.clock.now() + this.config.raw.quota.reservationTtlSeconds * 1000);
      if (!out.ok) return false;
    } catch {
      return false;
    }
    res.extensions.push({ id, plans });
    res.usdMicros += micros;
    return true;
  }

  /**
   * A request that reserved nothing (a cache hit): its cost, if any (a priced embedding call), is added to the
   * counters, and the USD left is read back for the x-llm-quota-remaining-usd header. Never throws: undefined when
   * the store cannot tell or no USD limit applies.
   */
  async chargeUnreserved(id: string, tenant: ResolvedTenant, feature: string, micros: number, who: UnreservedRequest = {}): Promise<number | undefined> {
    try {
      const limits = this.limitsFor(tenant, feature, await this.controls(tenant.id, feature));
      const now = this.clock.now();
      const ctx = { tenant: tenant.id, feature, team: tenant.config.team, endUser: who.endUser, session: who.session, apiKey: who.apiKey, model: who.model?.id ?? '', provider: who.model?.provider.id ?? '' };
      // The USD counters of the tenant, feature and gateway, and of every policy that counts this request.
      const plans = planRequest(limits, ctx, now, { usdMicros: 0, tokens: 0 }).filter((p) => p.unit === 'usd');
      if (!plans.some((p) => p.limit !== undefined) && micros === 0) return undefined;
      if (micros > 0) {
        const after = await this.store.settle(id, plans.map((p) => ({ key: p.key, reserved: 0, actual: micros })));
        return remainingUsdMicros(plans, after);
      }
      const state = await this.store.read(plans.map((p) => p.key));
      return remainingUsdMicros(plans, new Map([...state].map(([k, v]) => [k, v.committed])));
    } catch {
      return undefined;
    }
  }

  /** The tenant's own usage per window: used, reserved and limit, for `GET /v1/usage`. */
  /**
   * The policies that count every request of the tenant whatever its feature, model or end user (per global, tenant
   * or team, matched on tenant and team only): each limited counter now, with what it has left.
   */
  async policyUsage(tenant: ResolvedTenant): Promise<Record<string, unknown>[]> {
    const now = this.clock.now();
    const { policies } = this.limitsFor(tenant, undefined, await this.controls(tenant.id, 'default'));
    const whole = policies.filter((p) => ['global', 'tenant', 'team'].includes(p.per) && !p.match.feature && !p.match.model && !p.match.provider);
    if (!whole.length) return [];
    const plans = planPolicyCounters(whole, { tenant: tenant.id, feature: '', team: tenant.config.team, model: '', provider: '' }, now, { usdMicros: 0, tokens: 0 });
    const state = await this.store.read(plans.map((p) => p.key));
    return plans.map((p) => {
      const s = state.get(p.key) ?? { committed: 0, reserved: 0 };
      const usd = p.unit === 'usd';
      const fmt = (n: number): number => (usd ? microsToUsd(n) : n);
      return {
        policy: p.policy!.id, per: p.policy!.per, value: p.policy!.value, window: p.window, period: p.windowLabel,
        resets_at: Number.isFinite(p.windowEndsAtMs) ? new Date(p.windowEndsAtMs).toISOString() : null,
        unit: p.unit, used: fmt(Math.max(0, s.committed - s.reserved)), reserved: fmt(s.reserved), limit: fmt(p.limit!), remaining: fmt(Math.max(0, p.limit! - s.committed)),
      };
    });
  }

  async usage(tenant: ResolvedTenant): Promise<Record<string, unknown>[]> {
    const controls = await this.controls(tenant.id, 'default');
    const limits = this.limitsFor(tenant, undefined, controls);
    const now = this.clock.now();
    const own = planCounters(limits, tenant.id, 'default', now, { usdMicros: 0, tokens: 0 }).filter((p) => p.scope === 'tenant');
    const plans = this.config.raw.quota.forecast.enabled ? withRateCounters(own, now, 0) : own;
    const state = await this.store.read(plans.map((p) => p.key));
    const committed = new Map([...state].map(([k, v]) => [k, v.committed]));
    const w = windowsAt(now);
    return [w.minute, w.day, w.month].flatMap((win) => {
      const mine = plans.filter((p) => p.window === win.window);
      if (!mine.length) return [];
      const row: Record<string, unknown> = { window: win.window, period: win.label, resets_at: new Date(win.endsAtMs).toISOString() };
      for (const p of mine) {
        const s = state.get(p.key) ?? { committed: 0, reserved: 0 };
        const used = Math.max(0, s.committed - s.reserved);
        if (p.unit === 'usd') {
          Object.assign(row, {
            spend_usd: microsToUsd(used),
            reserved_usd: microsToUsd(s.reserved),
            limit_usd: p.limit === undefined ? null : microsToUsd(p.limit),
            remaining_usd: p.limit === undefined ? null : microsToUsd(Math.max(0, p.limit - s.committed)),
          });
          if (p.rateKey) {
            const at = runsOutAt([p], committed, now);
            Object.assign(row, {
              spend_rate_usd_per_hour: microsToUsd(Math.round(hourRatePerMs(committed.get(p.rateKey) ?? 0, now) * 3_600_000)),
              runs_out_at: at === undefined ? null : new Date(at).toISOString(),
            });
          }
        } else if (p.unit === 'tokens') {
          Object.assign(row, { tokens: used, reserved_tokens: s.reserved, limit_tokens: p.limit ?? null });
        } else {
          Object.assign(row, { requests: s.committed, limit_requests: p.limit ?? null });
        }
      }
      return [row];
    });
  }

  /** At most 10,000 settlements wait (a few MB); past that the oldest is dropped, logged with what it carried. */
  private keepUnsettled(reservationId: string, entries: readonly QuotaSettlement[]): void {
    if (this.unsettled.length >= MAX_UNSETTLED) {
      const dropped = this.unsettled.shift()!;
      this.ops?.write({ _type: 'llm_quota_settle_dropped', reservation_id: dropped.reservationId, entries: dropped.entries });
    }
    this.unsettled.push({ requestId: reservationId.split('+')[0], reservationId, entries });
  }

  /** Applies the kept settlements, oldest first, at most every 10 s, stopping at the first the store refuses. */
  private async maybeReplay(): Promise<void> {
    const now = this.clock.now();
    if (!this.unsettled.length || now - this.lastReplayMs < 10_000) return;
    this.lastReplayMs = now;
    while (this.unsettled.length) {
      const next = this.unsettled[0];
      try {
        await this.store.settle(next.reservationId, next.entries);
      } catch (err) {
        if (!(err instanceof SettleDeferredError)) {
          this.storeFailed(err);
          return;
        }
      }
      this.unsettled.shift();
      this.ops?.write({ _type: 'llm_quota_settle_applied', request_id: next.requestId, reservation_id: next.reservationId, entries: next.entries });
    }
    this.storeAnswered();
  }

  /** Logs an outage once when it starts and at most once a minute while it lasts. */
  private storeFailed(err: unknown): void {
    const now = this.clock.now();
    this.outage ??= { sinceMs: now, failures: 0, loggedMs: -Infinity };
    this.outage.failures++;
    if (now - this.outage.loggedMs < 60_000) return;
    this.outage.loggedMs = now;
    this.ops?.write({
      _type: 'llm_quota_store_unavailable', since: new Date(this.outage.sinceMs).toISOString(), failures: this.outage.failures,
      unsettled: this.unsettled.length, on_store_error: this.config.raw.quota.onStoreError, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
  }

  private storeAnswered(): void {
    if (!this.outage) return;
    const o = this.outage;
    this.outage = undefined;
    this.ops?.write({ _type: 'llm_quota_store_recovered', since: new Date(o.sinceMs).toISOString(), seconds: Math.round((this.clock.now() - o.sinceMs) / 1000), failures: o.failures, unsettled: this.unsettled.length });
  }

  /**
   * Frees expired reservations lazily: at most once a minute per process, off the request path. Crashed or timed-out
   * requests thus stop holding quota within `reservationTtlSeconds` plus a minute, with no scheduler needed.
   */
  private maybeSweep(): void {
    const now = this.clock.now();
    if (now - this.lastSweepMs < 60_000) return;
    this.lastSweepMs = now;
    this.store.sweepExpired(now).catch(() => undefined);
  }

  private async controls(tenant: string, feature: string): Promise<QuotaControls> {
    const key = `${tenant}\u0000${feature}`;
    const now = this.clock.now();
    const hit = this.controlsCache.get(key);
    if (hit && hit.expiresAtMs > now) return hit.value;
    const value = await this.store.getControls(tenant, feature);
    if (this.controlsCache.size > 10_000) this.controlsCache.clear();
    this.controlsCache.set(key, { value, expiresAtMs: now + this.config.raw.quota.controlsCacheSeconds * 1000 });
    return value;
  }

  /** The limits in force for a tenant (and feature): config overlaid with the stored controls. */
  private limitsFor(tenant: ResolvedTenant, feature: string | undefined, controls: QuotaControls): EffectiveLimits {
    const q = this.config.raw.quota;
    return effectiveLimits(
      { tenant: tenant.config.limits, defaults: q.defaults, feature: feature === undefined ? undefined : tenant.config.features?.[feature], global: q.global, policies: q.policies, tenantId: tenant.id },
      controls,
    );
  }

  private plan(limits: EffectiveLimits, a: AdmitRequest, route: Route, now: number): CounterPlan[] {
    const cap = this.config.raw.quota.outputTokenCap;
    let micros = 0;
    let outTokens = 0;
    // A fallback chain answers with one model (reserve the dearest); a cascade may pay every model it climbs.
    const cascade = cascadeTierOf(this.config, route) !== undefined;
    for (const m of route.chain) {
      const out = outputCapFor(m, a.maxTokens, cap);
      const cost = m.price ? costMicrosCeil(a.inputTokens, out, m.price, { serviceTier: a.serviceTier, batch: a.batch, cacheWrites: cacheWritesOn(m, a) }) : 0;
      outTokens = cascade ? outTokens + out : Math.max(outTokens, out);
      micros = cascade ? micros + cost : Math.max(micros, cost);
    }
    const primary = route.chain[0];
    const ctx = { tenant: a.tenant.id, feature: a.feature, team: a.tenant.config.team, endUser: a.endUser, session: a.session, apiKey: a.apiKey, model: primary.id, provider: primary.provider.id };
    return planRequest(limits, ctx, now, { usdMicros: micros, tokens: a.inputTokens + outTokens }, rateHoursOf(this.config.raw.quota.forecast));
  }

  private exceeded(plans: readonly CounterPlan[], key: string, committed: number, a: AdmitRequest, now: number, subject = 'this request'): GatewayError {
    const p = plans.find((x) => x.key === key)!;
    const fmt = (n: number): string => (p.unit === 'usd' ? `$${formatUsd(n)}` : `${n} ${p.unit}`);
    const who = p.policy
      ? policyWho(p.policy)
      : p.scope === 'global' ? 'the gateway' : p.scope === 'feature' ? `'${a.tenant.id}/${a.feature}'` : `'${a.tenant.id}'`;
    const forever = !Number.isFinite(p.windowEndsAtMs);
    const hint = forever
      ? `This ${p.policy?.per ?? 'scope'}'s budget never resets: ${p.policy?.per === 'session' ? 'start a new session' : 'raise the policy\'s limit'}.`
      : p.unit === 'requests' ? 'Slow down.' : 'Lower max_tokens or retry after the window resets.';
    return new QuotaExceededError(
      `Quota exceeded for ${who} (${p.window === 'total' ? 'total' : `${p.window} ${p.windowLabel}`}, limit ${fmt(p.limit!)}): ${fmt(Math.max(0, p.limit! - committed))} left, ` +
        `${subject} may need up to ${fmt(p.amount)}. ${hint}`,
      forever ? undefined : Math.max(1, Math.ceil((p.windowEndsAtMs - now) / 1000)),
      p.unit === 'requests' ? 'rate_limit_exceeded' : 'quota_exceeded',
    );
  }

  /**
   * Staged brownout, on a reservation just made: once a policy counter with `brownout` reaches a stage's share of its
   * limit (this request's reservation included), the request is
   * - downgraded (downgradeAt): served from the cheapest tier the tenant may use, if cheaper than its own; the cheaper
   *   route is reserved under a second id (so the two never meet in the store), then the first released. If the
   *   cheaper route does not fit, the first reservation stands;
   * - throttled (throttleAt): held to throttleRpm requests a minute per value of the policy's `per`, on a counter of
   *   its own; past it, the reservation is released and the request refused (429, Retry-After to the minute's end).
   * Each stage reached raises one alert per counter and window (quota_brownout).
   */
  private async brownout(a: AdmitRequest, limits: EffectiveLimits, admitted: Admission, now: number, expires: number): Promise<Admission> {
    const staged = (at: (b: NonNullable<PolicyCounter['brownout']>) => number | undefined, res: Reservation): CounterPlan[] =>
      res.plans.filter((p) => {
        const share = p.policy?.brownout ? at(p.policy.brownout) : undefined;
        return share !== undefined && p.limit !== undefined && p.unit !== 'requests' && (res.committed.get(p.key) ?? 0) >= share * p.limit;
      });
    let out = admitted;
    const first = admitted.reservation!;
    const down = staged((b) => b.downgradeAt, first);
    if (down.length) {
      await this.budgetAlerts.stage(down, 'downgrade', first.committed, a.tenant.id);
      const cheapest = a.noDowngrade ? undefined : this.cheaperTiers(a.tenant, admitted.route).at(-1);
      if (cheapest) {
        const candidate: Route = { chain: cheapest.models, tier: cheapest.name, reason: `${admitted.route.reason} (brownout: ${cheapest.name})` };
        const id = `${a.requestId}.brownout`;
        const cheaper = this.plan(limits, a, candidate, now);
        const res = await this.store.reserve(id, cheaper, expires);
        if (res.ok) {
          await this.store.settle(a.requestId, first.plans.map((p) => ({ key: p.key, reserved: p.amount, actual: 0 })));
          out = { route: candidate, maxTokens: a.maxTokens, reservation: reservationOf(id, cheaper, res.committed), action: 'brownout_downgraded' };
        }
      }
    }
    const reservation = out.reservation!;
    const throttled = staged((b) => b.throttleAt, reservation);
    if (!throttled.length) return out;
    await this.budgetAlerts.stage(throttled, 'throttle', reservation.committed, a.tenant.id);
    const minute = windowsAt(now).minute;
    const seen = new Set<string>();
    const gates: CounterPlan[] = [];
    for (const p of throttled) {
      const pol = p.policy!;
      const key = `policy#${pol.id}#${pol.value}#throttle#${minute.label}`;
      if (seen.has(key)) continue;
      seen.add(key);
      gates.push({
        key, limit: pol.brownout!.throttleRpm!, amount: 1, expiresAtMs: minute.endsAtMs + 3_600_000,
        scope: 'policy', unit: 'requests', window: 'minute', windowLabel: minute.label, windowEndsAtMs: minute.endsAtMs, policy: pol,
      });
    }
    // Its own reservation id, settled at once: the request counts on the minute's counter whatever becomes of it.
    const gateId = `${reservation.id}.throttle`;
    const gate = await this.store.reserve(gateId, gates, expires);
    if (!gate.ok) {
      await this.store.settle(reservation.id, reservation.plans.map((p) => ({ key: p.key, reserved: p.amount, actual: 0 })));
      const g = gates.find((x) => x.key === gate.key)!;
      throw new QuotaExceededError(
        `${policyWho(g.policy!)} is throttled to ` +
          `${g.limit} requests a minute: it has used ${Math.round(g.policy!.brownout!.throttleAt! * 100)}% or more of a budget. Retry after the minute, or raise the policy's limit.`,
        Math.max(1, Math.ceil((minute.endsAtMs - now) / 1000)),
        'rate_limit_exceeded',
      );
    }
    await this.store.settle(gateId, gates.map((g) => ({ key: g.key, reserved: 1, actual: 1 })));
    return { ...out, action: 'brownout_throttled' };
  }

  private isPremium(route: Route): boolean {
    const premium = new Set(this.config.raw.quota.premiumTiers);
    if (!premium.size) return false;
    if (route.reason === 'explicit-model') {
      const m = route.chain[0];
      return m.tiers.length > 0 && m.tiers.every((t) => premium.has(t));
    }
    return route.tier !== null && premium.has(route.tier);
  }

  /** Routing order, cheapest first. */
  private tierOrder(): ResolvedTier[] {
    return this.config.thresholds.map((t) => t.tier);
  }

  private bestNonPremiumTier(tenant: ResolvedTenant): ResolvedTier | undefined {
    const premium = new Set(this.config.raw.quota.premiumTiers);
    return this.tierOrder().filter((t) => !premium.has(t.name) && tenant.allowedTiers.has(t.name)).pop();
  }

  /** Allowed tiers below the route's, most capable first. */
  private cheaperTiers(tenant: ResolvedTenant, route: Route): ResolvedTier[] {
    const order = this.tierOrder();
    const from: ResolvedModel | undefined = route.reason === 'explicit-model' ? route.chain[0] : undefined;
    const current = route.tier ?? from?.tiers[0];
    const idx = order.findIndex((t) => t.name === current);
    if (idx <= 0) return [];
    return order.slice(0, idx).filter((t) => tenant.allowedTiers.has(t.name)).reverse();
  }
}

const MAX_UNSETTLED = 10_000;

/** How a refusal names a policy counter: "policy 'x' (session 'abc')". */
function policyWho(p: PolicyCounter): string {
  return `policy '${p.id}'${p.per === 'global' ? '' : ` (${p.per} ${p.per === 'endUser' ? 'of the request' : `'${p.value}'`})`}`;
}

function reservationOf(id: string, plans: readonly CounterPlan[], committed: ReadonlyMap<string, number>): Reservation {
  const usd = plans.find((p) => p.unit === 'usd');
  return { id, plans, committed, usdMicros: usd?.amount ?? 0, settled: false, extensions: [] };
}
