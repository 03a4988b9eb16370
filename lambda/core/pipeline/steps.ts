import type { ResolvedModel } from '../config/resolve';
import { UpstreamError } from '../errors';
import type { ChatCompletion, ChatRequest } from '../openai/types';
import type { ChatProvider, ProviderCall } from '../ports';
import { ZERO_USAGE, type TokenUsage, type UsageReading } from '../pricing/prices';
import { ProviderError } from '../ports';
import { reportsServiceTier, requestedServiceTier, takesServiceTier } from './service-tier';
import { outputCapFor, type QuotaGuard, type Reservation } from '../quota/guard';
import { estimateInputTokens, estimateTextTokens } from '../tokens';
import { placeCachePoints } from '../prompt-cache';
import type { ReceiptLine, ReceiptLineKind } from './receipt';
import { passesThrough } from '../formats/capabilities';
import { Results } from './results';
import type { GatewayDeps, Trace } from './types';

/** What every step of a request needs beside its own logic: providers, the call shape, pricing on the receipt, settlement. */
export class Steps {
  readonly results: Results;

  constructor(
    readonly deps: GatewayDeps,
    readonly quota: QuotaGuard,
  ) {
    this.results = new Results(deps);
  }

  provider(model: ResolvedModel): ChatProvider {
    const p = this.deps.providers.get(model.provider.id);
    if (!p) throw new UpstreamError(`No adapter is wired for provider '${model.provider.id}'.`, 'provider_unavailable');
    return p;
  }

  /** The output cap sent upstream: the same bound the reservation priced. */
  cap(model: ResolvedModel, maxTokens: number | undefined): number {
    return outputCapFor(model, maxTokens, this.deps.config.raw.quota.outputTokenCap);
  }

  /**
   * One attempt's call: the tenant's upstream id, the output cap, the request without a tier the provider cannot
   * price, and, where a prompt-cache policy applies and the model is a Bedrock model with known cache limits, cache
   * points placed for that model (its own minimum prefix).
   */
  call(model: ResolvedModel, request: ChatRequest, maxTokens: number | undefined, signal: AbortSignal, trace: Pick<Trace, 'tenant' | 'promptCache' | 'wire' | 'serviceTierSource'>): ProviderCall {
    const upstream = this.results.upstreamFor(model, trace.tenant);
    const m = upstream === model.config.upstreamModel ? model : { ...model, config: { ...model.config, upstreamModel: upstream } };
    let req = request;
    const tier = requestedServiceTier(request);
    if (tier !== undefined && !sendsTier(trace, model, tier)) req = withoutTier(request);
    if (trace.promptCache && model.promptCache && model.provider.type === 'bedrock') req = placeCachePoints(req, model.promptCache, trace.promptCache);
    const decoded = trace.wire.decoded;
    const native = decoded && passesThrough(model, decoded) ? decoded.native : undefined;
    return { model: m, request: req, maxTokens: this.cap(model, maxTokens), signal, ...(native ? { native } : {}) };
  }

  /**
   * The tier an answer is priced at: the one the upstream reports, else the one asked for where the model receives
   * it. A tier asked of a model that does not take it is stripped and flagged; after a Flex fallback the answer is at
   * the standard tier.
   */
  serviceTierOf(trace: Trace, model: ResolvedModel, req: ChatRequest, reported: string | undefined): string | undefined {
    const asked = requestedServiceTier(req);
    if (asked !== undefined && !sendsTier(trace, model, asked)) {
      trace.receipt.flag('service_tier_stripped');
      trace.serviceTier = 'standard';
      return undefined;
    }
    // A Bedrock Reserved model: the tier Bedrock served at says whether the reservation or on-demand overflow answered.
    if (asked === undefined && model.config.commitment?.type === 'bedrock-reserved') {
      const served = reported === 'reserved' ? 'reserved' : 'standard';
      if (reported !== 'reserved') trace.receipt.flag(reported === undefined ? 'reserved_unconfirmed' : 'reserved_overflow');
      trace.serviceTier = served;
      return served === 'reserved' ? 'reserved' : undefined;
    }
    // Bedrock reports a tier on every answer: it counts only where one was asked (the record keeps null otherwise).
    if (!reportsServiceTier(model) || (asked === undefined && model.provider.type === 'bedrock')) return undefined;
    const tier = reported ?? (trace.tierFellBackOn === model ? undefined : asked);
    if (tier !== undefined || asked !== undefined) trace.serviceTier = tier ?? 'standard';
    return tier;
  }

