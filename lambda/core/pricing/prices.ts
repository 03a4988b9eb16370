import type { Micros } from './money';
import { usdToMicros } from './money';

/**
 * Token prices in micro-dollars per 1M tokens (so $3.00 / 1M = 3_000_000), which keeps every published price an
 * integer. Cache prices are optional: a provider that reports cache reads for a model priced without them is charged
 * the input price (the conservative choice), never zero.
 */
export interface TokenPrice {
  readonly inputPerMTok: Micros;
  readonly outputPerMTok: Micros;
  readonly cacheReadPerMTok?: Micros;
  readonly cacheWritePerMTok?: Micros;
}

export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

export const ZERO_USAGE: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** A price as written in data files and config: decimal USD per 1M tokens. */
export interface UsdTokenPrice {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  readonly cacheReadPerMTok?: number;
  readonly cacheWritePerMTok?: number;
}

export function toTokenPrice(p: UsdTokenPrice): TokenPrice {
  return {
    inputPerMTok: usdToMicros(p.inputPerMTok),
    outputPerMTok: usdToMicros(p.outputPerMTok),
    cacheReadPerMTok: p.cacheReadPerMTok === undefined ? undefined : usdToMicros(p.cacheReadPerMTok),
    cacheWritePerMTok: p.cacheWritePerMTok === undefined ? undefined : usdToMicros(p.cacheWritePerMTok),
  };
}

/**
 * Cost of a usage in micro-dollars: the exact sum over token types, rounded once, half up. Each term is at most
 * ~1e7 tokens x ~1e8 micros, far below 2^53, so the integer arithmetic is exact.
 */
export function costMicros(usage: TokenUsage, price: TokenPrice): Micros {
  const scaled =
    usage.inputTokens * price.inputPerMTok +
    usage.outputTokens * price.outputPerMTok +
    usage.cacheReadTokens * (price.cacheReadPerMTok ?? price.inputPerMTok) +
    usage.cacheWriteTokens * (price.cacheWritePerMTok ?? price.inputPerMTok);
  return Math.floor((scaled + 500_000) / 1_000_000);
}

/** Upper bound of a cost, for reservations: rounded up so a reservation never under-covers. */
export function costMicrosCeil(inputTokens: number, outputTokens: number, price: TokenPrice): Micros {
  return Math.ceil((inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1_000_000);
}

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  };
}

export function totalTokens(u: TokenUsage): number {
  return u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
}
