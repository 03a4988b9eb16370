import type { ResolvedModel, ResolvedTenant } from '../config/resolve';
import { InvalidRequestError, NotFoundError, PermissionDeniedError } from '../errors';
import { parseFeedback } from '../feedback';
import { requestedMaxTokens, type ChatCompletion, type ChatRequest } from '../openai/types';
import { encodeEmbedding, estimateEmbeddingTokens, parseEmbeddingsRequest } from '../openai/embeddings';
import { type TokenPrice, ZERO_USAGE } from '../pricing/prices';
import { optimiseContext } from '../context/optimize';
import { contextPolicyFor, scopedPolicyFor } from '../context/policy';
import { BatchHolds } from '../quota/batch-hold';
import { QuotaGuard, QuotaStoreUnavailableError, type AdmitRequest, type Reservation } from '../quota/guard';
import { cascadeTierOf, route, type Route } from '../routing/route';
import { CommitmentMeter } from '../routing/commitment';
import { cacheHintTtl } from '../prompt-cache';
import { estimateInputTokens } from '../tokens';
import { DEFAULT_FEATURE, featureHeader } from '../usage';
import { CacheStep, type CacheHit } from './cache-step';
import { cascaded } from './cascade';
import { withFallback } from './fallback';
import { Receipt } from './receipt';
import { decideServiceTier, requestedServiceTier, takesServiceTier } from './service-tier';
import { Steps } from './steps';
import { streamed } from './stream';
import { Tenants } from './tenants';
import { Shadow } from '../shadow/shadow';
import { SwitchGuard, type SwitchedBack } from '../shadow/switch-guard';
import type { ChatInvocation, GatewayDeps, GatewayResult, JsonResult, StoreAnswer, Trace } from './types';
import type { ChatProvider } from '../ports';
import { carries } from '../formats/capabilities';
import { CHAT_CODEC } from '../formats/chat';
import type { Codec, Decoded, HeaderReader } from '../formats/wire';

const noHeaders: HeaderReader = () => undefined;

/**
 * The request pipeline of ARCHITECTURE section 1, on ports only. `chat` never throws: every outcome, errors included,
 * becomes a response and exactly one usage record, priced by the request's one Receipt.
 */
export class Gateway {
  private readonly tenants: Tenants;
  private readonly cache: CacheStep;
  private readonly quota: QuotaGuard;
  private readonly steps: Steps;
  private readonly commitments = new CommitmentMeter();
  /** Whole-batch reservations on this gateway's quota guard and store (the batch API's). */
  readonly batchHolds: BatchHolds;

  constructor(private readonly deps: GatewayDeps) {
    this.tenants = new Tenants(deps);
    this.cache = new CacheStep(deps);
    this.quota = new QuotaGuard(deps.config, deps.quota, deps.alerts, deps.clock, deps.ops);
    this.steps = new Steps(deps, this.quota);
    this.batchHolds = new BatchHolds(this.quota, deps.quota, deps.clock);
    // A switched feature whose shadow agreement falls goes back to its premium model (switch-guard.ts).
    const guard = deps.config.raw.shadow.policies.some((p) => p.switchBack)
      ? new SwitchGuard(deps.config, deps.clock, deps.alerts, deps.quota, (f) => deps.config.tiers.get(deps.config.raw.routing.features![f])!.models.at(-1)!.id)
      : undefined;
    this.switchedBack = guard && ((f) => guard.switchedBack(f));
    // Shadow calls go through this same pipeline, recorded under their own feature (shadow.ts).
    this.shadow = deps.config.raw.shadow.policies.length ? new Shadow(deps.config, (inv) => this.chat(inv), deps.usage, deps.clock, deps.random, guard) : undefined;
  }

  /** The switch guard's answer for a feature, made once (not a closure per request); none without switchBack. */
  private readonly switchedBack: ((feature: string) => SwitchedBack | undefined) | undefined;

