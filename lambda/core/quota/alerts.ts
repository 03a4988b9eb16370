import type { ResolvedConfig } from '../config/resolve';
import type { AlertSink, Clock, QuotaStore } from '../ports';
import { usdToMicros } from '../pricing/money';
import { policyWindowAt, type CounterPlan, type PolicyCounter } from './policy';

/**
 * The quota step's alerts: thresholds crossed, forecasts of a limit running out, spend spikes, brownout stages. Each is
 * published once per counter (and window, hour or stage) across gateway instances, through the store's alert claim;
 * this process remembers what it claimed so later requests skip the store. Never on a request's error path: a failure
 * to claim or publish is the caller's to swallow.
 */
export class BudgetAlerts {
  /** Alerts already claimed by this process, to skip the store's conditional write on every later request. */
  private readonly claimed = new Set<string>();
  /** When this process last projected each counter's exhaustion (forecast) or checked each scope's rate (spike). */
  private readonly forecastChecked = new Map<string, number>();

  constructor(
    private readonly config: ResolvedConfig,
    private readonly store: QuotaStore,
    private readonly alerts: AlertSink,
    private readonly clock: Clock,
  ) {}

  /**
   * Whether this process should re-check `key` (a counter's forecast, a scope's spike) now: at most every
   * forecast.checkEverySeconds; remembers the check.
   */
  private due(key: string, now: number): boolean {
    const last = this.forecastChecked.get(key);
    if (last !== undefined && now - last < this.config.raw.quota.forecast.checkEverySeconds * 1000) return false;
    if (this.forecastChecked.size >= 10_000) this.forecastChecked.clear();
    this.forecastChecked.set(key, now);
    return true;
  }

  /** Threshold, forecast and spike alerts after a settlement (`after`: the counters' committed values). */
  async raise(plans: readonly CounterPlan[], after: ReadonlyMap<string, number>, tenant: string, feature: string): Promise<void> {
    const rated = new Map<string, CounterPlan>();
    for (const p of plans) if (p.rateKey && !rated.has(p.rateKey)) rated.set(p.rateKey, p);
    for (const [rateKey, p] of rated) await this.spike(p, rateKey, after.get(rateKey) ?? 0, tenant, feature);
    for (const p of plans) {
      if (p.limit === undefined || p.limit === 0 || p.unit === 'requests') continue;
      const committed = after.get(p.key) ?? 0;
      if (p.rateKey) await this.forecast(p, committed, after.get(p.rateKey) ?? 0, tenant, feature);
      for (const th of this.config.raw.quota.alertThresholds) {
        if (committed < th * p.limit) continue;
        const id = `${p.key}@${th}`;
        if (this.claimed.has(id)) continue;
        this.claimed.add(id);
        if (!(await this.store.claimAlert(p.key, th, p.expiresAtMs))) continue;
        this.alerts.publish({
          type: 'quota_threshold', tenant, feature: p.scope === 'feature' ? feature : null, scope: p.scope, unit: p.unit as 'usd' | 'tokens',
          window: p.window, period: p.windowLabel, counter: p.key, threshold: th, committed, limit: p.limit, ...(p.policy ? { policy: policyRef(p.policy) } : {}),
          ts: new Date(this.clock.now()).toISOString(),
        });
      }
    }
  }

  /**
   * The forecast alert: at the spend rate of the current hour (with the previous hour too until 30 minutes of this one
   * have passed), does this USD limit run out before its window ends? Checked at most every forecast.checkEverySeconds
   * per counter in this process, alerted once per counter and window across instances (the store's alert claim).
   */
  private async forecast(p: CounterPlan, committed: number, hourSpent: number, tenant: string, feature: string): Promise<void> {
    const now = this.clock.now();
    if (!this.due(p.key, now)) return;
    const remaining = p.limit! - committed;
    if (remaining <= 0) return;
    const [prevKey] = earlierHourKeys(p.rateKey!, now, 1);
    const previous = recentSpan(now).withPrevious ? (await this.store.read([prevKey])).get(prevKey)?.committed ?? 0 : 0;
    const rate = recentRatePerMs(hourSpent, previous, now);
    if (rate <= 0) return;
    const exhaustsAtMs = now + remaining / rate;
    if (exhaustsAtMs >= p.windowEndsAtMs) return;
    if (!(await this.store.claimAlert(`${p.key}#forecast`, 1, p.expiresAtMs))) return;
    this.alerts.publish({
      type: 'quota_forecast', tenant, feature: p.scope === 'feature' ? feature : null, scope: p.scope, unit: 'usd',
      window: p.window, period: p.windowLabel, counter: p.key, threshold: Math.round((committed / p.limit!) * 1000) / 1000, committed, limit: p.limit!,
      ...(p.policy ? { policy: policyRef(p.policy) } : {}),
      exhaustsAt: new Date(exhaustsAtMs).toISOString(), ratePerHour: Math.round(rate * 3_600_000),
      ts: new Date(now).toISOString(),
    });
  }

