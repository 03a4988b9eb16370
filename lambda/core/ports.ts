/**
 * Every outside thing the core needs, named as a port. Adapters in lambda/adapters implement them; handlers wire
 * adapters into the core. Nothing here may import an SDK, the network or the file system.
 */
import type { ResolvedModel } from './config/resolve';
import type { PolicyConfig } from './config/schema';
import type { NativeAnswer, NativeRequest, NativeStreamEvent } from './formats/wire';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from './openai/types';
import type { TokenUsage } from './pricing/prices';
import type { FeedbackRecord, UsageRecord } from './usage';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** High-resolution monotonic milliseconds, for durations. */
  monotonic(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface IdSource {
  requestId(): string;
  /** Uniform in [0, 1), for retry jitter. */
  random(): number;
}

/** One attempt against one model. */
export interface ProviderCall {
  readonly model: ResolvedModel;
  readonly request: ChatRequest;
  /**
   * Output-token cap to send upstream: the client's, else the reservation's (quota.outputTokenCap), never above the
   * model's maximum, so no answer can cost more than was reserved.
   */
  readonly maxTokens: number;
  /** Aborted when the client goes away; the adapter adds its own per-attempt timeout. */
  readonly signal: AbortSignal;
  /**
   * The client's own body, when the provider speaks its format (capabilities.nativeApis): sent as it came, with the
   * upstream model and `maxTokens` in place, and answered with `native` (JSON) or native stream events.
   */
  readonly native?: NativeRequest;
}

export interface ProviderResponse {
  readonly completion: ChatCompletion;
  /** Undefined when the upstream reported none (some self-hosted servers) or a bad one; the core then estimates and flags it. */
  readonly usage: TokenUsage | undefined;
  /** What was wrong with the upstream's usage report (a negative, non-integer or inconsistent count). */
  readonly usageProblem?: string;
  /** The service tier the upstream says it processed the request at (OpenAI `service_tier`). */
  readonly serviceTier?: string;
  /** The upstream's own answer to a native call; `completion` is then its chat view (estimates, the cache). */
  readonly native?: NativeAnswer;
}

/**
 * A usage report inside a stream: `usage` when it passed the checks, else `problem`. A stream may report more than
 * once (some servers send usage on the first chunk, others on every chunk): the last report wins.
 */
export interface ProviderUsageEvent {
  readonly type: 'usage';
  readonly usage?: TokenUsage;
  readonly problem?: string;
  readonly serviceTier?: string;
}

export type ProviderStreamEvent = {
  readonly type: 'chunk';
  readonly chunk: ChatCompletionChunk;
  /**
   * The upstream's JSON text of this chunk, when it carried no usage report (none, or null): the gateway may forward
   * it as it came (its model name rewritten in place) instead of serialising the parsed chunk again.
   */
  readonly raw?: string;
} | ProviderUsageEvent | NativeStreamEvent;

export type ProviderErrorKind = 'throttled' | 'server' | 'timeout' | 'network' | 'auth' | 'client';

/** An upstream failure classified for the fallback policy. */
/** Marks every ProviderError, whichever copy of this module made it (see ProviderError[Symbol.hasInstance]). */
const PROVIDER_ERROR = Symbol.for('cdk-llm-finops.ProviderError');

export class ProviderError extends Error {
  /**
   * `err instanceof ProviderError` holds for an error made by a second copy of this module: a provider loaded as a
   * lazy chunk of the router bundle (Anthropic, SageMaker) carries its own copy, whose failures the fallback policy
   * must still classify.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ProviderError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [PROVIDER_ERROR]?: unknown })[PROVIDER_ERROR] === true;
  }

  constructor(
    message: string,
    readonly kind: ProviderErrorKind,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
    Object.defineProperty(this, PROVIDER_ERROR, { value: true });
  }

  /** Worth another attempt or the next model of the chain. */
  get retryable(): boolean {
    return this.kind !== 'client';
  }
}

export interface ChatProvider {
  complete(call: ProviderCall): Promise<ProviderResponse>;
  /** Yields content chunks (without usage) and exactly one usage event when the upstream reports it. */
  stream(call: ProviderCall): AsyncIterable<ProviderStreamEvent>;
  /** `POST /v1/embeddings` on this provider; absent where the provider serves none (SageMaker endpoints). */
  embed?(call: EmbeddingCall): Promise<EmbeddingResponse>;
}

export interface EmbeddingCall {
  readonly model: ResolvedModel;
  /** Texts, or token-id arrays (only providers that take them; others refuse with a client error). */
  readonly input: readonly string[] | readonly (readonly number[])[];
  readonly dimensions?: number;
  readonly user?: string;
  readonly signal: AbortSignal;
}

export interface EmbeddingResponse {
  /** One vector per input, in input order, checked (finite numbers, one size). */
  readonly vectors: number[][];
  /** Input tokens the upstream billed; undefined when it reported none or a bad count (then estimated and flagged). */
  readonly usage: TokenUsage | undefined;
  readonly usageProblem?: string;
}

/**
 * A settlement whose actual amounts are durably recorded but not yet applied to every counter (a write failed or the
 * process is dying): the store's sweep completes it. Not a loss: the record says `quota_action: settle_deferred`.
 */
export class SettleDeferredError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('settlement recorded; counters complete at the next sweep', options);
    this.name = 'SettleDeferredError';
  }
}