  private route(tenant: ResolvedTenant, req: ChatRequest, feature: string | undefined, shadowModel?: string): Route {
    // A shadow call may use its policy's model even where the tenant's allowedModels leave it out.
    const allowed = shadowModel && !tenant.allowedModels.has(shadowModel) ? { ...tenant, allowedModels: new Set([...tenant.allowedModels, shadowModel]) } : tenant;
    return route(this.deps.config, allowed, req, this.deps.router, feature, this.switchedBack);
  }

  /** Shadow tests of candidate models (config `shadow`); none without a policy. */
  readonly shadow: Shadow | undefined;

  get config(): GatewayDeps['config'] {
    return this.deps.config;
  }

  /** Maps the request's key (`Authorization: Bearer <key>` or `x-api-key`) to a tenant id through the configured key hashes, then the tenant directory. */
  async authenticate(authorization: string | undefined, xApiKey?: string): Promise<string> {
    return (await this.tenants.identify(authorization, xApiKey)).tenant;
  }

  /** The tenant of the request's key, and the key's id (apiKeyIdOf) for policies per API key. */
  identifyKey(authorization: string | undefined, xApiKey?: string): Promise<{ tenant: string; keyId: string }> {
    return this.tenants.identify(authorization, xApiKey);
  }

  /** `POST /v1/chat/completions`. Never throws. */
  chat(inv: ChatInvocation): Promise<GatewayResult> {
    return this.generate(inv, CHAT_CODEC);
  }

  /** `POST /v1/messages` (Anthropic Messages API). Never throws. */
  messages(inv: ChatInvocation): Promise<GatewayResult> {
    return this.generate(inv, this.codec('messages'));
  }

  /** `POST /v1/responses` (OpenAI Responses API). Never throws. */
  responses(inv: ChatInvocation): Promise<GatewayResult> {
    return this.generate(inv, this.codec('responses'));
  }

  /** A front door's codec, loaded with its first request. */
  private codec(api: 'messages' | 'responses'): Codec {
    const source = this.deps.codecs;
    if (!source) throw new NotFoundError(`This gateway serves no ${api === 'messages' ? 'Anthropic Messages' : 'Responses'} API.`, null, 'unknown_url');
    return api === 'messages' ? source.messages() : source.responses();
  }

  /**
   * `POST /v1/messages/count_tokens`: the request's input tokens as the gateway estimates them (the estimate its
   * reservations use), for the model the request names; no upstream call, no charge, no usage record.
   */
  async countTokens(inv: ChatInvocation): Promise<JsonResult> {
    const tenant = await this.tenants.tenantOf(inv.tenantId);
    const decoded = this.codec('messages').decode(inv.body, inv.bodyBytes, this.deps.config.raw.server.maxBodyBytes, inv.header ?? noHeaders, { countOnly: true });
    this.route(tenant, decoded.request, DEFAULT_FEATURE);
    return { kind: 'json', status: 200, headers: {}, body: { input_tokens: estimateInputTokens(decoded.request) } };
  }

