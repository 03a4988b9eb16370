import type { Capture } from '../capture/capture';
import type { ResolvedConfig, ResolvedModel } from '../config/resolve';
import type { Verifier } from '../cache/verifier';
import { GatewayError } from '../errors';
import type { ChatCompletion } from '../openai/types';
import type { Codec, CodecSource, Decoded, HeaderReader } from '../formats/wire';
import type {
  AlertSink,
  ChatProvider,
  Clock,
  Embedder,
  ExactCache,
  IdSource,
  OperationsLog,
  QuotaStore,
  SemanticIndex,
  Sha256,
  TenantDirectory,
  UsageSink,
} from '../ports';
import type { TokenUsage } from '../pricing/prices';
import type { QuotaAction } from '../quota/guard';
import type { LearnedRouter } from '../routing/learned';
import type { CascadeStep, UsageRecord } from '../usage';
import type { Receipt } from './receipt';

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
  /** Operational events (quota store outages, late settlements); none when absent. */
  readonly ops?: OperationsLog;
  /** Training data for the small-model path (config `capture`); none when no feature opted in. */
  readonly capture?: Capture;
  /** The Messages and Responses front doors (adapters/wiring.ts loads them lazily); without them those routes answer 404. */
  readonly codecs?: CodecSource;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly sha256: Sha256;
  /** Sampling of capture and shadow tests; Math.random when absent. */
  readonly random?: () => number;
}

export interface ChatInvocation {
  /** Resolved by the caller: the authorizer context (Lambda) or `authenticate` (local). Never a client header. */
  readonly tenantId: string;
  /** The API key's id (apiKeyIdOf), resolved with the tenant; for policies per API key. */
  readonly apiKeyId?: string;
  readonly feature?: string;
  readonly cacheBypass?: boolean;
  readonly body: string;
  readonly bodyBytes: number;
  readonly requestId?: string;
  /** Aborted when the client disconnects. */
  readonly signal?: AbortSignal;
  /**
   * Aborted, with a GatewayError as its reason, when a non-streamed answer must be given up (the Lambda handler's: API
   * Gateway's 5-minute idle timeout). A streamed answer writes as it goes and ignores it.
   */
  readonly answerDeadline?: AbortSignal;
  /** The request's headers (lower-case names), for what a format reads from them (anthropic-version, anthropic-beta). */
  readonly header?: HeaderReader;
  /**
   * A line of a batch, set by the batch runner (never from a client's input): priced and reserved at the batch rates,
   * recorded with `api: batch`, the batch id and the line's custom_id.
   */
  readonly batch?: BatchLineRef;
  /**
   * A shadow call's model (set by the shadow tests, never from a client's input): the operator's policy chose it, so
   * the tenant may use it for this call whatever its allowedModels; quotas and budgets still apply.
   */
  readonly shadowModel?: string;
}

/** Which batch a request is a line of. */
export interface BatchLineRef {
  readonly id: string;
  readonly customId: string;
  /** The batch's whole reservation is held (BatchHolds): the line is counted, not checked against the limits again. */
  readonly held?: boolean;
  /** Sent as a live call by the local simulator, not answered by a provider's batch job (flag batch_simulated). */
  readonly simulated?: boolean;
}

/** The request's wire format: its codec and what it decoded (set once the body parsed). */
export interface Wire {
  readonly codec: Codec;
  /** As the usage record names it: the codec's, or `embeddings`. */
  readonly api: 'chat' | 'messages' | 'responses' | 'embeddings';
  decoded?: Decoded;
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

export type CacheStatus = UsageRecord['cache'];

/** Mutable facts gathered along the request, turned into exactly one UsageRecord. Money lives on the receipt. */
export interface Trace {
  readonly requestId: string;
  /** The front door the request came through; its codec shapes every answer and error. */
  readonly wire: Wire;
  readonly startedAt: number;
  readonly t0: number;
  readonly receipt: Receipt;
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
  /** The service tier the answer was priced at, when the client or a policy asked for one. */
  serviceTier: string | null;
  /** The batch this request is a line of (priced at batch rates), else null. */
  batch: BatchLineRef | null;
  /** Who asked for the request's service tier: the client (service_tier) or a serviceTiers policy; null when none. */
  serviceTierSource: 'request' | 'policy' | null;
  /** The policy lets a throttled Flex call run again at the standard tier. */
  flexFallback: boolean;
  /** The model whose answer came from such a second call at the standard tier (the last attempt's), else null. */
  tierFellBackOn: ResolvedModel | null;
  attempts: number;
  upstreamMs: number;
  /** A cache backend failure; the request went on as a miss. */
  cacheError: string | null;
  cacheScore: number | null;
  /** A cascade tier's calls, in order; null otherwise. */
  cascade: CascadeStep[] | null;
  quotaAction: QuotaAction;
  /** Bytes of prompt text the context step removed, and the bytes it left. */
  /** The automatic prompt-cache policy's TTL for this request (promptCaching.policies), or null when none applies. */
  promptCache: '5m' | '1h' | null;
  /** Remaining USD after settlement (undefined: no USD limit, or unknown). */
  remainingMicros: number | undefined;
  /** When a USD limit runs out at this hour's spend rate, before its window resets (x-llm-quota-runs-out-at). */
  runsOutAtMs?: number;
  /** The output cap the quota step fitted to the budget (quota_action output_fitted), sent as x-llm-output-cap. */
  outputCap: number | null;
}

/** Stores a complete answer in the caches the request was looked up in (a no-op unless it was a miss). */
export type StoreAnswer = (model: ResolvedModel, completion: ChatCompletion, usage: TokenUsage) => Promise<void>;

export class ClientClosedError extends GatewayError {
  constructor() {
    super('Client closed the request.', 499, 'invalid_request_error', 'client_closed');
  }
}