/** A quota counter touched by one request. `limit` undefined means tracked but unlimited. */
export interface QuotaCounterSpec {
  readonly key: string;
  readonly limit?: number;
  readonly amount: number;
  /** When the counter's window has ended and it may be deleted (DynamoDB TTL). */
  readonly expiresAtMs: number;
}

export interface QuotaSettlement {
  readonly key: string;
  readonly reserved: number;
  readonly actual: number;
}

/** A counter's state: `committed` = used + reserved; `reserved` = held by open reservations. */
export interface CounterState {
  readonly committed: number;
  readonly reserved: number;
}

export type ReserveOutcome =
  | { readonly ok: true; readonly committed: ReadonlyMap<string, number> }
  | { readonly ok: false; readonly key: string; readonly committed: number };

/** Limits as stored: a field set to null removes the config's limit, an absent field keeps it. */
export interface StoredLimits {
  readonly dailyUsd?: number | null;
  readonly monthlyUsd?: number | null;
  readonly dailyTokens?: number | null;
  readonly monthlyTokens?: number | null;
  readonly requestsPerMinute?: number | null;
}

export interface KillSwitch {
  /** block: premium tiers answer 429; downgrade: premium requests go to the best non-premium tier. */
  readonly mode: 'block' | 'downgrade';
  readonly reason?: string;
  readonly setAt: string;
}

/** Run-time controls kept in the store, so operators change them without a redeploy. */
export interface QuotaControls {
  readonly globalLimits?: StoredLimits;
  readonly tenantLimits?: StoredLimits;
  readonly featureLimits?: StoredLimits;
  readonly globalKillSwitch?: KillSwitch;
  readonly tenantKillSwitch?: KillSwitch;
  /** The tenant's own policies (`quota policies`, `tenants create --policies`), beside the config's; validated on write and read. */
  readonly tenantPolicies?: readonly PolicyConfig[];
}

/** Whose limits or kill switch: global (no tenant), a tenant, or a tenant's feature. */
export interface QuotaScope {
  readonly tenant?: string;
  readonly feature?: string;
}

/**
 * Quota counters, reservations and controls. One contract suite (test/lambda/adapters/quota-store.contract.ts)
 * holds every adapter to the same behaviour.
 */