  /**
   * What a line of a batch would reserve if it ran now, checked as the live path checks a request (its body, the
   * model or tier the tenant may use, max_tokens against the model): the AdmitRequest a batch's hold sums over its
   * lines. Throws the GatewayError the live request would get. The estimate is before context optimisation, which only
   * removes tokens.
   */
  async batchLineAdmission(inv: ChatInvocation, endpoint: string, requestId: string): Promise<{ readonly admit: AdmitRequest; readonly request?: ChatRequest }> {
    const tenant = await this.tenants.tenantOf(inv.tenantId);
    const feature = inv.feature === undefined || inv.feature === '' ? DEFAULT_FEATURE : inv.feature;
    const common = { requestId, tenant, feature, apiKey: inv.apiKeyId, batch: true, underHold: false };
    if (endpoint === '/v1/embeddings') {
      const req = parseEmbeddingsRequest(inv.body, inv.bodyBytes, this.deps.config.raw.server.maxBodyBytes);
      const model = this.embeddingModel(tenant, req.model);
      return { admit: { ...common, route: { chain: [model], tier: null, reason: 'embeddings' }, inputTokens: estimateEmbeddingTokens(req), maxTokens: 0, noDowngrade: true } };
    }
    const codec = endpoint === '/v1/messages' ? this.codec('messages') : endpoint === '/v1/responses' ? this.codec('responses') : CHAT_CODEC;
    const decoded = codec.decode(inv.body, inv.bodyBytes, this.deps.config.raw.server.maxBodyBytes, inv.header ?? noHeaders);
    const req = decideServiceTier(decoded.request, this.deps.config.raw.serviceTiers.policies, tenant.id, feature).request;
    const r = carriable(this.route(tenant, req, feature), decoded);
    const maxTokens = requestedMaxTokens(req);
    checkMaxTokens(maxTokens, r);
    const hinted = cacheHintTtl(req);
    const policy = scopedPolicyFor(this.deps.config.raw.promptCaching.policies, tenant.id, feature)?.ttl;
    const endUser = decoded.endUser ? this.endUser(tenant, decoded.endUser) : undefined;
    return { admit: { ...common, route: r, inputTokens: estimateInputTokens(req), maxTokens, endUser, cacheWrites: hinted || policy ? { hinted, policy } : undefined }, request: req };
  }

  /**
   * The same pipeline on other providers (by provider id), sharing this gateway's stores and sinks: a batch job's
   * results are settled through it with RecordedAnswers in place of the provider that answered them.
   */
  withProviders(providers: ReadonlyMap<string, ChatProvider>): Gateway {
    return new Gateway({ ...this.deps, providers: new Map([...this.deps.providers, ...providers]) });
  }

