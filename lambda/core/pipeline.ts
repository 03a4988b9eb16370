import { resolveStoredTenant, type ResolvedConfig, type ResolvedModel, type ResolvedTenant, type ResolvedTier } from './config/resolve';
import { cacheability, exactCacheKey, lastUserText, semanticContextHash } from './cache/keys';
import { chooseSemanticHit } from './cache/semantic';
import type { Verifier } from './cache/verifier';
import type { LearnedRouter } from './routing/learned';
import {
  AuthenticationError,
  GatewayError,
  InvalidRequestError,
  PermissionDeniedError,
  toErrorBody,
  UpstreamError,
  UpstreamTimeoutError,
} from './errors';
import { completionToChunks, SSE_DONE, sseData, toOpenAiUsage } from './openai/sse';
import { requestedMaxTokens, type ChatCompletion, type ChatRequest } from './openai/types';
import { parseChatRequest } from './openai/validate';
import { parseFeedback } from './feedback';
import type {
  AlertSink,
  CachedCompletion,
  ChatProvider,
  Clock,
  Embedder,
  ExactCache,
  IdSource,
  ProviderCall,
  ProviderStreamEvent,
  QuotaStore,
  SemanticIndex,
  Sha256,
  TenantDirectory,
  UsageSink,
} from './ports';
import { ProviderError } from './ports';
import { formatUsd, microsToUsd } from './pricing/money';
import { addUsage, costMicros, totalTokens, ZERO_USAGE, type TokenUsage } from './pricing/prices';
import { checkAnswer } from './routing/cascade';
import { optimiseContext } from './context/optimize';
import { contextPolicyFor } from './context/policy';
import { QuotaGuard, type QuotaAction, type Reservation } from './quota/guard';
import { remainingUsdMicros } from './quota/policy';
import { cascadeTierOf, route, type Route } from './routing/route';
import { estimateInputTokens, estimateTextTokens, estimateTokensFromBytes } from './tokens';
import type { CascadeStep, UsageRecord } from './usage';

export interface GatewayDeps {
  readonly config: ResolvedConfig;
  /** Adapters by provider id (config `providers[].id`). */
  readonly providers: ReadonlyMap<string, ChatProvider>;
  readonly quota: QuotaStore;
  readonly exactCache?: ExactCache;
  readonly semantic?: {
    readonly embedder: Embedder;
    readonly index: SemanticIndex;
    /** When set, a semantic hit is served only if the verifier accepts it. */
    readonly verifier?: Verifier;
  };
  /** Run-time tenants (`llm-finops tenants`), looked up when an id or key is not in the config. */
  readonly tenants?: TenantDirectory;
  /** A trained router (routing.learned) for model auto; without it the heuristic scores prompts. */
  readonly router?: LearnedRouter;
  /** Embeds documents and questions for context re-ranking; without it re-ranking uses BM25 alone. */
  readonly embedder?: Embedder;
  readonly usage: UsageSink;
  readonly alerts: AlertSink;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly sha256: Sha256;
}

export interface ChatInvocation {
  /** Resolved by the caller: the authorizer context (Lambda) or `authenticate` (local). Never a client header. */
  readonly tenantId: string;
  readonly feature?: string;
  readonly cacheBypass?: boolean;
  readonly body: string;
  readonly bodyBytes: number;
  readonly requestId?: string;
  /** Aborted when the client disconnects. */
  readonly signal?: AbortSignal;
}

export type Headers = Record<string, string>;

export interface JsonResult {
  readonly kind: 'json';
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

export interface StreamResult {
  readonly kind: 'stream';
  readonly status: 200;
  readonly headers: Headers;
  /** SSE frames. Abandoning the iteration (return()) settles the request as a client disconnect. */
  readonly body: AsyncIterable<string>;
}

export type GatewayResult = JsonResult | StreamResult;

const FEATURE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEFAULT_FEATURE = 'default';

type CacheStatus = UsageRecord['cache'];

/** Mutable facts gathered along the request, turned into exactly one UsageRecord. */
interface Trace {
  readonly requestId: string;
  readonly startedAt: number;
  readonly t0: number;
  tenant: string;
  feature: string;
  team: string | null;
  /** Pseudonymous end user: a hash of the request's `user`, never the value itself. */
  endUser: string | null;
  stream: boolean;
  model: ResolvedModel | null;
  provider: string | null;
  tier: string | null;
  routeReason: string | null;
  cache: CacheStatus;
  usage: TokenUsage;
  costMicros: number;
  baselineMicros: number;
  usageEstimated: boolean;
  attempts: number;
  upstreamMs: number;
  /** A cache backend failure; the request went on as a miss. */
  cacheError: string | null;
  /** The semantic tier's embedding call: billed tokens and their cost, included in costMicros. */
  embeddingTokens: number;
  embeddingMicros: number;
  cacheScore: number | null;
  /** A cascade tier's calls, in order; null otherwise. */
  cascade: CascadeStep[] | null;
  quotaAction: QuotaAction;
  /** Bytes of prompt text the context step removed, and the bytes it left. */
  contextSavedBytes: number;
  contextKeptBytes: number;
}

interface Attempted<T> {
  readonly model: ResolvedModel;
  readonly value: T;
}

class ClientClosedError extends GatewayError {
  constructor() {
    super('Client closed the request.', 499, 'invalid_request_error', 'client_closed');
  }
}

/**
 * The request pipeline of ARCHITECTURE section 1, on ports only. `chat` never throws: every outcome, errors included,
 * becomes a response and exactly one usage record.
 */
export class Gateway {
  /**
   * API key -> tenant, so a warm gateway hashes each key once. Bounded; only keys that matched are kept. Config keys
   * never expire (the config is fixed for the process); directory keys expire like the other stored controls, so a
   * revoked key stops within quota.controlsCacheSeconds.
   */
  private readonly keyCache = new Map<string, { tenant: string; expiresAtMs: number }>();

