import { InvalidRequestError } from './errors';
import type { Savings } from './pipeline/receipt';

/** A feature tag (x-llm-feature, outcome rows): 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit. */
export const FEATURE_TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The feature of a request without an x-llm-feature header. */
export const DEFAULT_FEATURE = 'default';

/** The x-llm-feature header's feature, undefined when absent or empty; 400 when it is not a feature tag. */
export function featureHeader(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!FEATURE_TAG.test(value)) {
    throw new InvalidRequestError('Invalid x-llm-feature header: 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit.', 'x-llm-feature');
  }
  return value;
}

/** The one usage record per request (ARCHITECTURE section 3): the source for Athena, the dashboard and replay. */
export interface UsageRecord {
  readonly ts: string;
  readonly request_id: string;
  /** The front door: chat, messages (Anthropic Messages API), responses (OpenAI Responses API), embeddings, or batch (a line of a batch). */
  readonly api: 'chat' | 'messages' | 'responses' | 'embeddings' | 'batch';
  readonly tenant: string;
  readonly feature: string;
  readonly team: string | null;
  /** The request's end-user id (chat/Responses `user` or `safety_identifier`, Messages `metadata.user_id`), hashed with the tenant (16 hex characters): counts active users, reveals none. */
  readonly end_user: string | null;
  readonly provider: string | null;
  /** bedrock, sagemaker, openai-compatible, azure-openai: what attribution needs to tell AWS spend from external. */
  readonly provider_type: string | null;
  readonly model: string | null;
  /** The provider's model id: Bedrock model / profile id, SageMaker endpoint name, external model name. */
  readonly upstream_model: string | null;
  readonly tier: string | null;
  readonly route_reason: string | null;
  readonly cache: 'hit-exact' | 'hit-semantic' | 'miss' | 'bypass' | 'none';
  readonly stream: boolean;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cache_read_tokens: number;
  readonly cache_write_tokens: number;
  readonly cost_usd: number;
  readonly cost_micros: number;
  readonly baseline_cost_usd: number;
  readonly baseline_cost_micros: number;
  /**
   * tokens: priced per token; instance_hour: the SageMaker instance pays, attributed from CUR later; commitment:
   * provisioned throughput or PTU hours pay (zero at the margin), apportioned by tokens later.
   */
  readonly cost_basis: 'tokens' | 'instance_hour' | 'commitment' | 'none';
  /** True when some tokens were estimated (no usage reported, a bad report, a timeout, text past the last report). */
  readonly usage_estimated: boolean;
  /**
   * Why the cost needs a second look, sorted: usage_missing, usage_invalid, output_estimated, timeout_estimated,
   * over_reservation, output_over_cap, service_tier_stripped, service_tier_unpriced, cache_read_unpriced, cache_write_1h_derived,
   * long_context. Empty for a request priced from a clean report at standard rates.
   */
  readonly usage_flags: readonly string[];
  /** The first bad usage report an upstream sent, verbatim (e.g. "completion_tokens is negative (-50)"); null otherwise. */
  readonly usage_problem: string | null;
  /** The service tier the answer was priced at (OpenAI priority/flex); null when the client asked for none. */
  readonly service_tier: string | null;
  /** A line of a batch: the batch's id and the line's custom_id (null for live requests). */
  readonly batch_id: string | null;
  readonly batch_custom_id: string | null;
  readonly attempts: number;
  readonly latency_ms: number;
  readonly upstream_ms: number;
  readonly overhead_ms: number;
  readonly status: number;
  readonly error_type: string | null;
  /** A cache backend failure the request survived as a miss. */
  readonly cache_error: string | null;
  /** What the quota step did: none, downgraded, shadow_exceeded, kill_switch_downgraded, store_unavailable, settle_failed. */
  readonly quota_action: string;
  /** Input tokens the context step removed (see docs/context.md), and their price at the model's input rate. */
  readonly context_tokens_saved: number;
  readonly context_saved_usd: number;
  /** Input tokens of the semantic tier's embedding call; its cost is part of cost_usd (on a hit, all of it). */
  readonly embedding_tokens: number;
  /** Cosine similarity of a semantic hit; null otherwise. */
  readonly cache_score: number | null;
  /** A cascade tier's calls in order, each with its cost (their sum is cost_usd); null for other tiers. */
  readonly cascade: readonly CascadeStep[] | null;
  /**
   * What each lever saved, micro-dollars, summing to baseline_cost_micros - cost_micros (the counterfactuals: Savings in
   * pipeline/receipt.ts, and docs/savings.md). Absent from records written before it existed.
   */
  readonly savings?: Savings;
}

/**
 * An outcome for a request, sent by the application (`POST /v1/feedback`) or an operator (`llm-finops feedback`),
 * written to the same usage log. `llm-finops router outcomes` joins it with its usage record (same request id and
 * tenant) into training rows for the learned router.
 */
export interface FeedbackRecord {
  readonly type: 'feedback';
  readonly ts: string;
  readonly request_id: string;
  readonly tenant: string;
  /** Quality of the answer in [0, 1] (thumbs up 1, down 0, or a graded score). */
  readonly score: number;
  /** The model that answered, when the client knows it (x-llm-model); else taken from the usage record. */
  readonly model: string | null;
  /** The prompt, when the client sends it: needed for training rows, never stored by the gateway otherwise. */
  readonly prompt: string | null;
}

export interface CascadeStep {
  readonly model: string;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_micros: number;
  readonly accepted: boolean;
  /** Why the answer was rejected (the failing check), null when accepted. */
  readonly reason: string | null;
}