  /** One generation request in any wire format: decoded by its codec, served by the one pipeline, encoded back. */
  private generate(inv: ChatInvocation, codec: Codec): Promise<GatewayResult> {
    return this.serve(inv, codec, codec.api, async (trace, tenant, hold) => {
      const steps = this.steps;
      const decoded = codec.decode(inv.body, inv.bodyBytes, this.deps.config.raw.server.maxBodyBytes, inv.header ?? noHeaders);
      trace.wire.decoded = decoded;
      // The service-tier policy's tier rides on the request from here on (Flex for what may wait, Priority for what may not).
      const tiering = decideServiceTier(decoded.request, this.deps.config.raw.serviceTiers.policies, tenant.id, trace.feature);
      const req = tiering.request;
      trace.serviceTierSource = tiering.source;
      trace.flexFallback = tiering.flexFallback;
      trace.stream = req.stream === true;
      trace.promptCache = scopedPolicyFor(this.deps.config.raw.promptCaching.policies, tenant.id, trace.feature)?.ttl ?? null;
      // Scoped to the tenant, so the same user id at two tenants counts as two users and cannot be joined across them.
      if (decoded.endUser) trace.endUser = this.endUser(tenant, decoded.endUser);
      let r = carriable(this.route(tenant, req, trace.feature, inv.shadowModel), decoded);
      trace.tier = r.tier;
      trace.routeReason = r.reason;
      const maxTokens = requestedMaxTokens(req);
      checkMaxTokens(maxTokens, r);
      checkServiceTier(req, r, trace.serviceTierSource);

      const lookup = await this.cache.lookup(trace, req, tenant.id, maxTokens, inv.cacheBypass === true, r.tier);
      // Who the request counts for in per-user, per-session and per-key policies, on a hit as on a call.
      const who: RequestParties = { endUser: trace.endUser ?? undefined, session: sessionOf(inv.header), apiKey: inv.apiKeyId };
      if (lookup.hit) return await this.fromCache(trace, tenant, lookup.hit, who);

      // Context optimisation changes what is sent, never the cache key (taken from the request as received).
      const callReq = await this.optimiseContext(req, tenant.id, trace);
      const hinted = cacheHintTtl(callReq);
      // Cache points the gateway places (the prompt-cache policy), not the client's own: their saving is a lever.
      if (!hinted && trace.promptCache) trace.receipt.cachePointsByGateway();
      const inputTokens = estimateInputTokens(callReq);
      const admission = await this.quota.admit({
        requestId: trace.requestId, tenant, feature: trace.feature, route: r, inputTokens, maxTokens,
        ...who,
        // A Flex call that may fall back to the standard tier is reserved at the standard price, the higher of the two.
        serviceTier: trace.flexFallback ? undefined : requestedServiceTier(callReq),
        batch: trace.batch !== null,
        underHold: trace.batch?.held === true,
        cacheWrites: hinted || trace.promptCache ? { hinted, policy: trace.promptCache ?? undefined } : undefined,
      });
      const reservation = hold(admission.reservation);
      trace.quotaAction = admission.action;
      // The cap the reservation priced: the client's, or one fitted to what the budget has left (x-llm-output-cap).
      const callMax = admission.maxTokens;
      if (admission.action === 'output_fitted') trace.outputCap = callMax ?? null;
      if (admission.route !== r) {
        checkServiceTier(req, admission.route, trace.serviceTierSource);
        r = carriable(admission.route, decoded);
      }
      // Commitment-first: committed models with no capacity left this minute step aside for the on-demand ones; the
      // first committed model still in the chain is counted at the request's bound.
      if (r.tier && this.deps.config.tiers.get(r.tier)?.mode === 'commitment-first') {
        const bound = inputTokens + steps.cap(r.chain[0], callMax);
        const now = this.deps.clock.now();
        r = this.commitments.admit(r, bound, now);
        if (r.chain[0].config.commitment) this.commitments.add(r.chain[0].id, now, bound);
      }
      trace.tier = r.tier;
      trace.routeReason = r.reason;

      const cascadeTier = cascadeTierOf(this.deps.config, r);
      // A non-streamed answer is also given up at the caller's answer deadline (a streamed one writes as it goes).
      const answerSignal = trace.stream ? inv.signal : anyAbort(inv.signal, inv.answerDeadline);
      // An answer kept for the cache is offered to the capture and the shadow tests too (the small-model path).
      const offer = (model: ResolvedModel, completion: ChatCompletion): void => {
        this.deps.capture?.offer({ requestId: trace.requestId, tenantId: tenant.id, consent: tenant.config.captureConsent === true, feature: trace.feature, model, request: req, completion });
        this.shadow?.offer({ tenantId: tenant.id, apiKeyId: inv.apiKeyId, feature: trace.feature, model, request: req, completion });
      };
      // Without capture or shadow tests (most gateways) the answer goes to the cache's store as it did.
      const keep: StoreAnswer = this.deps.capture || this.shadow
        ? async (model, completion, usage) => {
          offer(model, completion);
          await lookup.store(model, completion, usage);
        }
        : lookup.store;
      if (cascadeTier) return await cascaded(steps, trace, req, callReq, r, cascadeTier, callMax, reservation, answerSignal, keep);
      if (trace.stream) return await streamed(steps, trace, callReq, r, callMax, reservation, inv.signal, keep);

      const signal = answerSignal ?? new AbortController().signal;
      const done = await withFallback(
        this.deps, trace, r, signal,
        (model) => steps.atTier(trace, model, callReq, (q) => steps.provider(model).complete(steps.call(model, q, callMax, signal, trace))),
        (model) => steps.chargeTimeout(trace, model, callReq, callMax),
        (model) => steps.coverAttempt(trace, reservation, model, callReq, callMax),
      );
      const tierUsed = steps.serviceTierOf(trace, done.model, callReq, done.value.serviceTier);
      const line = steps.charge(trace, 'answer', done.model, callReq, { usage: done.value.usage, problem: done.value.usageProblem }, done.value.completion, tierUsed);
      trace.receipt.answered(line.usage);
      await steps.settle(reservation, trace);
      if (keep !== lookup.store) offer(done.model, done.value.completion);
      if (!line.estimated && !done.value.native) await lookup.store(done.model, done.value.completion, line.usage);
      const body = codec.json(done.value.completion, { model: done.model.id, usage: line.usage, native: done.value.native }, decoded);
      const record = steps.results.emit(trace, 200, null);
      return { kind: 'json', status: 200, headers: steps.results.headers(trace, record), body };
    });
  }