  private readonly quota: QuotaGuard;
  private readonly tenantCache = new Map<string, { tenant: ResolvedTenant; expiresAtMs: number }>();

  constructor(private readonly deps: GatewayDeps) {
    this.quota = new QuotaGuard(deps.config, deps.quota, deps.alerts, deps.clock);
  }

  get config(): ResolvedConfig {
    return this.deps.config;
  }

  /** Maps `Authorization: Bearer <key>` to a tenant id through the configured key hashes, then the tenant directory. */
  async authenticate(authorization: string | undefined): Promise<string> {
    if (!authorization) throw new AuthenticationError('Missing API key: send Authorization: Bearer <key>.', 'missing_api_key');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) throw new AuthenticationError('Malformed Authorization header: expected Bearer <key>.', 'invalid_api_key');
    const now = this.deps.clock.now();
    const cached = this.keyCache.get(m[1]);
    if (cached && cached.expiresAtMs > now) return cached.tenant;
    const hash = this.deps.sha256(m[1]);
    const fromConfig = this.deps.config.keyHashes.get(hash);
    const tenant = fromConfig ?? (await this.deps.tenants?.tenantForKey(hash));
    if (!tenant) throw new AuthenticationError('Incorrect API key provided.', 'invalid_api_key');
    if (this.keyCache.size >= 10_000) this.keyCache.clear();
    this.keyCache.set(m[1], { tenant, expiresAtMs: fromConfig ? Infinity : now + this.storedTtlMs() });
    return tenant;
  }

