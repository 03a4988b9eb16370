import * as z from 'zod';
import { PolicySchema, type LimitSet, type PolicyConfig, type PolicyWindow } from '../config/schema';
import type { QuotaControls, QuotaCounterSpec, QuotaScope, StoredLimits } from '../ports';
import { usdToMicros } from '../pricing/money';

export type Window = 'minute' | 'day' | 'month';
export type PolicyWindowName = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'total' | 'period';
export type Unit = 'usd' | 'tokens' | 'requests';
export type Scope = 'tenant' | 'feature' | 'global' | 'policy';

export interface WindowInfo {
  readonly window: Window | PolicyWindowName;
  /** yyyy-mm-ddThh:mm, yyyy-mm-dd or yyyy-mm, UTC. */
  readonly label: string;
  readonly endsAtMs: number;
}

const pad = (n: number): string => String(n).padStart(2, '0');

export function windowsAt(nowMs: number): { readonly minute: WindowInfo; readonly day: WindowInfo; readonly month: WindowInfo } {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  const date = `${y}-${pad(m + 1)}-${pad(day)}`;
  return {
    minute: { window: 'minute', label: `${date}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`, endsAtMs: Math.floor(nowMs / 60_000) * 60_000 + 60_000 },
    day: { window: 'day', label: date, endsAtMs: Date.UTC(y, m, day + 1) },
    month: { window: 'month', label: `${y}-${pad(m + 1)}`, endsAtMs: Date.UTC(y, m + 1, 1) },
  };
}

/** Limits in force for one request, after store overrides. Values in store units: micro-dollars, tokens, requests. */
export interface EffectiveLimits {
  readonly tenant: LimitSet;
  readonly feature: LimitSet;
  readonly global: LimitSet;
  /** The config's policies and the tenant's own (policiesFor). */
  readonly policies: readonly PolicyConfig[];
}

/** Config limits overlaid with stored ones: a stored field wins; a stored null removes the limit. */
export function mergeLimits(base: LimitSet | undefined, stored: StoredLimits | undefined): LimitSet {
  const out: Record<string, number | undefined> = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(stored ?? {})) out[k] = v === null ? undefined : v;
  return out as LimitSet;
}

export function effectiveLimits(
  config: { tenant?: LimitSet; defaults: LimitSet; feature?: LimitSet; global: LimitSet; policies?: readonly PolicyConfig[]; tenantId?: string },
  controls: QuotaControls,
): EffectiveLimits {
  return {
    tenant: mergeLimits(config.tenant ?? config.defaults, controls.tenantLimits),
    feature: mergeLimits(config.feature, controls.featureLimits),
    global: mergeLimits(config.global, controls.globalLimits),
    policies: policiesFor(config.policies ?? [], config.tenantId ?? '', controls.tenantPolicies),
  };
}

function limitOf(set: LimitSet, unit: Unit, window: Window): number | undefined {
  let v: number | undefined;
  if (unit === 'requests') v = window === 'minute' ? set.requestsPerMinute : undefined;
  else if (unit === 'usd') v = window === 'day' ? set.dailyUsd : window === 'month' ? set.monthlyUsd : undefined;
  else v = window === 'day' ? set.dailyTokens : window === 'month' ? set.monthlyTokens : undefined;
  if (v === undefined) return undefined;
  return unit === 'usd' ? usdToMicros(v) : v;
}

/** What a policy counter carries of its policy: its id, what it counts per, this request's value of that, its stages. */
export interface PolicyCounter {
  readonly id: string;
  readonly per: PolicyConfig['per'];
  readonly value: string;
  readonly brownout?: PolicyConfig['brownout'];
  readonly onExhausted: PolicyConfig['onExhausted'];
}

export interface CounterPlan extends QuotaCounterSpec {
  readonly scope: Scope;
  readonly unit: Unit;
  readonly window: Window | PolicyWindowName;
  readonly windowLabel: string;
  readonly windowEndsAtMs: number;
  /** A policy's counter: its id, what it is counted per, and this request's value of that. */
  readonly policy?: PolicyCounter;
  /**
   * A USD limit on a window longer than an hour: the key of its scope's current-hour USD counter, which the plans also
   * carry (tracked, unlimited). Its spend rate projects when the limit runs out (QuotaGuard's forecast alert); the
   * hours kept (withRateCounters' keepHours) give the trailing average of the spike alert.
   */
  readonly rateKey?: string;
}