  /**
   * `POST /v1/embeddings`: the named embedding model (no routing: vectors of two models are not comparable, so there
   * is no fallback to another model, only retries of the same one), quota-checked on the input estimate, priced per
   * input token from the upstream's report, one usage record (`route_reason` embeddings, baseline = cost). Never throws.
   */
  embeddings(inv: ChatInvocation): Promise<GatewayResult> {
    return this.serve(inv, CHAT_CODEC, 'embeddings', async (trace, tenant, hold) => {
      const steps = this.steps;
      const req = parseEmbeddingsRequest(inv.body, inv.bodyBytes, this.deps.config.raw.server.maxBodyBytes);
      if (req.user) trace.endUser = this.endUser(tenant, req.user);
      const model = this.embeddingModel(tenant, req.model);
      const r: Route = { chain: [model], tier: null, reason: 'embeddings' };
      trace.routeReason = r.reason;
      trace.model = model;
      const inputTokens = estimateEmbeddingTokens(req);
      const admission = await this.quota.admit({ requestId: trace.requestId, tenant, feature: trace.feature, route: r, inputTokens, maxTokens: 0, noDowngrade: true,
        batch: trace.batch !== null, underHold: trace.batch?.held === true,
      });
      const reservation = hold(admission.reservation);
      trace.quotaAction = admission.action;
      const provider = steps.provider(model);
      const embed = provider.embed?.bind(provider);
      if (!embed) throw new InvalidRequestError(`Model '${model.id}' is on a ${model.provider.type} provider, which serves no embeddings.`, 'model', 'model_not_embedding');
      const signal = inv.signal ?? new AbortController().signal;
      const estimate = () => ({ ...ZERO_USAGE, inputTokens });
      const done = await withFallback(
        this.deps, trace, r, signal,
        (m) => {
          const upstream = steps.results.upstreamFor(m, trace.tenant);
          const called = upstream === m.config.upstreamModel ? m : { ...m, config: { ...m.config, upstreamModel: upstream } };
          return embed({ model: called, input: req.input, dimensions: req.dimensions, user: req.user, signal });
        },
        (m) => trace.receipt.timedOut(m, estimate()),
      );
      const line = trace.receipt.call({ kind: 'answer', model: done.model, reading: { usage: done.value.usage, problem: done.value.usageProblem }, estimate });
      trace.receipt.answeredAtCost(line.usage);
      await steps.settle(reservation, trace);
      const record = steps.results.emit(trace, 200, null);
      const body = {
        object: 'list',
        data: done.value.vectors.map((v, index) => ({ object: 'embedding', index, embedding: encodeEmbedding(v, req.encodingFormat) })),
        model: done.model.id,
        usage: { prompt_tokens: line.usage.inputTokens, total_tokens: line.usage.inputTokens },
      };
      return { kind: 'json', status: 200, headers: steps.results.headers(trace, record), body };
    });
  }

  /**
   * One request from trace to result: the tenant and feature resolved, then `handle`; any error becomes its answer
   * and its record, and a reservation `handle` took (`hold`) that is still open is settled at what the receipt holds.
   */
  private async serve(
    inv: ChatInvocation,
    codec: Codec,
    api: Trace['wire']['api'],
    handle: (trace: Trace, tenant: ResolvedTenant, hold: (r: Reservation | undefined) => Reservation | undefined) => Promise<GatewayResult>,
  ): Promise<GatewayResult> {
    const trace = this.newTrace(inv, { codec, api });
    let reservation: Reservation | undefined;
    try {
      const tenant = await this.tenants.tenantOf(inv.tenantId);
      this.identify(trace, tenant, inv.feature);
      return await handle(trace, tenant, (r) => (reservation = r));
    } catch (err) {
      if (reservation && !reservation.settled) await this.steps.settle(reservation, trace);
      return this.steps.results.errorResult(trace, err);
    }
  }