  async chat(inv: ChatInvocation): Promise<GatewayResult> {
    const { clock } = this.deps;
    const trace: Trace = {
      requestId: inv.requestId ?? this.deps.ids.requestId(),
      startedAt: clock.now(),
      t0: clock.monotonic(),
      tenant: inv.tenantId,
      feature: DEFAULT_FEATURE,
      team: null,
      endUser: null,
      stream: false,
      model: null,
      provider: null,
      tier: null,
      routeReason: null,
      cache: 'none',
      usage: ZERO_USAGE,
      costMicros: 0,
      baselineMicros: 0,
      usageEstimated: false,
      attempts: 0,
      upstreamMs: 0,
      cacheError: null,
      embeddingTokens: 0,
      embeddingMicros: 0,
      cacheScore: null,
      cascade: null,
      quotaAction: 'none',
      contextSavedBytes: 0,
      contextKeptBytes: 0,
    };
    let reservation: Reservation | undefined;
    try {
      const tenant = await this.tenantOf(inv.tenantId);
      trace.team = tenant.config.team ?? null;
      if (inv.feature !== undefined && inv.feature !== '') {
        if (!FEATURE_RE.test(inv.feature)) {
          throw new InvalidRequestError(
            'Invalid x-llm-feature header: 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit.',
            'x-llm-feature',
          );
        }
        trace.feature = inv.feature;
      }
      const req = parseChatRequest(inv.body, inv.bodyBytes, this.deps.config.raw.server.maxBodyBytes);
      trace.stream = req.stream === true;
      // Scoped to the tenant, so the same user id at two tenants counts as two users and cannot be joined across them.
      if (req.user) trace.endUser = this.deps.sha256(`${tenant.id}\u0000${req.user}`).slice(0, 16);
      let r = route(this.deps.config, tenant, req, this.deps.router);
      trace.tier = r.tier;
      trace.routeReason = r.reason;
      const maxTokens = requestedMaxTokens(req);
      if (maxTokens !== undefined && r.reason === 'explicit-model' && maxTokens > r.chain[0].maxOutputTokens) {
        throw new InvalidRequestError(
          `max_tokens is too large: ${maxTokens}. Model '${r.chain[0].id}' supports at most ${r.chain[0].maxOutputTokens} completion tokens.`,
          'max_tokens',
          'out_of_range',
        );
      }

      const cacheCfg = this.deps.config.raw.cache;
      const decision = cacheability(req, cacheCfg.exact.maxTemperature);
      const cacheOn = (cacheCfg.exact.enabled && !!this.deps.exactCache) || (cacheCfg.semantic.enabled && !!this.deps.semantic);
      trace.cache = !cacheOn || !decision.cacheable ? 'none' : inv.cacheBypass ? 'bypass' : 'miss';
      const target = req.model ?? 'auto';
      const exactKey = trace.cache === 'miss' && cacheCfg.exact.enabled && this.deps.exactCache
        ? exactCacheKey(this.deps.sha256, tenant.id, target, req, maxTokens)
        : undefined;
      // A cache that fails must not fail the request: note the error and go on as a miss.
      const guarded = async <T>(what: string, op: () => Promise<T>): Promise<T | undefined> => {
        try {
          return await op();
        } catch (err) {
          const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
          trace.cacheError = trace.cacheError ? `${trace.cacheError}; ${msg}` : msg;
          return undefined;
        }
      };
      if (exactKey) {
        const hit = await guarded('exact get', () => this.deps.exactCache!.get(exactKey));
        if (hit) return this.fromCache(trace, req, hit, 'hit-exact');
      }
      let semanticKey: { contextHash: string; vector: Float32Array; prompt: string } | undefined;
      if (trace.cache === 'miss' && cacheCfg.semantic.enabled && this.deps.semantic) {
        const semantic = this.deps.semantic;
        const contextHash = semanticContextHash(this.deps.sha256, semantic.embedder.id, target, req, maxTokens);
        const prompt = lastUserText(req);
        const hit = await guarded('semantic search', async () => {
          const embedded = await semantic.embedder.embed([prompt]);
          trace.embeddingTokens = embedded.inputTokens;
          trace.embeddingMicros = costMicros({ ...ZERO_USAGE, inputTokens: embedded.inputTokens }, this.deps.config.semanticCache.embeddingPrice);
          const vector = embedded.vectors[0];
          semanticKey = { contextHash, vector, prompt };
          const candidates = await semantic.index.search(tenant.id, contextHash, vector, this.deps.config.semanticCache.threshold, cacheCfg.semantic.maxCandidates);
          return chooseSemanticHit(prompt, candidates, cacheCfg.semantic.guards, semantic.verifier).hit;
        });
        if (hit) {
          trace.cacheScore = Math.round(hit.score * 10_000) / 10_000;
          return this.fromCache(trace, req, hit.value, 'hit-semantic');
        }
      }

      // Context optimisation changes what is sent, never the cache key (taken from the request as received).
      const callReq = await this.optimiseContext(req, tenant.id, trace);
      const admission = await this.quota.admit({
        requestId: trace.requestId, tenant, feature: trace.feature, route: r, inputTokens: estimateInputTokens(callReq), maxTokens,
      });
      reservation = admission.reservation;
      trace.quotaAction = admission.action;
      r = admission.route;
      trace.tier = r.tier;
      trace.routeReason = r.reason;
      const store = async (model: ResolvedModel, completion: ChatCompletion, usage: TokenUsage): Promise<void> => {
        if (trace.cache !== 'miss') return;
        const entry: CachedCompletion = { completion, usage, modelId: model.id, tier: trace.tier ?? '', storedAtMs: clock.now() };
        if (JSON.stringify(completion).length > cacheCfg.exact.maxEntryBytes) return;
        // Only a complete answer is worth replaying: not one cut by max_tokens or a content filter. (Some self-hosted
        // containers report no finish reason at all; those answers are cached.)
        if (completion.choices.some((c) => c.finish_reason === 'length' || c.finish_reason === 'content_filter')) return;
        const ttlMs = (cacheCfg.ttlByFeature[trace.feature] ?? cacheCfg.exact.ttlSeconds) * 1000;
        const key = semanticKey;
        if (exactKey) await guarded('exact set', () => this.deps.exactCache!.set(exactKey, entry, ttlMs));
        if (key) await guarded('semantic put', () => this.deps.semantic!.index.put(tenant.id, key.contextHash, key.vector, { prompt: key.prompt, value: entry }, ttlMs));
      };

      const cascadeTier = cascadeTierOf(this.deps.config, r);
      if (cascadeTier) return await this.cascaded(trace, req, callReq, r, cascadeTier, maxTokens, reservation, inv.signal, store);
      if (trace.stream) return await this.streamed(trace, callReq, r, maxTokens, reservation, inv.signal, store);

      const signal = inv.signal ?? new AbortController().signal;
      const done = await this.withFallback(trace, r, signal, (model) => this.provider(model).complete(this.call(model, callReq, maxTokens, signal, trace.tenant)));
      const usage = done.value.usage ?? {
        ...ZERO_USAGE,
        inputTokens: estimateInputTokens(callReq),
        outputTokens: estimateTextTokens(done.value.completion.choices.map((c) => c.message?.content ?? '').join('')),
      };
      this.account(trace, done.model, usage, done.value.usage === undefined);
      const remaining = await this.settle(reservation, trace);
      if (done.value.usage) await store(done.model, done.value.completion, usage);
      const body: ChatCompletion = { ...done.value.completion, model: done.model.id, usage: toOpenAiUsage(usage) };
      const record = this.emit(trace, 200, null);
      return { kind: 'json', status: 200, headers: this.headers(trace, record, remaining), body };
    } catch (err) {
      if (reservation && !reservation.settled) await this.settle(reservation, trace);
      return this.errorResult(trace, err);
    }
  }