/** Windows long enough that a forecast of their exhaustion means something. */
const FORECAST_WINDOWS = new Set(['day', 'week', 'month', 'period']);

/**
 * Adds to `plans` the current-hour USD counter of each scope that has a USD limit on a longer window, and points
 * those plans at it (rateKey). A scope with its own hourly USD limit reuses that counter.
 */
export function withRateCounters(plans: CounterPlan[], nowMs: number, amountMicros: number, keepHours = 3): CounterPlan[] {
  const hour = policyWindowAt('hour', nowMs);
  const out = [...plans];
  const keys = new Set(plans.map((p) => p.key));
  for (let i = 0; i < out.length; i++) {
    const p = out[i];
    if (p.unit !== 'usd' || p.limit === undefined || !FORECAST_WINDOWS.has(p.window)) continue;
    const rateKey = `${p.key.slice(0, p.key.length - p.windowLabel.length)}${hour.label}`;
    out[i] = { ...p, rateKey };
    if (keys.has(rateKey)) continue;
    keys.add(rateKey);
    out.push({
      key: rateKey, limit: undefined, amount: amountMicros, expiresAtMs: hour.endsAtMs + keepHours * 3_600_000,
      scope: p.scope, unit: 'usd', window: 'hour', windowLabel: hour.label, windowEndsAtMs: hour.endsAtMs, ...(p.policy ? { policy: p.policy } : {}),
    });
  }
  return out;
}

/** A `total` window never ends; its counter is kept for this long after it was made (a session's life). */
const TOTAL_WINDOW_RETENTION_MS = 30 * 86_400_000;

/** The window of a policy limit at `nowMs`: its label (part of the counter key) and when it ends (UTC). */
export function policyWindowAt(w: PolicyWindow, nowMs: number): WindowInfo {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  const date = `${y}-${pad(m + 1)}-${pad(day)}`;
  if (typeof w === 'object') {
    const anchor = Date.parse(w.anchor);
    const period = w.periodSeconds * 1000;
    const index = Math.floor((nowMs - anchor) / period);
    return { window: 'period', label: `${w.periodSeconds}s@${new Date(anchor).toISOString()}#${index}`, endsAtMs: anchor + (index + 1) * period };
  }
  switch (w) {
    case 'minute':
    case 'day':
    case 'month':
      return windowsAt(nowMs)[w];
    case 'hour':
      return { window: 'hour', label: `${date}T${pad(d.getUTCHours())}`, endsAtMs: Math.floor(nowMs / 3_600_000) * 3_600_000 + 3_600_000 };
    case 'week': {
      // ISO weeks: Monday 00:00 UTC to the next Monday.
      const monday = Date.UTC(y, m, day - ((d.getUTCDay() + 6) % 7));
      return { window: 'week', label: `week-of-${new Date(monday).toISOString().slice(0, 10)}`, endsAtMs: monday + 7 * 86_400_000 };
    }
    case 'total':
      return { window: 'total', label: 'total', endsAtMs: Number.POSITIVE_INFINITY };
  }
}

/** What a request is, for matching policies and naming their partitions. */
export interface PolicyContext {
  readonly tenant: string;
  readonly feature: string;
  readonly team?: string;
  readonly endUser?: string;
  readonly session?: string;
  /** The API key: the first 16 hex characters of its SHA-256. */
  readonly apiKey?: string;
  /** The route's primary model and its provider. */
  readonly model: string;
  readonly provider: string;
}

const globs = new Map<string, RegExp>();
function matches(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*')}$`);
    globs.set(pattern, re);
  }
  return re.test(value);
}

/**
 * The counters the configured policies add for one request: for each policy whose match holds and whose `per` value
 * the request has, one counter per limit and unit, keyed by policy, value and window (so every gateway instance
 * counts the same item), with the request's amounts. Reserved and settled with the tenant's own counters, all or nothing.
 */