  /**
   * Runs one attempt's upstream call. Where the policy allows, a Flex call the provider throttles is sent again at
   * once at the standard tier (flag flex_fallback). A tier a policy chose that the provider refuses as a bad request
   * (Bedrock's ValidationException for a model or Region without the tier) is dropped the same way (flag
   * service_tier_stripped): a policy must not turn every request of a feature into a 400. A tier the client asked for
   * is its own request: that refusal stands. Either way the answer is priced at the tier the second call ran at.
   */
  async atTier<T>(trace: Trace, model: ResolvedModel, req: ChatRequest, run: (req: ChatRequest) => Promise<T>): Promise<T> {
    trace.tierFellBackOn = null;
    try {
      return await run(req);
    } catch (err) {
      const tier = requestedServiceTier(req);
      if (!(err instanceof ProviderError) || tier === undefined || !sendsTier(trace, model, tier)) throw err;
      const throttledFlex = err.kind === 'throttled' && tier === 'flex' && trace.flexFallback;
      const refusedPolicyTier = err.kind === 'client' && trace.serviceTierSource === 'policy';
      if (!throttledFlex && !refusedPolicyTier) throw err;
      trace.receipt.flag(throttledFlex ? 'flex_fallback' : 'service_tier_stripped');
      const value = await run(withoutTier(req));
      trace.tierFellBackOn = model;
      return value;
    }
  }

  /** Prices an answered call on the receipt: the upstream's checked report, else an estimate from the prompt and answer. */
  charge(trace: Trace, kind: Exclude<ReceiptLineKind, 'embedding'>, model: ResolvedModel, req: ChatRequest, reading: UsageReading, completion: ChatCompletion | undefined, serviceTier: string | undefined): ReceiptLine {
    return trace.receipt.call({
      kind,
      model,
      reading,
      serviceTier,
      estimate: () => ({
        ...ZERO_USAGE,
        inputTokens: estimateInputTokens(req),
        outputTokens: completion ? estimateTextTokens(answerText(completion)) : 0,
      }),
    });
  }

  /**
   * An attempt that timed out: the provider may have finished and billed it, so the receipt carries its bound (the
   * input estimate and the output cap sent), flagged timeout_estimated. An upper bound, so budgets stay safe;
   * reconciliation with the provider's bill shows the truth.
   */
  chargeTimeout(trace: Trace, model: ResolvedModel, req: ChatRequest, maxTokens: number | undefined): void {
    trace.receipt.timedOut(model, this.attemptBound(model, req, maxTokens));
  }

  /** One attempt's bound: the input estimate plus the output cap sent. */
  private attemptBound(model: ResolvedModel, req: ChatRequest, maxTokens: number | undefined): TokenUsage {
    return { ...ZERO_USAGE, inputTokens: estimateInputTokens(req), outputTokens: this.cap(model, maxTokens) };
  }

  /**
   * Before another attempt, once an attempt has timed out (charged at its bound, which the reservation held for one
   * attempt only): holds more from the limits when what is charged plus this attempt's bound passes what the request
   * holds. False when the limits cannot take it: the request stops there, so its charges stay within what it held.
   */
  async coverAttempt(trace: Trace, res: Reservation | undefined, model: ResolvedModel, req: ChatRequest, maxTokens: number | undefined): Promise<boolean> {
    if (!res || !trace.receipt.timedOutAttempts) return true;
    const bound = this.attemptBound(model, req, maxTokens);
    const micros = trace.receipt.micros + trace.receipt.priceOf(model, bound) - res.usdMicros;
    if (micros <= 0) return true;
    return this.quota.extend(res, micros, bound.inputTokens + bound.outputTokens);
  }

  /** Reconciles the reservation with the receipt (zero on paths that called nothing) and notes the quota left. */
  async settle(res: Reservation | undefined, trace: Trace): Promise<void> {
    if (!res || res.settled) return;
    const r = trace.receipt;
    if (r.micros > res.usdMicros) r.flag('over_reservation');
    const out = await this.quota.settle(res, trace.tenant, trace.feature, { micros: r.micros, tokens: r.tokens });
    if (out.outcome === 'failed') trace.quotaAction = 'settle_failed';
    else if (out.outcome === 'deferred') trace.quotaAction = 'settle_deferred';
    trace.remainingMicros = out.remainingMicros;
    trace.runsOutAtMs = out.runsOutAtMs;
  }
}

/** The text of an answer's first choice plus any tool-call arguments: what an output estimate counts. */
export function answerText(c: ChatCompletion): string {
  return c.choices.map((ch) => (ch.message?.content ?? '') + (ch.message?.tool_calls ? JSON.stringify(ch.message.tool_calls) : '')).join('');
}

/**
 * Whether the call carries its tier to this model: where the model takes the tier, and, for a tier a policy chose,
 * only where the model has a price row for it (a client's unpriced tier is refused before any call instead).
 */
function sendsTier(trace: Pick<Trace, 'serviceTierSource'>, model: ResolvedModel, tier: string): boolean {
  if (!takesServiceTier(model, tier)) return false;
  return trace.serviceTierSource !== 'policy' || !model.price || model.price.serviceTiers?.[tier] !== undefined;
}

function withoutTier(req: ChatRequest): ChatRequest {
  const { service_tier: _t, ...rest } = req;
  return rest as ChatRequest;
}