  /** The embedding model a request names: 404 when unknown, 400 for a chat model, 403 when the tenant may not use it. */
  private embeddingModel(tenant: ResolvedTenant, requested: string): ResolvedModel {
    const model = this.deps.config.models.get(requested);
    if (!model || model.config.kind !== 'embedding') {
      if (model || this.deps.config.tiers.has(requested) || requested === 'auto') {
        throw new InvalidRequestError(`'${requested}' is not an embedding model; name one of the config's embedding models (kind "embedding").`, 'model', 'model_not_embedding');
      }
      throw new NotFoundError(`The model '${requested}' does not exist or you do not have access to it.`, 'model');
    }
    if (!tenant.embeddingModels.has(model.id)) throw new PermissionDeniedError(`Tenant '${tenant.id}' may not use model '${model.id}'.`, 'model');
    return model;
  }

  private newTrace(inv: ChatInvocation, wire: Trace['wire']): Trace {
    const { clock } = this.deps;
    return {
      requestId: inv.requestId ?? this.deps.ids.requestId(),
      wire,
      startedAt: clock.now(),
      t0: clock.monotonic(),
      receipt: newReceipt(this.deps.config.baseline.price, inv.batch),
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
      serviceTier: null,
      batch: inv.batch ?? null,
      serviceTierSource: null,
      flexFallback: false,
      tierFellBackOn: null,
      attempts: 0,
      upstreamMs: 0,
      cacheError: null,
      cacheScore: null,
      cascade: null,
      quotaAction: 'none',
      promptCache: null,
      remainingMicros: undefined,
      outputCap: null,
    };
  }

  /** The tenant's team and the x-llm-feature header on the trace. */
  private identify(trace: Trace, tenant: ResolvedTenant, feature: string | undefined): void {
    trace.team = tenant.config.team ?? null;
    trace.feature = featureHeader(feature) ?? trace.feature;
  }

  /** The request's OpenAI `user`, hashed with the tenant so the same id at two tenants counts as two users. */
  private endUser(tenant: ResolvedTenant, user: string): string {
    return this.deps.sha256(`${tenant.id}\u0000${user}`).slice(0, 16);
  }

  /** Waits for side effects still in flight (alert publishes, buffered usage delivery); a Lambda handler calls it before returning. */
  async flush(): Promise<void> {
    // Shadow calls first: their records and scores go to the usage sink flushed next.
    await this.shadow?.flush();
    await Promise.all([this.deps.alerts.flush?.(), this.deps.usage.flush?.(), this.deps.capture?.flush()]);
  }

  /** On shutdown (llm-finops local): delivers what is in flight, then lets the semantic index save and release its files. */
  async close(): Promise<void> {
    await this.flush();
    this.deps.semantic?.index.close?.();
  }

  /** OpenAI `GET /v1/models`: the tiers and models the tenant may name, plus `auto`. */
  async models(tenantId: string): Promise<JsonResult> {
    const tenant = await this.tenants.tenantOf(tenantId);
    const data = [
      { id: 'auto', object: 'model', created: 0, owned_by: 'llm-finops-router' },
      ...[...tenant.allowedTiers].map((t) => ({ id: t, object: 'model', created: 0, owned_by: 'llm-finops-tier' })),
      ...[...tenant.allowedModels, ...tenant.embeddingModels].map((m) => ({ id: m, object: 'model', created: 0, owned_by: this.deps.config.models.get(m)!.provider.id })),
    ];
    return { kind: 'json', status: 200, headers: {}, body: { object: 'list', data } };
  }

