import type { Micros } from './money';
import { usdToMicros } from './money';

/** The four per-token rates of one price row, in micro-dollars per 1M tokens ($3.00 / 1M = 3_000_000). */
export interface TokenRates {
  readonly inputPerMTok: Micros;
  readonly outputPerMTok: Micros;
  /** Unset: cache reads are billed at the input rate and the receipt flags `cache_read_unpriced`. */
  readonly cacheReadPerMTok?: Micros;
  /** 5-minute cache writes (Anthropic: 1.25x input). Unset: the input rate. */
  readonly cacheWritePerMTok?: Micros;
  /** 1-hour cache writes (Anthropic: 2x input). Unset: twice the input rate, Anthropic's published rule. */
  readonly cacheWrite1hPerMTok?: Micros;
}

/**
 * A model's token price: its standard rates plus the per-request rules that change them: a long-context row that
 * applies to the whole request once its input passes a threshold (Claude Sonnet 4/4.5 above 200k input tokens), and
 * service tiers (OpenAI `priority` / `flex`) priced on their own rows. Every published price is an integer here.
 */
export interface TokenPrice extends TokenRates {
  readonly longContext?: { readonly aboveInputTokens: number; readonly rates: TokenRates };
  readonly serviceTiers?: Readonly<Record<string, TokenRates>>;
  /** Batch rates (OpenAI Batch API, Anthropic Message Batches, Bedrock batch inference); unset: half of standard. */
  readonly batch?: TokenRates;
}

export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  /** All cache-write tokens, 5-minute and 1-hour. */
  readonly cacheWriteTokens: number;
  /** The part of cacheWriteTokens written with a 1-hour TTL (Bedrock `cacheDetails`, Anthropic `ephemeral_1h_input_tokens`). */
  readonly cacheWrite1hTokens?: number;
}

export const ZERO_USAGE: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** Standard service tiers: priced at the standard rates. */
export const STANDARD_SERVICE_TIERS: ReadonlySet<string> = new Set(['default', 'auto', 'standard']);

/** A price row as written in data files and config: decimal USD per 1M tokens. */
export interface UsdTokenRates {
  readonly inputPerMTok: number;
  readonly outputPerMTok: number;
  readonly cacheReadPerMTok?: number;
  readonly cacheWritePerMTok?: number;
  readonly cacheWrite1hPerMTok?: number;
}

export interface UsdTokenPrice extends UsdTokenRates {
  readonly longContext?: { readonly aboveInputTokens: number } & UsdTokenRates;
  readonly serviceTiers?: Readonly<Record<string, UsdTokenRates>>;
  readonly batch?: UsdTokenRates;
}

const optMicros = (v: number | undefined): Micros | undefined => (v === undefined ? undefined : usdToMicros(v));

function toRates(p: UsdTokenRates): TokenRates {
  return {
    inputPerMTok: usdToMicros(p.inputPerMTok),
    outputPerMTok: usdToMicros(p.outputPerMTok),
    cacheReadPerMTok: optMicros(p.cacheReadPerMTok),
    cacheWritePerMTok: optMicros(p.cacheWritePerMTok),
    cacheWrite1hPerMTok: optMicros(p.cacheWrite1hPerMTok),
  };
}

export function toTokenPrice(p: UsdTokenPrice): TokenPrice {
  const price: { -readonly [K in keyof TokenPrice]: TokenPrice[K] } = toRates(p);
  if (p.longContext) price.longContext = { aboveInputTokens: p.longContext.aboveInputTokens, rates: toRates(p.longContext) };
  if (p.serviceTiers) price.serviceTiers = Object.fromEntries(Object.entries(p.serviceTiers).map(([k, v]) => [k, toRates(v)]));
  if (p.batch) price.batch = toRates(p.batch);
  return price;
}