export function planPolicyCounters(
  policies: readonly PolicyConfig[],
  ctx: PolicyContext,
  nowMs: number,
  amounts: { readonly usdMicros: number; readonly tokens: number },
): CounterPlan[] {
  const out: CounterPlan[] = [];
  for (const p of policies) {
    const mt = p.match;
    if (!matches(mt.tenant, ctx.tenant) || !matches(mt.feature, ctx.feature) || !matches(mt.team, ctx.team) || !matches(mt.model, ctx.model) || !matches(mt.provider, ctx.provider) || !matches(mt.apiKey, ctx.apiKey)) continue;
    const value = p.per === 'global' ? '*' : p.per === 'feature' ? `${ctx.tenant}/${ctx.feature}` : ctx[p.per];
    if (value === undefined) continue;
    for (const l of p.limits) {
      const win = policyWindowAt(l.window, nowMs);
      const expiresAtMs = win.window === 'total' ? nowMs + TOTAL_WINDOW_RETENTION_MS : win.endsAtMs + (win.window === 'minute' || win.window === 'hour' ? 3_600_000 : COUNTER_RETENTION_MS);
      const units: [Unit, number | undefined, number][] = [['usd', l.usd === undefined ? undefined : usdToMicros(l.usd), amounts.usdMicros], ['tokens', l.tokens, amounts.tokens], ['requests', l.requests, 1]];
      for (const [unit, limit, amount] of units) {
        if (limit === undefined) continue;
        out.push({
          key: `policy#${p.id}#${value}#${unit}#${win.label}`, limit, amount, expiresAtMs,
          scope: 'policy', unit, window: win.window, windowLabel: win.label, windowEndsAtMs: win.endsAtMs,
          policy: { id: p.id, per: p.per, value, onExhausted: p.onExhausted, ...(p.brownout ? { brownout: p.brownout } : {}) },
        });
      }
    }
  }
  return out;
}

/**
 * Every counter one request touches: the policies that count it first (limited counters lead, so a refusal usually
 * comes before anything needs rolling back), then the tenant's, feature's and gateway's (planCounters), and with
 * `rateHours` the forecast's hour counters, kept that many hours past their hour (withRateCounters). What the quota
 * step reserves, a cache hit is charged on, and `estimate` counts.
 */
export function planRequest(
  limits: EffectiveLimits,
  ctx: PolicyContext,
  nowMs: number,
  amounts: { readonly usdMicros: number; readonly tokens: number },
  rateHours?: number,
): CounterPlan[] {
  const plans = planCounters(limits, ctx.tenant, ctx.feature, nowMs, amounts);
  const all = limits.policies.length ? [...planPolicyCounters(limits.policies, ctx, nowMs, amounts), ...plans] : plans;
  return rateHours === undefined ? all : withRateCounters(all, nowMs, amounts.usdMicros, rateHours);
}

/** How long the forecast's hour counters are kept past their hour (the spike alert's trailing hours and two); none when it is off. */
export function rateHoursOf(forecast: { readonly enabled: boolean; readonly spikeTrailingHours: number }): number | undefined {
  return forecast.enabled ? forecast.spikeTrailingHours + 2 : undefined;
}

/** Counters outlive their window by a month for reporting, then the store may expire them. */
const COUNTER_RETENTION_MS = 35 * 86_400_000;

/**
 * The counters a request touches. Tenant day and month counters always exist (they feed /v1/usage and attribution);
 * feature, global and per-minute counters only where a limit is set. Limited counters come first, so a refusal
 * usually happens before anything needs rolling back.
 */