export interface QuotaStore {
  /**
   * Adds every amount to its counter, all or nothing: refuses if any limited counter would pass its limit, rolling
   * back the counters already raised. Records the reservation so that an unsettled one can expire.
   */
  reserve(reservationId: string, counters: readonly QuotaCounterSpec[], reservationExpiresAtMs: number): Promise<ReserveOutcome>;
  /**
   * Closes the reservation: each counter moves from `reserved` to `actual` (0 releases it). If the reservation had
   * already expired and been swept, only `actual` is added. Returns the committed values after the change.
   */
  settle(reservationId: string, entries: readonly QuotaSettlement[]): Promise<ReadonlyMap<string, number>>;
  /** Current state per key; absent keys read as zero. */
  read(keys: readonly string[]): Promise<ReadonlyMap<string, CounterState>>;
  /** Releases reservations that expired before `nowMs` (a crashed or timed-out request); returns how many. */
  sweepExpired(nowMs: number): Promise<number>;
  /** True exactly once per counter and threshold, however many callers race. */
  claimAlert(counterKey: string, threshold: number, expiresAtMs: number): Promise<boolean>;
  getControls(tenant: string, feature: string): Promise<QuotaControls>;
  /** Stores limits for a scope; null deletes them (back to config). */
  putLimits(scope: QuotaScope, limits: StoredLimits | null): Promise<void>;
  /** Sets (or with null clears) the kill switch, global or for one tenant. */
  setKillSwitch(scope: QuotaScope, state: KillSwitch | null): Promise<void>;
  /** Stores a tenant's own policies (validated by the caller: parseStoredPolicies); null deletes them. */
  putPolicies(tenant: string, policies: readonly PolicyConfig[] | null): Promise<void>;
}

/** A tenant created at run time (`llm-finops tenants create`), beside the config's. Keys are kept as SHA-256 hashes. */
export interface StoredTenant {
  readonly id: string;
  readonly team: string | null;
  /** null: every tier (or model) of the config, as for a config tenant without the field. */
  readonly allowedTiers: readonly string[] | null;
  readonly allowedModels: readonly string[] | null;
  readonly keyHashes: readonly string[];
  readonly createdAt: string;
  /** The tenant agreed that its exchanges may be kept as training data (config `captureConsent`); absent: it did not. */
  readonly captureConsent?: boolean;
}

/** Run-time tenants and their key hashes. One contract suite holds every adapter (tenant-directory.contract.ts). */
export interface TenantDirectory {
  /** The tenant a key hash belongs to, if the key is live. */
  tenantForKey(keyHash: string): Promise<string | undefined>;
  getTenant(id: string): Promise<StoredTenant | undefined>;
  /** Creates the tenant with its first key; refuses (TenantExistsError) an id that exists. */
  createTenant(tenant: StoredTenant): Promise<void>;
  listTenants(): Promise<StoredTenant[]>;
  addKey(id: string, keyHash: string): Promise<void>;
  /** The key stops working at once (authorizer caches aside). */
  revokeKey(id: string, keyHash: string): Promise<void>;
  /** Gives or withdraws the tenant's consent to capture (gateways see it within their tenant cache's lifetime). */
  setCaptureConsent(id: string, consent: boolean): Promise<void>;
}

export class TenantExistsError extends Error {
  constructor(readonly tenantId: string) {
    super(`tenant '${tenantId}' already exists`);
    this.name = 'TenantExistsError';
  }
}

export interface CachedCompletion {
  readonly completion: ChatCompletion;
  readonly usage: TokenUsage;
  readonly modelId: string;
  readonly tier: string;
  readonly storedAtMs: number;
}

export interface ExactCache {
  get(key: string): Promise<CachedCompletion | undefined>;
  set(key: string, value: CachedCompletion, ttlMs: number): Promise<void>;
}

export interface Embeddings {
  /** One L2-normalised vector per input text, in order. */
  readonly vectors: Float32Array[];
  /** Input tokens the embedding provider billed (0 for the local embedder). */
  readonly inputTokens: number;
}

export interface Embedder {
  readonly id: string;
  readonly dimensions: number;
  embed(texts: readonly string[]): Promise<Embeddings>;
}

/** What the semantic tier stores: the prompt it embedded (for the false-hit guards) and the answer. */
export interface SemanticEntry {
  readonly prompt: string;
  readonly value: CachedCompletion;
}