  /**
   * `POST /v1/feedback`: an outcome for an earlier answer, appended to the usage log with the caller's tenant (a
   * tenant cannot file outcomes under another's name: training joins on request id and tenant).
   */
  async feedback(tenantId: string, body: string, bodyBytes: number): Promise<JsonResult> {
    const tenant = await this.tenants.tenantOf(tenantId);
    const f = parseFeedback(body, bodyBytes);
    if (f.model !== null && !this.deps.config.models.has(f.model)) throw new InvalidRequestError(`Unknown model '${f.model}'.`, 'model', 'model_not_found');
    this.deps.usage.feedback({ type: 'feedback', ts: new Date(this.deps.clock.now()).toISOString(), tenant: tenant.id, ...f });
    return { kind: 'json', status: 200, headers: {}, body: { object: 'feedback', request_id: f.request_id, score: f.score, recorded: true } };
  }

  /** `GET /v1/usage`: the tenant's own used, reserved and limit per window (UTC minute, day and month). */
  async usage(tenantId: string): Promise<JsonResult> {
    const tenant = await this.tenants.tenantOf(tenantId);
    let windows: Record<string, unknown>[];
    let policies: Record<string, unknown>[];
    try {
      [windows, policies] = await Promise.all([this.quota.usage(tenant), this.quota.policyUsage(tenant)]);
    } catch (err) {
      // The same answer chat gives while the store is down: 503, not a 500.
      throw new QuotaStoreUnavailableError({ cause: err });
    }
    return { kind: 'json', status: 200, headers: {}, body: { object: 'usage', tenant: tenant.id, team: tenant.config.team ?? null, windows, policies } };
  }

  /** A cache hit: costs only its embedding call (zero for the exact tier and the local embedder), charged to the quota. */
  private async fromCache(trace: Trace, tenant: ResolvedTenant, hit: CacheHit, who: RequestParties): Promise<GatewayResult> {
    const { entry } = hit;
    trace.cache = hit.kind;
    if (hit.score !== undefined) trace.cacheScore = Math.round(hit.score * 10_000) / 10_000;
    trace.model = this.deps.config.models.get(entry.modelId) ?? null;
    trace.provider = 'cache';
    trace.tier = entry.tier || trace.tier;
    trace.receipt.servedFromCache(entry.usage, trace.model ?? undefined);
    trace.remainingMicros = await this.quota.chargeUnreserved(`${trace.requestId}#hit`, tenant, trace.feature, trace.receipt.micros, { ...who, model: trace.model ?? undefined });
    const record = this.steps.results.emit(trace, 200, null);
    const headers = this.steps.results.headers(trace, record);
    const completion = { ...entry.completion, model: entry.modelId };
    if (!trace.stream) {
      return { kind: 'json', status: 200, headers, body: trace.wire.codec.json(completion, { model: entry.modelId, usage: entry.usage }, trace.wire.decoded!) };
    }
    return { kind: 'stream', status: 200, headers, body: this.steps.results.replay(completion, trace) };
  }

  /** The context step when a policy applies to the tenant and feature; a failure leaves the request as it was. */
  private async optimiseContext(req: ChatRequest, tenant: string, trace: Trace): Promise<ChatRequest> {
    const policy = contextPolicyFor(this.deps.config.raw.context.policies, tenant, trace.feature);
    if (!policy) return req;
    const embedder = this.deps.embedder;
    try {
      const out = await optimiseContext(req, policy, embedder ? async (texts) => (await embedder.embed(texts)).vectors : undefined);
      trace.receipt.contextTrimmed(Math.max(0, out.stats.bytesIn - out.stats.bytesOut), out.stats.bytesOut);
      return out.request;
    } catch {
      return req;
    }
  }
}

/**
 * A non-standard service tier (priority, flex) must be priced for every model of the route that forwards it, else
 * the gateway would bill one rate and record another: refused with the models that lack a price.
 */
