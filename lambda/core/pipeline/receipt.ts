import type { ResolvedModel } from '../config/resolve';
import type { Micros } from '../pricing/money';
import { addUsage, priceUsage, totalTokens, ZERO_USAGE, type PriceFlag, type TokenPrice, type TokenUsage, type UsageReading } from '../pricing/prices';

/**
 * Why a figure on the receipt needs a second look; the usage record carries them as `usage_flags`.
 * - usage_missing / usage_invalid: the upstream reported no usage, or one that failed the checks; tokens estimated.
 * - output_estimated: a stream went on after its last usage report; the text past it is estimated and added.
 * - timeout_estimated: an attempt timed out; the provider may have billed it, so its bound is charged.
 * - over_reservation: the request cost more than its reservation (the upstream ignored the output cap).
 * - output_over_cap: a stream went on past the output cap it was sent, and the gateway cut it.
 * - service_tier_stripped: the client asked for a service tier the provider does not receive; billed at standard.
 * - and the price rules' own flags (cache_read_unpriced, cache_write_1h_derived, service_tier_unpriced, long_context).
 */
export type UsageFlag =
  | PriceFlag
  | 'usage_missing'
  | 'usage_invalid'
  | 'output_estimated'
  | 'timeout_estimated'
  | 'over_reservation'
  | 'output_over_cap'
  | 'service_tier_stripped';

export type ReceiptLineKind = 'answer' | 'rejected' | 'timed_out' | 'partial' | 'embedding';

/** One priced item: an upstream call (answered, rejected by a cascade check, timed out, cut off) or an embedding. */
export interface ReceiptLine {
  readonly kind: ReceiptLineKind;
  readonly model: string | null;
  readonly usage: TokenUsage;
  readonly micros: Micros;
  readonly estimated: boolean;
}

export interface CallCharge {
  readonly kind: Exclude<ReceiptLineKind, 'embedding'>;
  readonly model: ResolvedModel;
  /** The upstream's report, as the adapter read and checked it. */
  readonly reading: UsageReading;
  /** Stands in for a missing or bad report: the input estimate and the answer's text. */
  readonly estimate: () => TokenUsage;
  readonly serviceTier?: string;
  /** Output tokens estimated for text that came after the report (a stream that reported early); flagged output_estimated. */
  readonly outputAfterReport?: number;
}

/**
 * The only place a request is priced. Every attempt, cascade step, estimate, cache hit and embedding call is added
 * to it; the usage record, the x-llm-* headers, the stream's final block and the quota settlement all read from it,
 * so they cannot disagree. Pure and synchronous: it must not slow the hot path.
 */
export class Receipt {
  private readonly items: ReceiptLine[] = [];
  private readonly flagSet = new Set<UsageFlag>();
  private problemText: string | null = null;
  /** The usage of the answer the client received (a call's or a cache entry's): what the baseline is priced on. */
  private answerUsage: TokenUsage | undefined;
  /** What provider prompt caching saved on the calls: their cache reads and writes priced as plain input, less their price. */
  private cacheSaving = 0;
  /** No routing choice was made (an embeddings request): the baseline is what it cost, so no saving is claimed. */
  private baselineAtCost = false;

  constructor(private readonly baselinePrice: TokenPrice) {}

  /** The semantic tier's (or context step's) embedding call. */
  embedding(tokens: number, price: TokenPrice): void {
    const usage = { ...ZERO_USAGE, inputTokens: tokens };
    this.items.push({ kind: 'embedding', model: null, usage, micros: priceUsage(usage, price).micros, estimated: false });
  }