  /** Waits for side effects still in flight (alert publishes, buffered usage delivery); a Lambda handler calls it before returning. */
  async flush(): Promise<void> {
    await Promise.all([this.deps.alerts.flush?.(), this.deps.usage.flush?.()]);
  }

  /** OpenAI `GET /v1/models`: the tiers and models the tenant may name, plus `auto`. */
  async models(tenantId: string): Promise<JsonResult> {
    const tenant = await this.tenantOf(tenantId);
    const data = [
      { id: 'auto', object: 'model', created: 0, owned_by: 'llm-finops-router' },
      ...[...tenant.allowedTiers].map((t) => ({ id: t, object: 'model', created: 0, owned_by: 'llm-finops-tier' })),
      ...[...tenant.allowedModels].map((m) => ({ id: m, object: 'model', created: 0, owned_by: this.deps.config.models.get(m)!.provider.id })),
    ];
    return { kind: 'json', status: 200, headers: {}, body: { object: 'list', data } };
  }

  /**
   * `POST /v1/feedback`: an outcome for an earlier answer, appended to the usage log with the caller's tenant (a
   * tenant cannot file outcomes under another's name: training joins on request id and tenant).
   */
  async feedback(tenantId: string, body: string, bodyBytes: number): Promise<JsonResult> {
    const tenant = await this.tenantOf(tenantId);
    const f = parseFeedback(body, bodyBytes);
    if (f.model !== null && !this.deps.config.models.has(f.model)) throw new InvalidRequestError(`Unknown model '${f.model}'.`, 'model', 'model_not_found');
    this.deps.usage.feedback({ type: 'feedback', ts: new Date(this.deps.clock.now()).toISOString(), tenant: tenant.id, ...f });
    return { kind: 'json', status: 200, headers: {}, body: { object: 'feedback', request_id: f.request_id, score: f.score, recorded: true } };
  }

  /** `GET /v1/usage`: the tenant's own used, reserved and limit per window (UTC minute, day and month). */
  async usage(tenantId: string): Promise<JsonResult> {
    const tenant = await this.tenantOf(tenantId);
    const windows = await this.quota.usage(tenant);
    return { kind: 'json', status: 200, headers: {}, body: { object: 'usage', tenant: tenant.id, team: tenant.config.team ?? null, windows } };
  }

  /** How long run-time tenants and keys read from the directory are reused (quota.controlsCacheSeconds). */
  private storedTtlMs(): number {
    return this.deps.config.raw.quota.controlsCacheSeconds * 1000;
  }

  /** The config's tenant, else the directory's (reused for quota.controlsCacheSeconds; changes apply within that). */
  private async tenantOf(id: string): Promise<ResolvedTenant> {
    const t = this.deps.config.tenants.get(id);
    if (t) return t;
    const now = this.deps.clock.now();
    const hit = this.tenantCache.get(id);
    if (hit && hit.expiresAtMs > now) return hit.tenant;
    const stored = await this.deps.tenants?.getTenant(id);
    if (!stored) throw new PermissionDeniedError(`Unknown tenant '${id}'.`, null, 'unknown_tenant');
    const tenant = resolveStoredTenant(this.deps.config, stored);
    if (this.tenantCache.size >= 10_000) this.tenantCache.clear();
    this.tenantCache.set(id, { tenant, expiresAtMs: now + this.storedTtlMs() });
    return tenant;
  }

  private provider(model: ResolvedModel): ChatProvider {
    const p = this.deps.providers.get(model.provider.id);
    if (!p) throw new UpstreamError(`No adapter is wired for provider '${model.provider.id}'.`, 'provider_unavailable');
    return p;
  }

