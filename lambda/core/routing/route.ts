import type { ResolvedConfig, ResolvedModel, ResolvedTenant, ResolvedTier } from '../config/resolve';
import { NotFoundError, PermissionDeniedError } from '../errors';
import type { ChatRequest } from '../openai/types';
import { scoreComplexity } from './heuristic';

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
 * 404 when unknown); `auto` (or no model) scores the prompt and maps the score to a tier through the thresholds.
 */
export function route(config: ResolvedConfig, tenant: ResolvedTenant, req: ChatRequest): Route {
  const requested = req.model ?? 'auto';
  if (requested !== 'auto') {
    const model = config.models.get(requested);
    if (model) {
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
  const { score, features } = scoreComplexity(req);
  const wanted = config.thresholds.find((t) => score <= t.upTo)!.tier;
  const picked = pickAllowedTier(config, tenant, wanted);
  if (!picked) throw new PermissionDeniedError(`Tenant '${tenant.id}' has no allowed tier for automatic routing.`, 'model', 'tier_not_allowed');
  const why = features.length ? features.join('+') : 'plain';
  return { chain: picked.tier.models, tier: picked.tier.name, reason: `heuristic:${score.toFixed(3)}:${why}->${picked.tier.name}${picked.note}` };
}