export function planCounters(
  limits: EffectiveLimits,
  tenant: string,
  feature: string,
  nowMs: number,
  amounts: { readonly usdMicros: number; readonly tokens: number },
): CounterPlan[] {
  const out: CounterPlan[] = [];
  const w = windowsAt(nowMs);
  const scopes: { scope: Scope; set: LimitSet; prefix: string; always: boolean }[] = [
    { scope: 'tenant', set: limits.tenant, prefix: `tenant#${tenant}`, always: true },
    { scope: 'feature', set: limits.feature, prefix: `feature#${tenant}#${feature}`, always: false },
    { scope: 'global', set: limits.global, prefix: 'global', always: false },
  ];
  const combos: { unit: Unit; win: WindowInfo; amount: number; tracked: boolean }[] = [
    { unit: 'usd', win: w.day, amount: amounts.usdMicros, tracked: true },
    { unit: 'tokens', win: w.day, amount: amounts.tokens, tracked: true },
    { unit: 'usd', win: w.month, amount: amounts.usdMicros, tracked: true },
    { unit: 'tokens', win: w.month, amount: amounts.tokens, tracked: true },
    { unit: 'requests', win: w.minute, amount: 1, tracked: false },
  ];
  for (const s of scopes) {
    for (const c of combos) {
      const limit = limitOf(s.set, c.unit, c.win.window as Window);
      if (limit === undefined && !(s.always && c.tracked)) continue;
      out.push({
        key: `${s.prefix}#${c.unit}#${c.win.label}`,
        limit,
        amount: c.amount,
        expiresAtMs: c.win.endsAtMs + (c.win.window === 'minute' ? 3_600_000 : COUNTER_RETENTION_MS),
        scope: s.scope,
        unit: c.unit,
        window: c.win.window,
        windowLabel: c.win.label,
        windowEndsAtMs: c.win.endsAtMs,
      });
    }
  }
  return out.sort((a, b) => Number(a.limit === undefined) - Number(b.limit === undefined));
}

/**
 * The runway: when the first limited USD counter with a rate counter (withRateCounters) runs out at this hour's
 * spend rate (what the hour's counter holds over the time since the hour began, at least 5 minutes), if that comes
 * before its window ends. Undefined: no limit runs out before it resets at this rate, or nothing was spent this hour.
 */
export function runsOutAt(plans: readonly CounterPlan[], committed: ReadonlyMap<string, number>, nowMs: number): number | undefined {
  let first: number | undefined;
  for (const p of plans) {
    if (!p.rateKey || p.limit === undefined) continue;
    const rate = hourRatePerMs(committed.get(p.rateKey) ?? 0, nowMs);
    if (rate <= 0) continue;
    const at = nowMs + Math.max(0, p.limit - (committed.get(p.key) ?? 0)) / rate;
    if (at < p.windowEndsAtMs && (first === undefined || at < first)) first = at;
  }
  return first === undefined ? undefined : Math.ceil(first / 1000) * 1000;
}

/** A current-hour counter's rate per millisecond: what it holds over the time since the hour began (at least 5 minutes). */
export function hourRatePerMs(hourCommitted: number, nowMs: number): number {
  return hourCommitted / Math.max(300_000, nowMs - Math.floor(nowMs / 3_600_000) * 3_600_000);
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

/** A kill switch applies to a tenant when set for it or globally; the tenant's own setting wins. */
export function killSwitchFor(controls: QuotaControls): QuotaControls['globalKillSwitch'] {
  return controls.tenantKillSwitch ?? controls.globalKillSwitch;
}

/** The key under which a store keeps a scope's limits or kill switch: global, tenant#T or feature#T#F. */
export function controlScopeKey(scope: QuotaScope): string {
  if (scope.tenant === undefined) return 'global';
  return scope.feature === undefined ? `tenant#${scope.tenant}` : `feature#${scope.tenant}#${scope.feature}`;
}

/** A tenant's own policies as the store keeps them: at most 20, ids unique, each valid as in the config. */
export const StoredPoliciesSchema = z.array(PolicySchema).max(20).refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, { message: 'policy ids must be unique' });

/**
 * A tenant's stored policies, checked like the config's. Throws with every problem named: a policy item that does not
 * parse is a fault the guard treats as an unavailable store (fail-closed refuses), never a budget silently dropped.
 */
export function parseStoredPolicies(json: string, where = 'policies'): PolicyConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = StoredPoliciesSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(list)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/**
 * The policies in force for a tenant: the config's, then the tenant's own from the store, which count that tenant only
 * and are named `<tenant>/<id>` in counters, refusals and alerts (so two tenants' policies of the same id never share a counter).
 */
export function policiesFor(config: readonly PolicyConfig[], tenant: string, stored: readonly PolicyConfig[] | undefined): readonly PolicyConfig[] {
  if (!stored?.length) return config;
  return [...config, ...stored.map((p) => ({ ...p, id: `${tenant}/${p.id}`, match: { ...p.match, tenant } }))];
}
