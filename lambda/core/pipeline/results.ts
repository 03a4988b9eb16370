import { GatewayError } from '../errors';
import { shapeError } from '../formats/error-shapes';
import { completionToChunks } from '../openai/sse';
import type { ChatCompletion } from '../openai/types';
import { formatUsd, microsToUsd } from '../pricing/money';
import type { UsageRecord } from '../usage';
import type { GatewayDeps, Headers, JsonResult, Trace } from './types';

/**
 * What leaves the gateway: the usage record, the x-llm-* headers, the stream's final block and error bodies. Every
 * figure is read from the trace's receipt, so the four can never disagree.
 */
export class Results {
  constructor(private readonly deps: GatewayDeps) {}

  remainingHeader(micros: number | undefined): string {
    return micros === undefined ? 'unlimited' : formatUsd(micros);
  }

  /** The x-llm-* headers every answer carries (ARCHITECTURE section 3). */
  routeHeaders(trace: Trace, overheadMs: number, quotaRemaining: string): Headers {
    const h: Headers = {
      'x-request-id': trace.requestId,
      'x-llm-model': trace.model?.id ?? '',
      'x-llm-tier': trace.tier ?? '',
      'x-llm-cache': trace.cache === 'none' ? 'bypass' : trace.cache,
      'x-llm-route-reason': trace.routeReason ?? '',
      'x-llm-quota-remaining-usd': quotaRemaining,
      'x-llm-overhead-ms': String(overheadMs),
    };
    if (trace.runsOutAtMs !== undefined) h['x-llm-quota-runs-out-at'] = new Date(trace.runsOutAtMs).toISOString();
    if (trace.serviceTier !== null) h['x-llm-service-tier'] = trace.serviceTier;
    if (trace.outputCap !== null) h['x-llm-output-cap'] = String(trace.outputCap);
    return h;
  }

  /** Headers of a complete (non-streamed) answer: the route headers plus its cost. */
  headers(trace: Trace, record: UsageRecord): Headers {
    const h: Headers = {
      ...this.routeHeaders(trace, record.overhead_ms, this.remainingHeader(trace.remainingMicros)),
      'x-llm-cost-usd': formatUsd(trace.receipt.micros),
      'x-llm-baseline-cost-usd': formatUsd(trace.receipt.baselineMicros),
    };
    if (record.usage_flags.length) h['x-llm-usage-flags'] = record.usage_flags.join(',');
    if (trace.receipt.promptCacheSavingMicros) h['x-llm-prompt-cache-saving-usd'] = formatUsd(trace.receipt.promptCacheSavingMicros);
    return h;
  }

  finopsBlock(trace: Trace): Record<string, unknown> {
    const r = trace.receipt;
    return {
      cost_usd: microsToUsd(r.micros),
      baseline_cost_usd: microsToUsd(r.baselineMicros),
      quota_remaining_usd: trace.remainingMicros === undefined ? null : microsToUsd(trace.remainingMicros),
      model: trace.model?.id ?? null,
      tier: trace.tier,
      cache: trace.cache,
      usage_estimated: r.estimatedAny,
      usage_flags: r.flags,
      prompt_cache_saving_usd: microsToUsd(r.promptCacheSavingMicros),
    };
  }

  /** A complete answer as the request format's stream (a cache hit, a cascade's accepted answer). */
  replay(completion: ChatCompletion, trace: Trace): AsyncIterable<string> {
    const encoder = trace.wire.codec.encoder(trace.wire.decoded!, completion.model);
    const frames = completionToChunks(completion, completion.model).map((c) => encoder.chunk(c, undefined));
    frames.push(...encoder.end({ model: completion.model, usage: trace.receipt.answerTokens, finops: this.finopsBlock(trace) }));
    return (async function* () {
      yield* frames;
    })();
  }

