import type { ResolvedModel } from '../config/resolve';
import type { ServiceTierPolicyConfig } from '../config/schema';
import { InvalidRequestError } from '../errors';
import type { ChatRequest } from '../openai/types';
import { scopedPolicyFor } from '../context/policy';
import { STANDARD_SERVICE_TIERS } from '../pricing/prices';

/** Providers that take the body's `service_tier` as it is (OpenAI and servers that speak its API). */
const TIER_FORWARDING = new Set(['openai-compatible', 'azure-openai']);

/**
 * Bedrock's tiers a request may ask for (ServiceTier.type: priority | default | flex | reserved; reserved is a
 * commitment, not a per-request choice). https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ServiceTier.html
 */
export const BEDROCK_SERVICE_TIERS: ReadonlySet<string> = new Set(['flex', 'priority']);

/**
 * Whether a model receives this (non-standard) tier: OpenAI-compatible and Azure OpenAI providers take any tier in the
 * body; Bedrock takes flex and priority, and only for a model with a price row for the tier (a model Bedrock does not
 * offer the tier for would fail with a ValidationException, and one the gateway cannot price is not sent it).
 */
export function takesServiceTier(model: ResolvedModel, tier: string): boolean {
  if (TIER_FORWARDING.has(model.provider.type)) return true;
  return model.provider.type === 'bedrock' && BEDROCK_SERVICE_TIERS.has(tier) && model.price?.serviceTiers?.[tier] !== undefined;
}

/** Whether a provider reports the tier it served at (OpenAI's `service_tier`, Bedrock's `serviceTier`). */
export function reportsServiceTier(model: ResolvedModel): boolean {
  return TIER_FORWARDING.has(model.provider.type) || model.provider.type === 'bedrock';
}

/** The request's service tier, when it is not a standard one. */
export function requestedServiceTier(req: ChatRequest): string | undefined {
  const t = req.service_tier;
  return typeof t === 'string' && !STANDARD_SERVICE_TIERS.has(t) ? t : undefined;
}

/** The request as the service-tier policy has it: its tier, who chose it, and whether a throttled Flex call may fall back. */
export interface TierDecision {
  readonly request: ChatRequest;
  readonly source: 'request' | 'policy' | null;
  readonly flexFallback: boolean;
}

/**
 * Applies the most specific serviceTiers policy (tenant+feature, tenant, feature, global): the policy's tier, unless
 * the request asks for one of the tiers it allows (`default` and `standard` ask for the standard tier; `auto` and no
 * field leave the choice to the policy). A tier the policy does not allow is refused (400) rather than silently
 * changed. Without a policy the request's own tier stands, as before.
 */
export function decideServiceTier(req: ChatRequest, policies: readonly ServiceTierPolicyConfig[], tenant: string, feature: string): TierDecision {
  const asked = typeof req.service_tier === 'string' ? req.service_tier : undefined;
  const policy = scopedPolicyFor(policies, tenant, feature);
  if (!policy) return { request: req, source: requestedServiceTier(req) !== undefined ? 'request' : null, flexFallback: false };
  const allowed: readonly string[] = policy.allowRequest;
  const askedTier = asked === undefined || asked === 'auto' ? undefined : asked === 'standard' ? 'default' : asked;
  if (askedTier !== undefined && askedTier !== policy.tier && !allowed.includes(askedTier)) {
    throw new InvalidRequestError(
      `service_tier '${asked}' is not allowed here: the service-tier policy for tenant '${tenant}'${feature ? ` and feature '${feature}'` : ''} sets '${policy.tier}' ` +
        `and lets a request ask for ${allowed.length ? allowed.map((t) => `'${t}'`).join(', ') : 'no other tier'}.`,
      'service_tier',
      'service_tier_not_allowed',
    );
  }
  const tier = askedTier ?? policy.tier;
  const source = askedTier !== undefined && askedTier !== policy.tier ? 'request' : 'policy';
  const { service_tier: _drop, ...rest } = req;
  const request = (tier === 'default' ? rest : { ...rest, service_tier: tier }) as ChatRequest;
  return { request, source: tier === 'default' ? null : source, flexFallback: tier === 'flex' && policy.fallbackToDefault };
}
