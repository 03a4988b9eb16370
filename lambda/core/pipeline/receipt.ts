import type { ResolvedModel } from '../config/resolve';
import type { Micros } from '../pricing/money';
import { estimateTokensFromBytes } from '../tokens';
import { addUsage, priceUsage, totalTokens, ZERO_USAGE, type PriceFlag, type TokenPrice, type TokenUsage, type UsageReading } from '../pricing/prices';

/**
 * Why a figure on the receipt needs a second look; the usage record carries them as `usage_flags`.
 * - usage_missing / usage_invalid: the upstream reported no usage, or one that failed the checks; tokens estimated.
 * - output_estimated: a stream went on after its last usage report; the text past it is estimated and added.
 * - timeout_estimated: an attempt timed out; the provider may have billed it, so its bound is charged.
 * - over_reservation: the request cost more than its reservation (the upstream ignored the output cap).
 * - output_over_cap: a stream went on past the output cap it was sent, and the gateway cut it.
 * - service_tier_stripped: a service tier was asked (by the client or a serviceTiers policy) of a model that does not
 *   take it (its provider receives none, a policy's tier has no price row for it, or the provider refused a policy's
 *   tier as a bad request and the call was sent again without it); billed at standard.
 * - flex_fallback: a Flex call was throttled and sent again at the standard tier (serviceTiers fallbackToDefault).
 * - reserved_overflow: a Bedrock Reserved model's answer Bedrock served at the standard tier (past the reserved
 *   tokens per minute): priced on demand. reserved_unconfirmed: Bedrock reported no tier, so the answer is priced on
 *   demand (an upper bound) rather than assumed to be on the reservation.
 * - batch_simulated: a line of a batch the local simulator sent as a live call: priced at the batch price the provider's
 *   batch API would bill, while the upstream billed the live call at its own rate.
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
  | 'service_tier_stripped'
  | 'flex_fallback'
  | 'batch_simulated'
  | 'reserved_overflow'
  | 'reserved_unconfirmed';

export type ReceiptLineKind = 'answer' | 'rejected' | 'timed_out' | 'partial' | 'embedding';

/**
 * What each of the gateway's levers saved on one request against what it would have cost without it, micro-dollars
 * (negative where the lever cost money: a semantic lookup's embedding on a miss, a cascade's rejected tries). They
 * sum to the record's baseline_cost_micros minus cost_micros, by construction (Receipt.savings). The counterfactuals,
 * applied in this order from the baseline (the baseline model on the untrimmed prompt, without the cache points the
 * gateway placed):
 * - routing: the baseline model's price minus the price of the model the router chose (a cascade: its top model),
 *   both for the tokens actually used (untrimmed, without gateway-placed caching);
 * - cascade: the cascade's top model's price minus the answering model's, less what its rejected tries cost;
 * - context: the answering model's price for the tokens context optimisation removed;
 * - prompt_cache: what the cache points the gateway placed saved on the answering call (its cache reads and writes
 *   priced as plain input, less their price); a client's own cache hints are in the baseline too, so not counted;
 * - cache: a cache hit's answer priced on the model that made it, less the lookup's embedding; on a miss, minus the
 *   embedding;
 * - failed_attempts: minus what timed-out and cut-off attempts were charged (not a lever: what the fallbacks cost);
 * - commitment: an answer on committed capacity (models[].commitment): what routing would show for it (the baseline's
 *   price less the committed model's per-token figure, if it has one), since the capacity is paid by the hour;
 * - batch: a line of a batch, priced at the batch rates: the answering model's standard price for the tokens it
 *   was sent (trimmed, with its cache points) less the batch price of the same.
 */