  /**
   * A cascade tier: call the chain's first model, judge its answer with the tier's checks, and escalate to the next
   * model when a check rejects it (the last model's answer is taken as it is). Provider failures still fall back as
   * in a fallback tier. The record holds every call's cost in `cascade` and their sum in `cost_usd`. A streamed
   * request is answered as SSE once the accepted answer is known: a rejected answer must never reach the client.
   */
  private async cascaded(
    trace: Trace, req: ChatRequest, callReq: ChatRequest, r: Route, tier: ResolvedTier, maxTokens: number | undefined,
    reservation: Reservation | undefined, clientSignal: AbortSignal | undefined,
    store: (model: ResolvedModel, completion: ChatCompletion, usage: TokenUsage) => Promise<void>,
  ): Promise<GatewayResult> {
    const signal = clientSignal ?? new AbortController().signal;
    const last = r.chain[r.chain.length - 1];
    const askLogprobs = tier.cascade.checks.includes('logprob') && req.logprobs !== true;
    const steps: CascadeStep[] = [];
    let total: TokenUsage = ZERO_USAGE;
    let micros = 0;
    let estimated = false;
    let from = 0;
    for (;;) {
      const done = await this.withFallback(trace, { ...r, chain: r.chain.slice(from) }, signal, (model) => {
        const http = model.provider.type === 'openai-compatible' || model.provider.type === 'azure-openai';
        const request = askLogprobs && http && model !== last ? { ...callReq, logprobs: true } : callReq;
        return this.provider(model).complete(this.call(model, request, maxTokens, signal, trace.tenant));
      });
      const usage = done.value.usage ?? {
        ...ZERO_USAGE,
        inputTokens: estimateInputTokens(callReq),
        outputTokens: estimateTextTokens(done.value.completion.choices.map((c) => c.message?.content ?? '').join('')),
      };
      estimated ||= done.value.usage === undefined;
      const cost = done.model.price ? costMicros(usage, done.model.price) : 0;
      total = addUsage(total, usage);
      micros += cost;
      const index = r.chain.indexOf(done.model);
      const verdict = done.model === last ? ({ ok: true } as const) : checkAnswer(req, done.value.completion, tier.cascade);
      steps.push({
        model: done.model.id, input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, cost_micros: cost,
        accepted: verdict.ok, reason: verdict.ok ? null : `${verdict.reason}: ${verdict.detail}`,
      });
      if (!verdict.ok) {
        from = index + 1;
        continue;
      }
      this.account(trace, done.model, total, estimated);
      trace.costMicros = micros + trace.embeddingMicros;
      trace.baselineMicros = costMicros(usage, this.deps.config.baseline.price);
      trace.cascade = steps;
      if (steps.length > 1) trace.routeReason = `${trace.routeReason} (cascade: ${steps.slice(0, -1).map((x) => `${x.model} ${x.reason?.split(':')[0]}`).join(', ')} -> ${done.model.id})`;
      const remaining = await this.settle(reservation, trace);
      if (done.value.usage) await store(done.model, done.value.completion, usage);
      // Log-probabilities the gateway asked for on its own account are not the client's to receive.
      const choices = askLogprobs ? done.value.completion.choices.map(({ logprobs: _l, ...c }: { logprobs?: unknown } & ChatCompletion['choices'][number]) => c) : done.value.completion.choices;
      const completion: ChatCompletion = { ...done.value.completion, choices, model: done.model.id, usage: toOpenAiUsage(usage) };
      const record = this.emit(trace, 200, null);
      const headers = this.headers(trace, record, remaining);
      if (!trace.stream) return { kind: 'json', status: 200, headers, body: completion };
      return { kind: 'stream', status: 200, headers, body: this.replay(req, completion, usage, trace, remaining) };
    }
  }

  /** A complete answer as SSE frames, with the usage chunk when the client asked for it. */
  private replay(req: ChatRequest, completion: ChatCompletion, usage: TokenUsage, trace: Trace, remaining: number | undefined): AsyncIterable<string> {
    const frames = completionToChunks(completion, completion.model).map(sseData);
    if (req.stream_options?.include_usage === true) {
      frames.push(sseData({
        id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, choices: [],
        usage: toOpenAiUsage(usage), llm_finops: this.finopsBlock(trace, remaining),
      }));
    }
    frames.push(SSE_DONE);
    return (async function* () {
      yield* frames;
    })();
  }

  private call(model: ResolvedModel, request: ChatRequest, maxTokens: number | undefined, signal: AbortSignal, tenant: string): ProviderCall {
    const upstream = this.upstreamFor(model, tenant);
    const m = upstream === model.config.upstreamModel ? model : { ...model, config: { ...model.config, upstreamModel: upstream } };
    return { model: m, request, maxTokens: maxTokens === undefined ? undefined : Math.min(maxTokens, model.maxOutputTokens), signal };
  }

