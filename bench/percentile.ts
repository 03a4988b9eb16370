/** The p-th percentile of `xs` (nearest rank, not interpolated), rounded to `digits` decimals: what every bench reports. */
export function percentile(xs: readonly number[], p: number, digits = 3): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = 10 ** digits;
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * k) / k;
}
