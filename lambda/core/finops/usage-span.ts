/** Days in an average month, for turning a usage log's totals into monthly rates (365 / 12, rounded as the reports do). */
export const DAYS_PER_MONTH = 30.42;

/** The days a usage log spans, from its first record's `ts` to its last; at least one, so a short log is not inflated. */
export function daysSpanned(records: readonly { readonly ts?: unknown }[]): number {
  const times = records.map((r) => Date.parse(String(r.ts))).filter((t) => !Number.isNaN(t));
  return Math.max(1, times.length ? (Math.max(...times) - Math.min(...times)) / 86_400_000 : 0);
}