  /** The tenant's own upstream id for a model (tenants[].upstreamModels: e.g. its tagged Bedrock inference profile), else the model's. */
  private upstreamFor(model: ResolvedModel, tenant: string): string {
    return this.deps.config.tenants.get(tenant)?.config.upstreamModels?.[model.id] ?? model.config.upstreamModel;
  }

  /** The context step when a policy applies to the tenant and feature; a failure leaves the request as it was. */
  private async optimiseContext(req: ChatRequest, tenant: string, trace: Trace): Promise<ChatRequest> {
    const policy = contextPolicyFor(this.deps.config.raw.context.policies, tenant, trace.feature);
    if (!policy) return req;
    const embedder = this.deps.embedder;
    try {
      const out = await optimiseContext(req, policy, embedder ? async (texts) => (await embedder.embed(texts)).vectors : undefined);
      trace.contextSavedBytes = Math.max(0, out.stats.bytesIn - out.stats.bytesOut);
      trace.contextKeptBytes = out.stats.bytesOut;
      return out.request;
    } catch {
      return req;
    }
  }

  /**
   * Tokens the context step saved: the removed share of the prompt scaled by the provider's real input count when
   * there is one, else the byte estimate; priced at the model's input price.
   */
  private contextSavings(trace: Trace): { tokens: number; micros: number } {
    if (!trace.contextSavedBytes) return { tokens: 0, micros: 0 };
    const input = trace.usage.inputTokens + trace.usage.cacheReadTokens + trace.usage.cacheWriteTokens;
    const tokens = input > 0 && !trace.usageEstimated && trace.contextKeptBytes > 0
      ? Math.round((input * trace.contextSavedBytes) / trace.contextKeptBytes)
      : estimateTokensFromBytes(trace.contextSavedBytes);
    const price = trace.model?.price ?? this.deps.config.baseline.price;
    return { tokens, micros: Math.round((tokens * price.inputPerMTok) / 1_000_000) };
  }

  /** Reconciles the reservation to the actual cost in the trace (zero on failure paths). */
  private async settle(res: Reservation | undefined, trace: Trace): Promise<number | undefined> {
    if (!res) return undefined;
    const out = await this.quota.settle(res, trace.tenant, trace.feature, { micros: trace.costMicros, tokens: totalTokens(trace.usage) });
    if (out.failed) trace.quotaAction = 'settle_failed';
    return out.remainingMicros;
  }

  private account(trace: Trace, model: ResolvedModel, usage: TokenUsage, estimated: boolean): void {
    trace.model = model;
    trace.provider = model.provider.id;
    trace.usage = usage;
    trace.usageEstimated = estimated;
    trace.costMicros = (model.price ? costMicros(usage, model.price) : 0) + trace.embeddingMicros;
    trace.baselineMicros = costMicros(usage, this.deps.config.baseline.price);
  }

