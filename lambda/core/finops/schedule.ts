/**
 * Hours at each minimum capacity under Application Auto Scaling scheduled actions, for the estimate: a scale-to-zero
 * endpoint kept at one copy from 08:00 to 19:00 on weekdays costs 55 instance-hours a week, not zero. Cron
 * expressions in the AWS form `cron(minutes hours day-of-month month day-of-week year)`, evaluated hour by hour over a
 * reference period (time zones shift when, not how long, so they are ignored; one-off `at(...)` and `rate(...)`
 * schedules are not periodic floors and are skipped).
 */

export interface ScheduledFloor {
  readonly schedule: string;
  readonly minCapacity?: number;
}

const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** The values a cron field admits, or null for any (`*`, `?`); throws on what it cannot read. */
function field(spec: string, min: number, max: number, names: string[] = [], nameBase = 0): Set<number> | null {
  if (spec === '*' || spec === '?') return null;
  const value = (s: string): number => {
    const i = names.indexOf(s.toUpperCase());
    const n = i >= 0 ? i + nameBase : Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`cron field value '${s}' outside ${min}-${max}`);
    return n;
  };
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`cron step '${stepText}'`);
    const [lo, hi] = range === '*' ? [min, max] : range.includes('-') ? range.split('-').map(value) : [value(range), stepText ? max : value(range)];
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** A cron(...) expression as a test of a UTC hour (does it fire within it, at any minute); null for other schedules. */
export function cronMatcher(expression: string): ((t: Date) => boolean) | null {
  const m = /^cron\((.+)\)$/.exec(expression.trim());
  if (!m) return null;
  const f = m[1].trim().split(/\s+/);
  if (f.length !== 6) throw new Error(`cron needs 6 fields, got ${f.length}: ${expression}`);
  const [, hours, dom, month, dow, year] = f;
  const match = (set: Set<number> | null, v: number) => set === null || set.has(v);
  const h = field(hours, 0, 23);
  const d = field(dom.replace(/W$/, '').replace(/^L$/, '*'), 1, 31);
  const mo = field(month, 1, 12, MONTHS, 1);
  // AWS day-of-week: 1-7 = SUN-SAT.
  const wd = field(dow.replace(/#\d+$/, '').replace(/L$/, ''), 1, 7, DAYS, 1);
  const y = field(year, 1970, 2199);
  return (t) => match(h, t.getUTCHours()) && match(d, t.getUTCDate()) && match(mo, t.getUTCMonth() + 1) && match(wd, t.getUTCDay() + 1) && match(y, t.getUTCFullYear());
}

/** Whether a cron(...) expression fires within the given UTC hour (any minute of it). */
export function cronFiresInHour(expression: string, t: Date): boolean {
  return cronMatcher(expression)?.(t) ?? false;
}

/**
 * Whether scheduled actions raise the minimum above `baseMin` and none ever brings it back: the floor, once raised,
 * holds around the clock (a morning warm-up without its evening).
 */
export function onlyRaises(baseMin: number, actions: readonly ScheduledFloor[]): boolean {
  const mins = actions.filter((a) => a.minCapacity !== undefined && cronMatcher(a.schedule) !== null).map((a) => a.minCapacity!);
  return mins.some((m) => m > baseMin) && !mins.some((m) => m <= baseMin);
}

/**
 * The mean minimum capacity over a 4-week reference period (after a 4-week warm-up, so the floor at its start is
 * what the schedules last set), and the hours spent at each floor per month of 730 hours.
 */
export function scheduledMinimum(baseMin: number, actions: readonly ScheduledFloor[]): { mean: number; hoursAt: Record<number, number> } {
  const periodic = actions
    .filter((a) => a.minCapacity !== undefined)
    .map((a) => ({ fires: cronMatcher(a.schedule), minCapacity: a.minCapacity! }))
    .filter((a): a is { fires: (t: Date) => boolean; minCapacity: number } => a.fires !== null);
  if (!periodic.length) return { mean: baseMin, hoursAt: { [baseMin]: 730 } };
  const start = Date.UTC(2026, 0, 5); // a Monday
  const warm = 28 * 24;
  const span = 28 * 24;
  let floor = baseMin;
  let total = 0;
  const hours: Record<number, number> = {};
  for (let h = 0; h < warm + span; h++) {
    const t = new Date(start + h * 3_600_000);
    for (const a of periodic) if (a.fires(t)) floor = a.minCapacity;
    if (h >= warm) {
      total += floor;
      hours[floor] = (hours[floor] ?? 0) + 1;
    }
  }
  const scale = 730 / span;
  return { mean: total / span, hoursAt: Object.fromEntries(Object.entries(hours).map(([k, v]) => [k, Math.round(v * scale * 10) / 10])) };
}
