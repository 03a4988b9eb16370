import type { ResolvedConfig, ResolvedModel, ResolvedTenant, ResolvedTier } from '../config/resolve';
import { InvalidRequestError, NotFoundError, PermissionDeniedError } from '../errors';
import type { ChatRequest } from '../openai/types';
import { lastUserText } from '../cache/keys';
import { scoreComplexity } from './heuristic';
import type { LearnedRouter } from './learned';
import type { SwitchedBack } from '../shadow/switch-guard';

/** What a switched feature's route reason says while its guard has sent it back (`distill report` counts these). */
export const SWITCHED_BACK = ' (switched back:';

export interface Route {
  /** Models to try in order (the fallback chain). */
  readonly chain: readonly ResolvedModel[];
  readonly tier: string | null;
  readonly reason: string;
}

function pickAllowedTier(config: ResolvedConfig, tenant: ResolvedTenant, wanted: ResolvedTier): { tier: ResolvedTier; note: string } | undefined {
  if (tenant.allowedTiers.has(wanted.name)) return { tier: wanted, note: '' };
  const order = config.thresholds.map((t) => t.tier);
  const idx = order.findIndex((t) => t.name === wanted.name);
  for (let i = idx - 1; i >= 0; i--) if (tenant.allowedTiers.has(order[i].name)) return { tier: order[i], note: ' (capped by tenant)' };
  for (let i = idx + 1; i < order.length; i++) if (tenant.allowedTiers.has(order[i].name)) return { tier: order[i], note: ' (raised to tenant minimum)' };
  return undefined;
}

/**
 * Chooses the fallback chain for a request. An explicit model or tier wins when the tenant may use it (403 when not,
 * 404 when unknown); `auto` (or no model) scores the prompt (with its feature tag, for a router trained on tags) and
 * maps the score to a tier through the thresholds.
 */
export function route(
  config: ResolvedConfig, tenant: ResolvedTenant, req: ChatRequest, learned?: LearnedRouter, feature?: string,
  switchedBack?: (feature: string) => SwitchedBack | undefined,
): Route {
  const requested = req.model ?? 'auto';
  if (requested !== 'auto') {
    const model = config.models.get(requested);
    if (model) {
      if (model.config.kind === 'embedding') {
        throw new InvalidRequestError(`'${model.id}' is an embedding model: send it to POST /v1/embeddings.`, 'model', 'model_not_chat');
      }
      if (!tenant.allowedModels.has(model.id)) {
        throw new PermissionDeniedError(`Tenant '${tenant.id}' may not use model '${model.id}'.`, 'model');
      }
      return { chain: [model], tier: model.tiers[0] ?? null, reason: 'explicit-model' };
    }
    const tier = config.tiers.get(requested);
    if (tier) {
      if (!tenant.allowedTiers.has(tier.name)) {
        throw new PermissionDeniedError(`Tenant '${tenant.id}' may not use tier '${tier.name}'.`, 'model', 'tier_not_allowed');
      }
      return { chain: tier.models, tier: tier.name, reason: 'explicit-tier' };
    }
    throw new NotFoundError(`The model '${requested}' does not exist or you do not have access to it.`, 'model');
  }
  // A feature routed to a tier of its own (a feature switched to a small model, guarded by a cascade's checks).
  const featured = feature ? config.raw.routing.features?.[feature] : undefined;
  const featureTier = featured ? config.tiers.get(featured) : undefined;
  if (featureTier && tenant.allowedTiers.has(featureTier.name)) {
    // Its shadow agreement fell below the policy's switchBack: the tier's last (premium) model answers for a while.
    const back = switchedBack?.(feature!);
    if (back) return { chain: featureTier.models.slice(-1), tier: featureTier.name, reason: `feature:${feature}${SWITCHED_BACK} agreement ${back.agreement} < ${back.below} over ${back.samples})` };
    return { chain: featureTier.models, tier: featureTier.name, reason: `feature:${feature}` };
  }
  let score: number;
  let reason: string;
  if (learned) {
    score = learned.score(lastUserText(req), feature);
    reason = `learned:${score.toFixed(3)}`;
  } else {
    const h = scoreComplexity(req);
    score = h.score;
    reason = `heuristic:${score.toFixed(3)}:${h.features.length ? h.features.join('+') : 'plain'}`;
  }
  const wanted = config.thresholds.find((t) => score <= t.upTo)!.tier;
  const picked = pickAllowedTier(config, tenant, wanted);
  if (!picked) throw new PermissionDeniedError(`Tenant '${tenant.id}' has no allowed tier for automatic routing.`, 'model', 'tier_not_allowed');
  return { chain: picked.tier.models, tier: picked.tier.name, reason: `${reason}->${picked.tier.name}${picked.note}` };
}

/** The tier when a route runs as a cascade: an automatic or explicit tier route on a tier in cascade mode. */
export function cascadeTierOf(config: ResolvedConfig, r: Route): ResolvedTier | undefined {
  if (!r.tier || r.reason === 'explicit-model' || r.chain.length < 2) return undefined;
  const tier = config.tiers.get(r.tier);
  return tier?.mode === 'cascade' && tier.models === r.chain ? tier : undefined;
}
