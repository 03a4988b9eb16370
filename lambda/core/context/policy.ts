import type { ContextPolicyConfig } from '../config/schema';

/**
 * The context policy for a request: the most specific of tenant+feature, tenant, feature, then global. None means
 * the step is off (the default).
 */
export function contextPolicyFor(policies: readonly ContextPolicyConfig[], tenant: string, feature: string): ContextPolicyConfig | undefined {
  return scopedPolicyFor(policies, tenant, feature);
}

/** The most specific of tenant+feature, tenant, feature, then global among policies scoped that way. */
export function scopedPolicyFor<T extends { readonly tenant?: string; readonly feature?: string }>(policies: readonly T[], tenant: string, feature: string): T | undefined {
  const rank = (p: T): number => {
    if (p.tenant !== undefined && p.tenant !== tenant) return -1;
    if (p.feature !== undefined && p.feature !== feature) return -1;
    return (p.tenant !== undefined ? 2 : 0) + (p.feature !== undefined ? 1 : 0);
  };
  let best: T | undefined;
  let bestRank = -1;
  for (const p of policies) {
    const r = rank(p);
    if (r > bestRank) {
      best = p;
      bestRank = r;
    }
  }
  return best;
}
