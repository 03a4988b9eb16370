import type { ResolvedConfig, ResolvedTenant } from '../config/resolve';
import type { LimitSet } from '../config/schema';
import type { QuotaCounterSpec } from '../ports';
import { usdToMicros } from '../pricing/money';

export type Window = 'day' | 'month';
export type Unit = 'usd' | 'tokens';

export interface WindowInfo {
  readonly window: Window;
  /** yyyy-mm-dd or yyyy-mm, UTC. */
  readonly label: string;
  readonly endsAtMs: number;
}

export function windowsAt(nowMs: number): readonly WindowInfo[] {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  const mm = String(m + 1).padStart(2, '0');
  return [
    { window: 'day', label: `${y}-${mm}-${String(day).padStart(2, '0')}`, endsAtMs: Date.UTC(y, m, day + 1) },
    { window: 'month', label: `${y}-${mm}`, endsAtMs: Date.UTC(y, m + 1, 1) },
  ];
}

/** Limit for a unit and window in store units: micro-dollars or tokens. */
function limitOf(set: LimitSet | undefined, unit: Unit, window: Window): number | undefined {
  if (!set) return undefined;
  const v = unit === 'usd' ? (window === 'day' ? set.dailyUsd : set.monthlyUsd) : window === 'day' ? set.dailyTokens : set.monthlyTokens;
  if (v === undefined) return undefined;
  return unit === 'usd' ? usdToMicros(v) : v;
}

export interface CounterPlan extends QuotaCounterSpec {
  readonly scope: 'tenant' | 'feature' | 'global';
  readonly unit: Unit;
  readonly window: Window;
  readonly windowLabel: string;
  readonly windowEndsAtMs: number;
}

/** Keeps counters a day past their window for reporting, then lets the store expire them. */
const COUNTER_RETENTION_MS = 35 * 86_400_000;

/**
 * The counters a request touches. Tenant counters always exist (they feed /v1/usage); feature and global counters
 * only where a limit is set. Amounts are micro-dollars for usd counters and tokens for token counters.
 */
export function planCounters(
  config: ResolvedConfig,
  tenant: ResolvedTenant,
  feature: string,
  nowMs: number,
  amounts: { readonly usdMicros: number; readonly tokens: number },
): CounterPlan[] {
  const out: CounterPlan[] = [];
  const tenantLimits = tenant.config.limits ?? config.raw.quota.defaults;
  const featureLimits = tenant.config.features?.[feature];
  const globalLimits = config.raw.quota.global;
  for (const w of windowsAt(nowMs)) {
    for (const unit of ['usd', 'tokens'] as const) {
      const amount = unit === 'usd' ? amounts.usdMicros : amounts.tokens;
      const base = { unit, window: w.window, windowLabel: w.label, windowEndsAtMs: w.endsAtMs, amount, expiresAtMs: w.endsAtMs + COUNTER_RETENTION_MS };
      out.push({ ...base, scope: 'tenant', key: `tenant#${tenant.id}#${unit}#${w.label}`, limit: limitOf(tenantLimits, unit, w.window) });
      const fl = limitOf(featureLimits, unit, w.window);
      if (fl !== undefined) out.push({ ...base, scope: 'feature', key: `feature#${tenant.id}#${feature}#${unit}#${w.label}`, limit: fl });
      const gl = limitOf(globalLimits, unit, w.window);
      if (gl !== undefined) out.push({ ...base, scope: 'global', key: `global#${unit}#${w.label}`, limit: gl });
    }
  }
  return out;
}

/** Smallest remaining USD (micros) over the limited usd counters, or undefined when none is limited. */
export function remainingUsdMicros(plans: readonly CounterPlan[], committed: ReadonlyMap<string, number>): number | undefined {
  let min: number | undefined;
  for (const p of plans) {
    if (p.unit !== 'usd' || p.limit === undefined) continue;
    const left = Math.max(0, p.limit - (committed.get(p.key) ?? 0));
    min = min === undefined ? left : Math.min(min, left);
  }
  return min;
}