  errorResult(trace: Trace, err: unknown): JsonResult {
    const shaped = shapeError(err, trace.wire.api);
    if (!(err instanceof GatewayError)) trace.routeReason ??= `internal: ${err instanceof Error ? err.message : String(err)}`;
    // A client gone before the answer began is recorded as one gone during a stream: client_closed, whichever step noticed.
    const record = this.emit(trace, shaped.gatewayStatus, err instanceof GatewayError && err.code === 'client_closed' ? 'client_closed' : shaped.type);
    const headers: Headers = { 'x-request-id': trace.requestId, 'x-llm-cost-usd': formatUsd(trace.receipt.micros), ...shaped.headers };
    if (record.usage_flags.length) headers['x-llm-usage-flags'] = record.usage_flags.join(',');
    return { kind: 'json', status: shaped.status, headers, body: shaped.body };
  }

  /** The tenant's own upstream id for a model (tenants[].upstreamModels: e.g. its tagged Bedrock inference profile), else the model's. */
  upstreamFor(model: { readonly id: string; readonly config: { readonly upstreamModel: string } }, tenant: string): string {
    return this.deps.config.tenants.get(tenant)?.config.upstreamModels?.[model.id] ?? model.config.upstreamModel;
  }

  /** Writes the request's one usage record. */
  emit(trace: Trace, status: number, errorType: string | null): UsageRecord {
    const latency = this.deps.clock.monotonic() - trace.t0;
    const r = trace.receipt;
    const basis: UsageRecord['cost_basis'] = trace.cache.startsWith('hit') || !trace.model || trace.attempts === 0
      ? 'none'
      : trace.receipt.answeredOnReservation ? 'commitment' : trace.model.price ? 'tokens' : trace.model.config.commitment ? 'commitment' : 'instance_hour';
    const saved = this.contextSavings(trace);
    // A hit bills nothing upstream; its record carries the tokens the cached answer stands for (what it saved).
    const usage = trace.cache.startsWith('hit') ? r.answerTokens : r.usage;
    const record: UsageRecord = {
      ts: new Date(trace.startedAt).toISOString(),
      request_id: trace.requestId,
      api: trace.batch ? 'batch' : trace.wire.api,
      tenant: trace.tenant,
      feature: trace.feature,
      team: trace.team,
      end_user: trace.endUser,
      provider: trace.provider,
      provider_type: trace.provider === 'cache' ? null : trace.model?.provider.type ?? null,
      model: trace.model?.id ?? null,
      upstream_model: trace.provider === 'cache' || !trace.model ? null : this.upstreamFor(trace.model, trace.tenant),
      tier: trace.tier,
      route_reason: trace.routeReason,
      cache: trace.cache,
      stream: trace.stream,
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      cache_read_tokens: usage.cacheReadTokens,
      cache_write_tokens: usage.cacheWriteTokens,
      cost_usd: microsToUsd(r.micros),
      cost_micros: r.micros,
      baseline_cost_usd: microsToUsd(r.baselineMicros),
      baseline_cost_micros: r.baselineMicros,
      cost_basis: basis,
      usage_estimated: r.estimatedAny,
      usage_flags: r.flags,
      usage_problem: r.problem,
      service_tier: trace.serviceTier,
      batch_id: trace.batch?.id ?? null,
      batch_custom_id: trace.batch?.customId ?? null,
      attempts: trace.attempts,
      latency_ms: Math.round(latency * 1000) / 1000,
      upstream_ms: Math.round(trace.upstreamMs * 1000) / 1000,
      overhead_ms: Math.max(0, Math.round((latency - trace.upstreamMs) * 1000) / 1000),
      status,
      error_type: errorType,
      cache_error: trace.cacheError,
      quota_action: trace.quotaAction,
      context_tokens_saved: saved.tokens,
      context_saved_usd: microsToUsd(saved.micros),
      embedding_tokens: r.embeddingTokens,
      cache_score: trace.cacheScore,
      cascade: trace.cascade,
      savings: r.savings,
    };
    this.deps.usage.write(record);
    return record;
  }

  /** Tokens the context step saved (Receipt.contextTokensSaved), priced at the model's input price. */
  private contextSavings(trace: Trace): { tokens: number; micros: number } {
    const tokens = trace.receipt.contextTokensSaved;
    if (!tokens) return { tokens: 0, micros: 0 };
    const price = trace.model?.price ?? this.deps.config.baseline.price;
    return { tokens, micros: Math.round((tokens * price.inputPerMTok) / 1_000_000) };
  }
}