export interface SemanticCandidate extends SemanticEntry {
  /** Cosine similarity in [-1, 1] (an adapter whose engine scores differently converts). */
  readonly score: number;
}

/**
 * A vector index partitioned by tenant and conversation context: a search never returns another tenant's entry or
 * an entry stored under another system prompt and earlier turns. One contract suite holds every adapter to this
 * (test/lambda/adapters/semantic-index.contract.ts).
 */
export interface SemanticIndex {
  /** Up to `limit` unexpired entries with score >= minScore, best first. */
  search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]>;
  put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void>;
  /** Saves what persists and releases files (the embedded index's graphs and lock); the local gateway calls it on shutdown. */
  close?(): void;
}

/**
 * Operational events that are not a request's record: the quota store going down and coming back, settlements
 * applied late. One JSON line each (`_type` names it), for the function's log and a metric filter. Must not throw.
 */
export interface OperationsLog {
  write(line: { readonly _type: string } & Record<string, unknown>): void;
}

export interface UsageSink {
  /** Must not throw into the request path; adapters log their own failures. */
  write(record: UsageRecord): void;
  /** Appends an outcome for an earlier request to the same log. */
  feedback(record: FeedbackRecord): void;
  /** Delivers what is buffered (a Lambda handler calls it after the response has ended, before it returns). */
  flush?(): Promise<void>;
}

export interface QuotaAlert {
  /**
   * quota_threshold: committed passed a share of the limit; quota_forecast: at the recent rate it runs out before the
   * window ends; quota_spike: the hour's spend rate passed spikeFactor x its trailing average; quota_brownout: a
   * policy's brownout stage began (stage).
   */
  readonly type: 'quota_threshold' | 'quota_forecast' | 'quota_spike' | 'quota_brownout';
  /** quota_brownout: which stage began. */
  readonly stage?: 'downgrade' | 'throttle';
  /** quota_spike: the trailing hourly average the rate is compared with (the counter's unit per hour). */
  readonly trailingPerHour?: number;
  readonly tenant: string;
  readonly feature: string | null;
  readonly scope: 'tenant' | 'feature' | 'global' | 'policy';
  readonly unit: 'usd' | 'tokens';
  readonly window: 'minute' | 'hour' | 'day' | 'week' | 'month' | 'total' | 'period';
  /** A policy's counter (scope policy): the policy, what it counts per, and the value that crossed the threshold. */
  readonly policy?: { readonly id: string; readonly per: string; readonly value: string };
  /** quota_forecast: when the limit runs out at `ratePerHour` (the counter's unit per hour, over the last hour or more). */
  readonly exhaustsAt?: string;
  readonly ratePerHour?: number;
  readonly period: string;
  readonly counter: string;
  readonly threshold: number;
  /** In the counter's unit: micro-dollars or tokens. */
  readonly committed: number;
  readonly limit: number;
  readonly ts: string;
}

/**
 * switch_back: a feature switched to a small model (`routing.features`) went back to its premium model because the
 * shadow agreement of its answers fell below the policy's `switchBack.below` (shadow/switch-guard.ts).
 */
export interface SwitchBackAlert {
  readonly type: 'switch_back';
  readonly feature: string;
  /** The premium model the feature is sent to until `retryAt`. */
  readonly model: string;
  /** Mean agreement over the last `samples` shadow scores. */
  readonly agreement: number;
  readonly samples: number;
  readonly below: number;
  readonly retryAt: string;
  /** The claim that keeps it to one alert per feature and retry period across instances. */
  readonly counter: string;
  readonly ts: string;
}

/** Everything an AlertSink delivers. */
export type Alert = QuotaAlert | SwitchBackAlert;

export interface AlertSink {
  /** Must not throw or block the request. */
  publish(alert: Alert): void;
  /** Waits for publishes still in flight (a Lambda handler calls it before it returns). */
  flush?(): Promise<void>;
}

/** SHA-256 hex of a UTF-8 string; a port because hashing is the runtime's (node:crypto, WebCrypto). */
export type Sha256 = (text: string) => string;