  /** An upstream call, priced from its report or, when there is none or it failed the checks, from the estimate. */
  call(c: CallCharge): ReceiptLine {
    let usage = c.reading.usage;
    let estimated = false;
    if (usage && c.outputAfterReport) {
      usage = { ...usage, outputTokens: usage.outputTokens + c.outputAfterReport };
      estimated = true;
      this.flag('output_estimated');
    } else if (!usage) {
      usage = c.estimate();
      estimated = true;
      if (c.reading.problem) {
        this.flag('usage_invalid');
        this.problemText ??= `${c.model.id}: ${c.reading.problem}`;
      } else this.flag('usage_missing');
    }
    return this.charge(c.kind, c.model, usage, estimated, c.serviceTier);
  }

  /** An attempt that timed out: the provider may have billed it, so it is charged at its bound, flagged. */
  timedOut(model: ResolvedModel, bound: TokenUsage): void {
    this.flag('timeout_estimated');
    this.charge('timed_out', model, bound, true, undefined);
  }

  /** Whether an attempt timed out and was charged at its bound: charges that the reservation did not plan for. */
  get timedOutAttempts(): number {
    return this.items.filter((i) => i.kind === 'timed_out').length;
  }

  /** What `usage` on `model` would be charged (nothing is recorded). */
  priceOf(model: ResolvedModel, usage: TokenUsage): number {
    return model.price ? priceUsage(usage, model.price).micros : 0;
  }

  /** Marks the usage the client's answer carries (a call's line or a cache entry's): the baseline is priced on it. */
  answered(usage: TokenUsage): void {
    this.answerUsage = usage;
  }

  /** An answer whose model the client chose and nothing could replace (embeddings): its baseline is its cost. */
  answeredAtCost(usage: TokenUsage): void {
    this.answerUsage = usage;
    this.baselineAtCost = true;
  }

  flag(f: UsageFlag): void {
    this.flagSet.add(f);
  }

  /** What provider prompt caching saved (negative when writes cost more than reads saved), micro-dollars. */
  get promptCacheSavingMicros(): Micros {
    return this.cacheSaving;
  }

  /** Cost of everything on the receipt, micro-dollars. */
  get micros(): Micros {
    return this.items.reduce((n, l) => n + l.micros, 0);
  }

  /** What the answer would have cost on the baseline model. */
  get baselineMicros(): Micros {
    if (this.baselineAtCost) return this.micros;
    return this.answerUsage ? priceUsage(this.answerUsage, this.baselinePrice).micros : 0;
  }

  /** Tokens of every upstream call (embeddings excluded), for the record and the token quota. */
  get usage(): TokenUsage {
    return this.items.reduce((sum, l) => (l.kind === 'embedding' ? sum : addUsage(sum, l.usage)), ZERO_USAGE);
  }

  /** The answer's usage for the client's `usage` field; the sum of calls when none was marked. */
  get answerTokens(): TokenUsage {
    return this.answerUsage ?? this.usage;
  }

  get tokens(): number {
    return totalTokens(this.usage);
  }

  get embeddingTokens(): number {
    return this.items.reduce((n, l) => n + (l.kind === 'embedding' ? l.usage.inputTokens : 0), 0);
  }

  get estimatedAny(): boolean {
    return this.items.some((l) => l.estimated);
  }

  get flags(): UsageFlag[] {
    return [...this.flagSet].sort();
  }

  /** The first bad usage report, verbatim, for the record. */
  get problem(): string | null {
    return this.problemText;
  }

  private charge(kind: ReceiptLineKind, model: ResolvedModel, usage: TokenUsage, estimated: boolean, serviceTier: string | undefined): ReceiptLine {
    let micros = 0;
    if (model.price) {
      const priced = priceUsage(usage, model.price, { serviceTier });
      micros = priced.micros;
      for (const f of priced.flags) this.flag(f);
      if (usage.cacheReadTokens || usage.cacheWriteTokens) {
        const plain = { ...usage, inputTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
        this.cacheSaving += priceUsage(plain, model.price, { serviceTier }).micros - micros;
      }
    }
    const line: ReceiptLine = { kind, model: model.id, usage, micros, estimated };
    this.items.push(line);
    return line;
  }
}