/**
 * The rates a batch request is billed at: the price's `batch` row, else half of every standard rate (OpenAI's Batch
 * API, Anthropic's Message Batches and Bedrock batch inference all list 50% of on-demand; PRICES.md, read
 * 2026-12-06), rounded half up to the micro-dollar and marked `derived` so a report can say so.
 */
export function batchRates(price: TokenPrice): { rates: TokenRates; derived: boolean } {
  if (price.batch) return { rates: price.batch, derived: false };
  const half = (v: Micros | undefined): Micros | undefined => (v === undefined ? undefined : Math.round(v / 2));
  return {
    rates: {
      inputPerMTok: half(price.inputPerMTok)!,
      outputPerMTok: half(price.outputPerMTok)!,
      cacheReadPerMTok: half(price.cacheReadPerMTok),
      cacheWritePerMTok: half(price.cacheWritePerMTok),
      cacheWrite1hPerMTok: half(price.cacheWrite1hPerMTok),
    },
    derived: true,
  };
}

/** Why a priced figure needs a second look; carried into the usage record's `usage_flags`. */
export type PriceFlag = 'cache_read_unpriced' | 'cache_write_1h_derived' | 'service_tier_unpriced' | 'long_context' | 'batch_price_derived';

export interface PricedUsage {
  readonly micros: Micros;
  /** The rate row used: standard, a service tier's, or long-context. */
  readonly row: 'standard' | 'long_context' | 'batch' | `tier:${string}`;
  readonly flags: readonly PriceFlag[];
}

export interface PriceOptions {
  /** A line of a batch: billed at the batch rates (the price's `batch` row, else half of standard; flag batch_price_derived). */
  readonly batch?: boolean;
  /** The service tier the upstream processed the request at (OpenAI reports it in the response). */
  readonly serviceTier?: string;
  /** Reservations only: the request carries cache points, so its input may be billed as cache writes of this TTL. */
  readonly cacheWrites?: '5m' | '1h';
}

/** Input-side tokens of a request: what a long-context threshold is measured on. */
export function promptTokens(u: TokenUsage): number {
  return u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
}

/** The rates a request is billed at, and the flags the choice raises. */
export function ratesFor(price: TokenPrice, inputSideTokens: number, opts: PriceOptions = {}): { rates: TokenRates; row: PricedUsage['row']; flags: PriceFlag[] } {
  const flags: PriceFlag[] = [];
  if (opts.batch) {
    const batch = batchRates(price);
    if (batch.derived) flags.push('batch_price_derived');
    return { rates: batch.rates, row: 'batch', flags };
  }
  const tier = opts.serviceTier;
  if (tier !== undefined && !STANDARD_SERVICE_TIERS.has(tier)) {
    const row = price.serviceTiers?.[tier];
    if (row) return { rates: row, row: `tier:${tier}`, flags };
    flags.push('service_tier_unpriced');
  }
  if (price.longContext && inputSideTokens > price.longContext.aboveInputTokens) {
    flags.push('long_context');
    return { rates: price.longContext.rates, row: 'long_context', flags };
  }
  return { rates: price, row: 'standard', flags };
}

/**
 * Cost of a usage in micro-dollars with the price rules applied: the exact sum over token types, rounded once, half
 * up. Each term is at most ~1e7 tokens x ~1e8 micros, far below 2^53, so the integer arithmetic is exact.
 */
export function priceUsage(usage: TokenUsage, price: TokenPrice, opts: PriceOptions = {}): PricedUsage {
  const { rates, row, flags } = ratesFor(price, promptTokens(usage), opts);
  const oneHour = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens);
  if (usage.cacheReadTokens > 0 && rates.cacheReadPerMTok === undefined) flags.push('cache_read_unpriced');
  if (oneHour > 0 && rates.cacheWrite1hPerMTok === undefined) flags.push('cache_write_1h_derived');
  const scaled =
    usage.inputTokens * rates.inputPerMTok +
    usage.outputTokens * rates.outputPerMTok +
    usage.cacheReadTokens * (rates.cacheReadPerMTok ?? rates.inputPerMTok) +
    (usage.cacheWriteTokens - oneHour) * (rates.cacheWritePerMTok ?? rates.inputPerMTok) +
    oneHour * (rates.cacheWrite1hPerMTok ?? 2 * rates.inputPerMTok);
  return { micros: Math.floor((scaled + 500_000) / 1_000_000), row, flags };
}