/**
 * The route without the models that could not carry the request (a Messages request with documents cannot go to
 * an OpenAI-compatible server); 400 naming what cannot be carried when no model is left.
 */
function carriable(r: Route, decoded: Decoded): Route {
  if (!decoded.lossy.length) return r;
  const chain = r.chain.filter((m) => carries(m, decoded));
  if (chain.length === r.chain.length) return r;
  if (!chain.length) {
    throw new InvalidRequestError(
      `This request cannot be translated for ${r.chain.map((m) => `'${m.id}' (${m.provider.type})`).join(', ')} without loss: ${decoded.lossy.join('; ')}. ` +
        `Route it to a model whose provider speaks the ${decoded.native?.api} API natively, or leave those out.`,
      'model',
      'untranslatable_request',
    );
  }
  return { ...r, chain };
}

/**
 * A tier the client asked for must be priced on every model that would receive it: the gateway refuses what it cannot
 * cost (400). A tier a policy chose is sent only where priced; other models run at standard.
 */
function checkServiceTier(req: ChatRequest, r: Route, source: Trace['serviceTierSource']): void {
  const tier = requestedServiceTier(req);
  if (tier === undefined || source !== 'request') return;
  const unpriced = r.chain.filter((m) => takesServiceTier(m, tier) && m.price && !m.price.serviceTiers?.[tier]);
  if (!unpriced.length) return;
  throw new InvalidRequestError(
    `service_tier '${tier}' has no price for ${unpriced.map((m) => `'${m.id}'`).join(', ')}; the gateway refuses what it cannot cost. ` +
      `Remove service_tier, or add a '${tier}' row to the model's price (prices.<id>.serviceTiers.${tier}).`,
    'service_tier',
    'unsupported_service_tier',
  );
}

/** A max_tokens the named model cannot give: 400, before anything is reserved (a tier's models clamp it to their own maximum). */
function checkMaxTokens(maxTokens: number | undefined, r: Route): void {
  if (maxTokens !== undefined && r.reason === 'explicit-model' && maxTokens > r.chain[0].maxOutputTokens) {
    throw new InvalidRequestError(
      `max_tokens is too large: ${maxTokens}. Model '${r.chain[0].id}' supports at most ${r.chain[0].maxOutputTokens} completion tokens.`,
      'max_tokens',
      'out_of_range',
    );
  }
}

/** A request's receipt: a line of a batch prices every call at the batch rates. */
function newReceipt(baseline: TokenPrice, batch: ChatInvocation['batch']): Receipt {
  const r = new Receipt(baseline);
  if (batch) r.batchLine();
  if (batch?.simulated) r.flag('batch_simulated');
  return r;
}

/** One signal aborted by whichever of the given ones aborts first (with its reason), or undefined for none. */
function anyAbort(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length > 1 ? AbortSignal.any(present) : present[0];
}

/** The parties a request counts for beyond its tenant and feature (policies per end user, session, API key). */
interface RequestParties {
  readonly endUser?: string;
  readonly session?: string;
  readonly apiKey?: string;
}

/**
 * The client's session, for policies counted per session: `x-llm-session-id`, else the session header a coding agent
 * sends on its own (seen 2026-12-06: Claude Code 2.1.328 `x-claude-code-session-id`, Codex 0.169.1 `session-id`, both
 * a UUID per session). Bounded and plain, or a 400: it becomes part of a counter key.
 */
export function sessionOf(header: ((name: string) => string | undefined) | undefined): string | undefined {
  for (const name of ['x-llm-session-id', 'x-claude-code-session-id', 'session-id']) {
    const v = header?.(name);
    if (v === undefined || v === '') continue;
    if (v.length > 128 || !/^[A-Za-z0-9._:@-]+$/.test(v)) {
      throw new InvalidRequestError(`${name}: expected up to 128 letters, digits and ._:@-, got ${v.length > 128 ? `${v.length} characters` : `'${v}'`}.`, null, 'invalid_session_id');
    }
    return v;
  }
  return undefined;
}