export interface Savings {
  readonly cache: Micros;
  readonly routing: Micros;
  readonly cascade: Micros;
  readonly context: Micros;
  readonly prompt_cache: Micros;
  readonly commitment: Micros;
  readonly batch: Micros;
  readonly failed_attempts: Micros;
}

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
  /** The model and service tier of the answer: the last answer line's, or the cache entry's model on a hit. */
  private answerModel: ResolvedModel | undefined;
  private answerServiceTier: string | undefined;
  private hit = false;
  /** A cascade's top model (the last of its chain): what the cascade is measured against. */
  private cascadeTop: ResolvedModel | undefined;
  /** Prompt bytes the context step removed and kept (tokens saved are derived from them: contextTokensSaved). */
  private trimmed = { savedBytes: 0, keptBytes: 0 };
  /** The gateway placed the cache points (the prompt-cache policy), not the client: their saving is a lever. */
  private gatewayCachePoints = false;
  /** A line of a batch: every call priced at the batch rates. */
  private batch = false;
  /** The answer came from a Bedrock Reserved model's reservation (served tier `reserved`): no cost at the margin. */
  private reservedAnswer = false;

  constructor(private readonly baselinePrice: TokenPrice) {}

  /** Prices every call of this request at the batch rates (a line of a batch); the baseline stays standard. */
  batchLine(): void {
    this.batch = true;
  }

  /** A cache hit: the answer's usage, made by `model`; the cache saved what that model would charge for it now. */
  servedFromCache(usage: TokenUsage, model: ResolvedModel | undefined): void {
    this.answerUsage = usage;
    this.answerModel = model;
    this.hit = true;
  }

  /** The request went to a cascade tier whose top model is `top`. */
  cascadeOf(top: ResolvedModel): void {
    this.cascadeTop = top;
  }

  /** The context step removed `savedBytes` of the prompt and kept `keptBytes`. */
  contextTrimmed(savedBytes: number, keptBytes: number): void {
    this.trimmed = { savedBytes, keptBytes };
  }

  /** The cache points of the calls were placed by the gateway's prompt-cache policy, not by the client. */
  cachePointsByGateway(): void {
    this.gatewayCachePoints = true;
  }

  /**
   * Prompt tokens the context step removed: the removed share of the prompt scaled by the provider's real input count
   * when there is one, else the byte estimate.
   */
  get contextTokensSaved(): number {
    const { savedBytes, keptBytes } = this.trimmed;
    if (!savedBytes) return 0;
    const u = this.usage;
    const input = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
    return input > 0 && !this.estimatedAny && keptBytes > 0 ? Math.round((input * savedBytes) / keptBytes) : estimateTokensFromBytes(savedBytes);
  }

  /** The semantic tier's embedding call. */
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
    return model.price ? priceUsage(usage, model.price, { batch: this.batch }).micros : 0;
  }

  /** Whether the answer was served on a Bedrock Reservation (cost basis `commitment`). */
  get answeredOnReservation(): boolean {
    return this.reservedAnswer;
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

  /**
   * What the answer would have cost on the baseline model without the gateway: the same tokens, plus those the
   * context step removed, with the cache reads and writes of gateway-placed cache points as plain input.
   */
  get baselineMicros(): Micros {
    if (this.baselineAtCost) return this.micros;
    const u = this.withoutLevers();
    return u ? priceUsage(u, this.baselinePrice).micros : 0;
  }

  /** The answer's usage without the gateway's context trimming and cache points (undefined: no answer). */
  private withoutLevers(): TokenUsage | undefined {
    const u = this.answerUsage;
    if (!u) return undefined;
    const plain = this.gatewayCachePoints && !this.hit ? asPlainInput(u) : u;
    const trimmed = this.hit ? 0 : this.contextTokensSaved;
    return trimmed ? { ...plain, inputTokens: plain.inputTokens + trimmed } : plain;
  }

  /** Each lever's saving (see Savings); they sum to baselineMicros - micros. */
  get savings(): Savings {
    const sum = (kind: ReceiptLineKind): number => this.items.reduce((n, l) => n + (l.kind === kind ? l.micros : 0), 0);
    const neg = (n: number): number => (n === 0 ? 0 : -n);
    const out = { cache: neg(sum('embedding')), routing: 0, cascade: 0, context: 0, prompt_cache: 0, commitment: 0, batch: 0, failed_attempts: neg(sum('timed_out') + sum('partial')) };
    // No routing choice (an embeddings request): its baseline is its cost, nothing saved or lost.
    if (this.baselineAtCost) return { ...out, cache: 0, failed_attempts: 0 };
    const full = this.withoutLevers();
    if (!full) {
      // No answer reached the client: nothing was saved, and what was spent is lost on the levers that spent it.
      out.cascade = neg(sum('rejected'));
      out.failed_attempts = neg(sum('timed_out') + sum('partial') + sum('answer'));
      return out;
    }
    const baseline = this.baselineMicros;
    const m = this.answerModel;
    const price = (model: ResolvedModel | undefined, u: TokenUsage): number => (model?.price ? priceUsage(u, model.price, { serviceTier: this.answerServiceTier }).micros : 0);
    if (this.hit) {
      const made = price(m, full);
      out.routing = baseline - made;
      out.cache += made;
      return out;
    }
    const plain = this.gatewayCachePoints ? asPlainInput(this.answerUsage!) : this.answerUsage!;
    const top = price(this.cascadeTop ?? m, full);
    const atModel = price(m, full);
    const atModelTrimmed = price(m, plain);
    // A batch line: the same tokens at the batch rates; the rest of what they saved is the prompt cache's.
    const atBatch = this.batch && m?.price ? priceUsage(plain, m.price, { batch: true }).micros : atModelTrimmed;
    out.routing = baseline - top;
    out.cascade = top - atModel - sum('rejected');
    out.context = atModel - atModelTrimmed;
    out.batch = atModelTrimmed - atBatch;
    out.prompt_cache = atBatch - sum('answer');
    // Answered on committed capacity (models[].commitment, paid by the hour): what the baseline would charge beyond
    // it is the commitment's, not the router's.
    if (m?.config.commitment && m.config.commitment.type !== 'bedrock-reserved' && !this.cascadeTop) return { ...out, commitment: out.routing, routing: 0 };
    // On a Bedrock Reservation: the whole difference from the baseline is the commitment's (the model's on-demand
    // price, which the other levers are measured on, was not paid); its overflow is priced and credited as usual.
    if (this.reservedAnswer && !this.cascadeTop) {
      return { ...out, commitment: out.routing + out.cascade + out.context + out.batch + out.prompt_cache, routing: 0, cascade: 0, context: 0, batch: 0, prompt_cache: 0 };
    }
    return out;
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
    // A Bedrock Reserved model's answer on the reservation costs nothing at the margin; its overflow is billed on demand.
    const onReservation = serviceTier === 'reserved' && model.config.commitment?.type === 'bedrock-reserved';
    if (model.price && !onReservation) {
      const priced = priceUsage(usage, model.price, { serviceTier, batch: this.batch });
      micros = priced.micros;
      for (const f of priced.flags) this.flag(f);
      if (usage.cacheReadTokens || usage.cacheWriteTokens) {
        this.cacheSaving += priceUsage(asPlainInput(usage), model.price, { serviceTier, batch: this.batch }).micros - micros;
      }
    }
    const line: ReceiptLine = { kind, model: model.id, usage, micros, estimated };
    this.items.push(line);
    if (kind === 'answer') {
      this.answerModel = model;
      this.answerServiceTier = serviceTier;
      this.reservedAnswer = onReservation;
    }
    return line;
  }
}

/** A usage with its cache reads and writes counted as plain input (what it costs without prompt caching). */
function asPlainInput(u: TokenUsage): TokenUsage {
  if (!u.cacheReadTokens && !u.cacheWriteTokens) return u;
  return { ...u, inputTokens: u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, cacheReadTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
}