/** Cost of a usage at a price's standard rules; see priceUsage. */
export function costMicros(usage: TokenUsage, price: TokenPrice, opts: PriceOptions = {}): Micros {
  return priceUsage(usage, price, opts).micros;
}

/**
 * Upper bound of a request's cost, for reservations: rounded up so a reservation never under-covers. Priced at the
 * long-context row when the input estimate passes its threshold, and at the service tier's row when one is asked
 * for. Input is priced at the input rate, or, when the request carries cache points (`cacheWrites`), at the dearer of
 * that and the cache-write rate of the TTL (1.25x or 2x input on Anthropic models), since every input token may be
 * written; automatic prompt caching (OpenAI) has no write premium.
 */
export function costMicrosCeil(inputTokens: number, outputTokens: number, price: TokenPrice, opts: PriceOptions = {}): Micros {
  const { rates } = ratesFor(price, inputTokens, opts);
  const write = opts.cacheWrites === '1h' ? rates.cacheWrite1hPerMTok ?? 2 * rates.inputPerMTok : opts.cacheWrites === '5m' ? rates.cacheWritePerMTok ?? rates.inputPerMTok : 0;
  return Math.ceil((inputTokens * Math.max(rates.inputPerMTok, write) + outputTokens * rates.outputPerMTok) / 1_000_000);
}

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  const sum: { -readonly [K in keyof TokenUsage]: TokenUsage[K] } = {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  };
  const oneHour = (a.cacheWrite1hTokens ?? 0) + (b.cacheWrite1hTokens ?? 0);
  if (oneHour) sum.cacheWrite1hTokens = oneHour;
  return sum;
}

export function totalTokens(u: TokenUsage): number {
  return u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
}

/** Above any context window offered today (2M tokens): a count past it is a broken or hostile report, not usage. */
export const MAX_TOKENS_PER_FIELD = 10_000_000;

/**
 * Checks a usage taken from outside (an upstream's report): every count a finite, non-negative integer no larger
 * than MAX_TOKENS_PER_FIELD, and the 1-hour cache writes part of the cache writes. Returns what is wrong, or null.
 */
export function usageProblem(u: TokenUsage): string | null {
  for (const [k, v] of Object.entries(u) as [keyof TokenUsage, unknown][]) {
    if (v === undefined && k === 'cacheWrite1hTokens') continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) return `${k} is ${typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v)}, not an integer`;
    if (v < 0) return `${k} is negative (${v})`;
    if (v > MAX_TOKENS_PER_FIELD) return `${k} is ${v}, above ${MAX_TOKENS_PER_FIELD}`;
  }
  if ((u.cacheWrite1hTokens ?? 0) > u.cacheWriteTokens) return `cacheWrite1hTokens (${u.cacheWrite1hTokens}) exceeds cacheWriteTokens (${u.cacheWriteTokens})`;
  return null;
}

/**
 * An upstream's usage report, read as untrusted input: a usage that passed every check, or what was wrong with it
 * (the receipt then estimates the tokens and flags the record), or neither when the upstream reported none.
 */
export interface UsageReading {
  readonly usage?: TokenUsage;
  readonly problem?: string;
}

/** A usage built by an adapter from a typed SDK response (Bedrock): checked like any other report. */
export function checkedUsage(usage: TokenUsage | undefined): UsageReading {
  if (!usage) return {};
  const problem = usageProblem(usage);
  return problem ? { problem } : { usage };
}