  /**
   * The spike alert: this hour's USD spend rate (with the previous hour until 30 minutes of this one have passed)
   * against the scope's average over the spikeTrailingHours before: past spikeFactor times it, and at least
   * spikeMinUsdPerHour, one alert per scope and hour across instances. Checked at most every
   * forecast.checkEverySeconds per scope in this process; one read of the trailing hours' counters.
   */
  private async spike(p: CounterPlan, rateKey: string, hourSpent: number, tenant: string, feature: string): Promise<void> {
    const f = this.config.raw.quota.forecast;
    const now = this.clock.now();
    if (!this.due(rateKey, now)) return;
    const keys = earlierHourKeys(rateKey, now, f.spikeTrailingHours);
    const state = await this.store.read(keys);
    const trailing = keys.reduce((sum, k) => sum + (state.get(k)?.committed ?? 0), 0) / keys.length;
    const perHour = recentRatePerMs(hourSpent, state.get(keys[0])?.committed ?? 0, now) * 3_600_000;
    if (perHour < usdToMicros(f.spikeMinUsdPerHour) || perHour <= f.spikeFactor * trailing) return;
    if (!(await this.store.claimAlert(`${rateKey}#spike`, 1, p.expiresAtMs))) return;
    this.alerts.publish({
      type: 'quota_spike', tenant, feature: p.scope === 'feature' ? feature : null, scope: p.scope, unit: 'usd',
      window: 'hour', period: policyWindowAt('hour', now).label, counter: rateKey, threshold: f.spikeFactor, committed: hourSpent, limit: p.limit!,
      ...(p.policy ? { policy: policyRef(p.policy) } : {}),
      ratePerHour: Math.round(perHour), trailingPerHour: Math.round(trailing), ts: new Date(now).toISOString(),
    });
  }

  /**
   * One quota_brownout alert per counter, stage and window, across instances (the store's claim). Only the first request
   * of a stage in each process waits for the claim (one conditional write); a failed claim is skipped, never thrown.
   */
  async stage(plans: readonly CounterPlan[], stage: 'downgrade' | 'throttle', committed: ReadonlyMap<string, number>, tenant: string): Promise<void> {
    for (const p of plans) {
      const id = `${p.key}#brownout-${stage}`;
      if (this.claimed.has(id)) continue;
      this.claimed.add(id);
      const value = committed.get(p.key) ?? 0;
      await this.store.claimAlert(id, 1, p.expiresAtMs).then((won) => {
        if (!won) return;
        this.alerts.publish({
          type: 'quota_brownout', stage, tenant, feature: null, scope: 'policy', unit: p.unit as 'usd' | 'tokens',
          window: p.window, period: p.windowLabel, counter: p.key, threshold: (stage === 'downgrade' ? p.policy!.brownout!.downgradeAt : p.policy!.brownout!.throttleAt)!,
          committed: value, limit: p.limit!, policy: policyRef(p.policy!), ts: new Date(this.clock.now()).toISOString(),
        });
      }).catch(() => undefined);
    }
  }
}

/** This hour's start, and whether the previous hour still counts in the recent rate (this one under 30 minutes old). */
function recentSpan(nowMs: number): { readonly hourStartMs: number; readonly withPrevious: boolean } {
  const hourStartMs = policyWindowAt('hour', nowMs).endsAtMs - 3_600_000;
  return { hourStartMs, withPrevious: nowMs - hourStartMs < 1_800_000 };
}

/** The recent spend rate per millisecond: this hour's counter, with the previous hour's until this one is 30 minutes old. */
function recentRatePerMs(hourSpent: number, previousHourSpent: number, nowMs: number): number {
  const { hourStartMs, withPrevious } = recentSpan(nowMs);
  return (hourSpent + (withPrevious ? previousHourSpent : 0)) / (nowMs - hourStartMs + (withPrevious ? 3_600_000 : 0));
}

/** The keys of the `n` hour counters before the current one that `rateKey` names, latest first. */
function earlierHourKeys(rateKey: string, nowMs: number, n: number): string[] {
  const hour = policyWindowAt('hour', nowMs);
  const prefix = rateKey.slice(0, rateKey.length - hour.label.length);
  const hourStartMs = hour.endsAtMs - 3_600_000;
  return Array.from({ length: n }, (_, i) => `${prefix}${policyWindowAt('hour', hourStartMs - 1 - i * 3_600_000).label}`);
}

/** How an alert names a policy counter: the policy, what it counts per, and the value. */
export function policyRef(p: PolicyCounter): { id: string; per: string; value: string } {
  return { id: p.id, per: p.per, value: p.value };
}