  /**
   * Runs `attempt` along the chain: up to `attemptsPerModel` tries per model with exponential backoff and jitter on
   * 5xx, timeouts and network errors; throttling and auth failures move to the next model at once. A client error
   * (4xx) stops the chain: another model would reject the same request.
   */
  private async withFallback<T>(trace: Trace, r: Route, signal: AbortSignal, attempt: (m: ResolvedModel) => Promise<T>): Promise<Attempted<T>> {
    const { clock, ids, config } = this.deps;
    const { attemptsPerModel, baseDelayMs, maxDelayMs } = config.raw.routing.retry;
    let last: ProviderError | undefined;
    const failures: string[] = [];
    for (let mi = 0; mi < r.chain.length; mi++) {
      const model = r.chain[mi];
      const hasNext = mi < r.chain.length - 1;
      for (let a = 0; a < attemptsPerModel; a++) {
        if (signal.aborted) throw new ClientClosedError();
        trace.attempts++;
        trace.model = model;
        trace.provider = model.provider.id;
        const u0 = clock.monotonic();
        try {
          const value = await attempt(model);
          trace.upstreamMs += clock.monotonic() - u0;
          return { model, value };
        } catch (err) {
          trace.upstreamMs += clock.monotonic() - u0;
          if (signal.aborted) throw new ClientClosedError();
          const pe = err instanceof ProviderError ? err : new ProviderError(err instanceof Error ? err.message : String(err), 'server', undefined, undefined, { cause: err });
          if (pe.kind === 'client') {
            throw new InvalidRequestError(`Model '${model.id}' rejected the request: ${pe.message}`, null, 'upstream_rejected');
          }
          last = pe;
          failures.push(`${model.id}: ${pe.kind}${pe.status ? ` ${pe.status}` : ''}`);
          if ((pe.kind === 'throttled' || pe.kind === 'auth') && hasNext) break;
          if (a < attemptsPerModel - 1) {
            const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** a);
            const jittered = exp / 2 + ids.random() * (exp / 2);
            await clock.sleep(Math.min(maxDelayMs, Math.max(jittered, pe.retryAfterMs ?? 0)), signal);
          }
        }
      }
    }
    const msg = `All models failed after ${trace.attempts} attempts (${failures.join('; ')}).`;
    if (last?.kind === 'timeout') throw new UpstreamTimeoutError(msg, { cause: last });
    throw new UpstreamError(msg, last?.kind === 'throttled' ? 'upstream_throttled' : 'upstream_failed', { cause: last });
  }

  private async streamed(
    trace: Trace,
    req: ChatRequest,
    r: Route,
    maxTokens: number | undefined,
    reservation: Reservation | undefined,
    clientSignal: AbortSignal | undefined,
    store: (m: ResolvedModel, c: ChatCompletion, u: TokenUsage) => Promise<void>,
  ): Promise<StreamResult> {
    // Our own controller, so a client that stops reading also stops the upstream call.
    const ac = new AbortController();
    clientSignal?.addEventListener('abort', () => ac.abort(), { once: true });
    // Fallback is possible only until the first event: open the stream and wait for it inside the retry loop.
    const opened = await this.withFallback(trace, r, ac.signal, async (model) => {
      const it = this.provider(model).stream(this.call(model, req, maxTokens, ac.signal, trace.tenant))[Symbol.asyncIterator]();
      const first = await it.next();
      return { it, first };
    });
    const model = opened.model;
    const includeUsage = req.stream_options?.include_usage === true;
    const inputEstimate = estimateInputTokens(req);
    const overheadMs = Math.max(0, Math.round(this.deps.clock.monotonic() - trace.t0 - trace.upstreamMs));
    // A stream's headers leave before its cost is known; the cost travels in the final usage chunk.
    const headers = this.routeHeaders(
      trace,
      overheadMs,
      reservation ? this.remainingHeader(remainingUsdMicros(reservation.plans, reservation.committed)) : 'unknown',
    );
    const self = this;
    async function* body(): AsyncGenerator<string> {
      let usage: TokenUsage | undefined;
      let text = '';
      /** Streamed tool-call JSON, counted only for an estimate when the upstream reports no usage. */
      let toolText = '';
      let id = '';
      let created = 0;
      let finish: string | null = null;
      let completed = false;
      let failure: unknown;
      let finished = false;
      const streamStart = self.deps.clock.monotonic();
      const finishOnce = async (): Promise<number | undefined> => {
        if (finished) return undefined;
        finished = true;
        trace.upstreamMs += self.deps.clock.monotonic() - streamStart;
        const estimated = usage === undefined;
        self.account(trace, model, usage ?? { ...ZERO_USAGE, inputTokens: inputEstimate, outputTokens: estimateTextTokens(text + toolText) }, estimated);
        const remaining = await self.settle(reservation, trace);
        if (completed && !estimated) {
          const completion: ChatCompletion = {
            id, object: 'chat.completion', created, model: model.id,
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
          };
          await store(model, completion, usage!);
        }
        if (completed) self.emit(trace, 200, null);
        else if (failure !== undefined) self.emit(trace, 502, 'upstream_error');
        else self.emit(trace, 499, 'client_closed');
        return remaining;
      };
      try {
        let ev: IteratorResult<ProviderStreamEvent> = opened.value.first;
        while (!ev.done) {
          const e = ev.value;
          if (e.type === 'usage') usage = e.usage;
          else {
            id ||= e.chunk.id;
            created ||= e.chunk.created;
            for (const c of e.chunk.choices) {
              if (typeof c.delta.content === 'string') text += c.delta.content;
              if (c.delta.tool_calls) toolText += JSON.stringify(c.delta.tool_calls);
              if (c.finish_reason) finish = c.finish_reason;
            }
            yield sseData({ ...e.chunk, model: model.id });
          }
          ev = await opened.value.it.next();
        }
        completed = true;
      } catch (err) {
        // An abort we caused (the client went away) is a disconnect, not an upstream failure.
        if (!ac.signal.aborted) failure = err;
      } finally {
        if (!completed && failure === undefined) {
          // The consumer stopped reading: the client went away.
          ac.abort();
          await opened.value.it.return?.().catch(() => undefined);
          await finishOnce();
        }
      }
      if (!completed && failure === undefined) return;
      const remaining = await finishOnce();
      if (failure !== undefined) {
        yield sseData(toErrorBody(new UpstreamError(`Upstream stream failed: ${failure instanceof Error ? failure.message : String(failure)}`)).body);
        return;
      }
      if (includeUsage) {
        yield sseData({
          id, object: 'chat.completion.chunk', created, model: model.id, choices: [],
          usage: toOpenAiUsage(trace.usage),
          llm_finops: self.finopsBlock(trace, remaining),
        });
      }
      yield SSE_DONE;
    }
    return { kind: 'stream', status: 200, headers, body: body() };
  }

  private finopsBlock(trace: Trace, remaining: number | undefined): Record<string, unknown> {
    return {
      cost_usd: microsToUsd(trace.costMicros),
      baseline_cost_usd: microsToUsd(trace.baselineMicros),
      quota_remaining_usd: remaining === undefined ? null : microsToUsd(remaining),
      model: trace.model?.id ?? null,
      tier: trace.tier,
      cache: trace.cache,
      usage_estimated: trace.usageEstimated,
    };
  }

  private fromCache(trace: Trace, req: ChatRequest, hit: CachedCompletion, kind: 'hit-exact' | 'hit-semantic'): GatewayResult {
    trace.cache = kind;
    trace.model = this.deps.config.models.get(hit.modelId) ?? null;
    trace.provider = 'cache';
    trace.tier = hit.tier || trace.tier;
    trace.usage = hit.usage;
    // A hit costs only its embedding call (zero for the exact tier and the local embedder).
    trace.costMicros = trace.embeddingMicros;
    trace.baselineMicros = costMicros(hit.usage, this.deps.config.baseline.price);
    const record = this.emit(trace, 200, null);
    const headers = this.headers(trace, record, undefined);
    const model = hit.modelId;
    if (!trace.stream) {
      return { kind: 'json', status: 200, headers, body: { ...hit.completion, model, usage: toOpenAiUsage(hit.usage) } };
    }
    return { kind: 'stream', status: 200, headers, body: this.replay(req, { ...hit.completion, model }, hit.usage, trace, undefined) };
  }

  private remainingHeader(micros: number | undefined): string {
    return micros === undefined ? 'unlimited' : formatUsd(micros);
  }

  /** The x-llm-* headers every answer carries (ARCHITECTURE section 3). */
  private routeHeaders(trace: Trace, overheadMs: number, quotaRemaining: string): Headers {
    return {
      'x-request-id': trace.requestId,
      'x-llm-model': trace.model?.id ?? '',
      'x-llm-tier': trace.tier ?? '',
      'x-llm-cache': trace.cache === 'none' ? 'bypass' : trace.cache,
      'x-llm-route-reason': trace.routeReason ?? '',
      'x-llm-quota-remaining-usd': quotaRemaining,
      'x-llm-overhead-ms': String(overheadMs),
    };
  }

  /** Headers of a complete (non-streamed) answer: the route headers plus its cost. */
  private headers(trace: Trace, record: UsageRecord, remaining: number | undefined): Headers {
    return {
      ...this.routeHeaders(trace, record.overhead_ms, this.remainingHeader(remaining)),
      'x-llm-cost-usd': formatUsd(trace.costMicros),
      'x-llm-baseline-cost-usd': formatUsd(trace.baselineMicros),
    };
  }

  private errorResult(trace: Trace, err: unknown): JsonResult {
    const { status, body, retryAfterSeconds } = toErrorBody(err);
    if (!(err instanceof GatewayError)) trace.routeReason ??= `internal: ${err instanceof Error ? err.message : String(err)}`;
    this.emit(trace, status, body.error.type);
    const headers: Headers = { 'x-request-id': trace.requestId, 'x-llm-cost-usd': formatUsd(trace.costMicros) };
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    return { kind: 'json', status, headers, body };
  }

  private emit(trace: Trace, status: number, errorType: string | null): UsageRecord {
    const latency = this.deps.clock.monotonic() - trace.t0;
    const basis: UsageRecord['cost_basis'] = trace.cache.startsWith('hit') || !trace.model || trace.attempts === 0
      ? 'none'
      : trace.model.price ? 'tokens' : 'instance_hour';
    const saved = this.contextSavings(trace);
    const record: UsageRecord = {
      ts: new Date(trace.startedAt).toISOString(),
      request_id: trace.requestId,
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
      input_tokens: trace.usage.inputTokens,
      output_tokens: trace.usage.outputTokens,
      cache_read_tokens: trace.usage.cacheReadTokens,
      cache_write_tokens: trace.usage.cacheWriteTokens,
      cost_usd: microsToUsd(trace.costMicros),
      cost_micros: trace.costMicros,
      baseline_cost_usd: microsToUsd(trace.baselineMicros),
      baseline_cost_micros: trace.baselineMicros,
      cost_basis: basis,
      usage_estimated: trace.usageEstimated,
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
      embedding_tokens: trace.embeddingTokens,
      cache_score: trace.cacheScore,
      cascade: trace.cascade,
    };
    this.deps.usage.write(record);
    return record;
  }
}

