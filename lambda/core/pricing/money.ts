/** Money is an integer number of micro-dollars (1 USD = 1_000_000). Never accumulate floats. */
export type Micros = number;

export const MICROS_PER_USD = 1_000_000;

/** Converts a decimal USD figure from data (a price list) to micro-dollars, rounding to the nearest micro. */
export function usdToMicros(usd: number): Micros {
  return Math.round(usd * MICROS_PER_USD);
}

/** A micro-dollar amount as a fixed six-decimal USD string, exact (no float formatting). */
export function formatUsd(micros: Micros): string {
  const neg = micros < 0;
  const abs = Math.abs(Math.trunc(micros));
  const whole = Math.floor(abs / MICROS_PER_USD);
  const frac = String(abs % MICROS_PER_USD).padStart(6, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

/** A micro-dollar amount as a JSON number of USD (6 decimals); for records and JSON bodies only. */
export function microsToUsd(micros: Micros): number {
  return micros / MICROS_PER_USD;
}
