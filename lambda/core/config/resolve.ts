import { daysUntil, findCatalogPrice, type ModelLifecycle, type PriceCatalog, PRICE_CATALOG } from '../pricing/catalog';
import { toTokenPrice, type TokenPrice } from '../pricing/prices';
import type { StoredTenant } from '../ports';
import { defaultGuards, type ContentRule, type GuardName, type GuardSettings } from '../cache/guards';
import { ConfigError } from './errors';
import { tenantKeyHashes } from './key-hashes';
import { GatewayConfigSchema, type GatewayConfig, type ModelConfig, type ProviderConfig, type TenantConfig } from './schema';

export { ConfigError } from './errors';

const DEFAULT_MAX_OUTPUT = 4096;

export interface ResolvedModel {
  readonly config: ModelConfig;
  readonly id: string;
  readonly provider: ProviderConfig;
  /** Per-token price, or undefined for a model billed by the instance-hour (`instanceType`) or a commitment (`commitment`). */
  readonly price: TokenPrice | undefined;
  readonly priceSource: string;
  readonly maxOutputTokens: number;
  /** Tiers listing this model, in config order. */
  readonly tiers: readonly string[];
  /** The provider's retirement date for this model, from the catalog entry it is priced or named by. */
  readonly lifecycle?: ModelLifecycle;
  /** Bedrock prompt-caching limits (config, else catalog); undefined where the model caches nothing this gateway knows of. */
  readonly promptCache?: { readonly minTokens: number; readonly maxPoints: number; readonly ttl1h: boolean };
}

export interface ResolvedTier {
  readonly name: string;
  readonly models: readonly ResolvedModel[];
  readonly mode: 'fallback' | 'cascade' | 'commitment-first';
  readonly cascade: GatewayConfig['tiers'][number]['cascade'];
}

export interface ResolvedTenant {
  readonly config: TenantConfig;
  readonly id: string;
  readonly allowedTiers: ReadonlySet<string>;
  readonly allowedModels: ReadonlySet<string>;
  /** Embedding models the tenant may call on /v1/embeddings: those its allowedModels lists, else every one. */
  readonly embeddingModels: ReadonlySet<string>;
}

export interface ResolvedConfig {
  readonly raw: GatewayConfig;
  readonly models: ReadonlyMap<string, ResolvedModel>;
  readonly tiers: ReadonlyMap<string, ResolvedTier>;
  readonly tenants: ReadonlyMap<string, ResolvedTenant>;
  /** sha256(api key) -> tenant id */
  readonly keyHashes: ReadonlyMap<string, string>;
  readonly baseline: ResolvedModel & { readonly price: TokenPrice };
  readonly thresholds: readonly { readonly tier: ResolvedTier; readonly upTo: number }[];
  readonly semanticCache: ResolvedSemanticCache;
}

export interface ResolvedSemanticCache {
  /** Minimum cosine similarity, the configured one or the embedder's default. */
  readonly threshold: number;
  /** The false-hit guards: the configured ones over the embedder's defaults. */
  readonly guards: GuardSettings;
  /** Per-token price of the embedder's input tokens (zero for the local embedder). */
  readonly embeddingPrice: TokenPrice;
  readonly embeddingPriceSource: string;
}

/**
 * Default similarity thresholds per embedder type: local (lexical) and sentence chosen on the dev pairs (docs/semantic-cache.md);
 * Titan and OpenAI-compatible ones could not be measured offline and stay conservative.
 */
export const DEFAULT_SEMANTIC_THRESHOLD = { local: 0.65, sentence: 0.82, bedrock: 0.95, 'openai-compatible': 0.95 } as const;

/** The configured guards over the embedder type's defaults. */
export function semanticGuards(embedderType: keyof typeof DEFAULT_SEMANTIC_THRESHOLD, configured: Partial<Record<GuardName, boolean>> & { contentRule?: ContentRule; answerSlot?: boolean } = {}): GuardSettings {
  const out: Record<string, unknown> = { ...defaultGuards(embedderType) };
  for (const [k, v] of Object.entries(configured)) if (v !== undefined) out[k] = v;
  return out as GuardSettings;
}

/** The embedding models a tenant may call: those its explicit model list names, else every one in the config. */
function embeddingModelsOf(models: ReadonlyMap<string, ResolvedModel>, allowed: readonly string[] | undefined): ReadonlySet<string> {
  const all = [...models.values()].filter((m) => m.config.kind === 'embedding').map((m) => m.id);
  return new Set(allowed ? all.filter((id) => allowed.includes(id)) : all);
}

function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const v of values) (seen.has(v) ? dup : seen).add(v);
  return [...dup];
}

/**
 * A run-time tenant (TenantDirectory) resolved against the config like a config tenant. Tiers or models the config
 * no longer has are dropped rather than failing the tenant: the config may change after the tenant was created.
 */
export function resolveStoredTenant(config: ResolvedConfig, t: StoredTenant): ResolvedTenant {
  const tierNames = [...config.tiers.keys()];
  const allowedTiers = new Set((t.allowedTiers ?? tierNames).filter((n) => config.tiers.has(n)));
  const allowedModels = new Set(
    (t.allowedModels ?? [...allowedTiers].flatMap((n) => config.tiers.get(n)!.models.map((m) => m.id))).filter((m) => config.models.has(m)),
  );
  const tenantConfig = { id: t.id, team: t.team ?? undefined, apiKeys: t.keyHashes.map((sha256) => ({ sha256 })), captureConsent: t.captureConsent === true } as TenantConfig;
  return { config: tenantConfig, id: t.id, allowedTiers, allowedModels, embeddingModels: embeddingModelsOf(config.models, t.allowedModels ?? undefined) };
}

/** Validates a config document once, at start-up. Throws ConfigError naming every invalid field. */
export function resolveConfig(input: unknown, catalog: PriceCatalog = PRICE_CATALOG): ResolvedConfig {
  const parsed = GatewayConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`));
  }
  const cfg = parsed.data;
  const problems: string[] = [];

  for (const d of duplicates(cfg.providers.map((p) => p.id))) problems.push(`providers: duplicate id '${d}'`);
  cfg.providers.forEach((p, i) => {
    if ('apiKeyEnv' in p && p.apiKeyEnv && p.apiKeySecret) problems.push(`providers[${i}]: give apiKeyEnv or apiKeySecret, not both`);
  });
  for (const d of duplicates(cfg.models.map((m) => m.id))) problems.push(`models: duplicate id '${d}'`);
  for (const d of duplicates(cfg.tiers.map((t) => t.name))) problems.push(`tiers: duplicate name '${d}'`);
  for (const d of duplicates(cfg.tenants.map((t) => t.id))) problems.push(`tenants: duplicate id '${d}'`);
  const modelIds = new Set(cfg.models.map((m) => m.id));
  const tierNames = new Set(cfg.tiers.map((t) => t.name));
  for (const m of cfg.models) {
    if (tierNames.has(m.id)) problems.push(`models: id '${m.id}' is also a tier name; \`model\` in a request would be ambiguous`);
  }
  if (tierNames.has('auto') || modelIds.has('auto')) problems.push(`'auto' is reserved for routing and cannot name a model or tier`);

  const providers = new Map(cfg.providers.map((p) => [p.id, p]));
  const tiersOf = new Map<string, string[]>();
  cfg.tiers.forEach((t, ti) => {
    t.models.forEach((m, mi) => {
      if (!modelIds.has(m)) problems.push(`tiers[${ti}].models[${mi}]: unknown model '${m}'`);
      tiersOf.set(m, [...(tiersOf.get(m) ?? []), t.name]);
    });
  });

  const models = new Map<string, ResolvedModel>();
  cfg.models.forEach((m, i) => {
    const provider = providers.get(m.provider);
    if (!provider) {
      problems.push(`models[${i}].provider: unknown provider '${m.provider}' (known: ${[...providers.keys()].join(', ')})`);
      return;
    }
    const priceId = m.priceId ?? m.upstreamModel;
    const override = cfg.prices[priceId];
    const entry = findCatalogPrice(priceId, catalog);
    let price: TokenPrice | undefined;
    let priceSource: string;
    if (m.commitment?.type === 'bedrock-reserved') {
      // Reserved tokens per minute, and on-demand billing past them: the model keeps its per-token price for the overflow.
      if (provider.type !== 'bedrock') problems.push(`models[${i}].commitment: bedrock-reserved is a Bedrock service tier; provider '${provider.id}' is ${provider.type}`);
      const own = m.price ?? override ?? entry;
      if (!own) problems.push(`models[${i}]: a bedrock-reserved model needs its on-demand price for the overflow (price, prices.${priceId} or a catalog entry)`);
      price = own ? toTokenPrice(own) : undefined;
      priceSource = `commitment:bedrock-reserved:${m.commitment.units}kTPM+${m.price ? 'config:models.price' : override ? `config:prices.${priceId}` : entry ? `catalog:${entry.id}@${entry.asOf}` : 'none'}`;
    } else if (m.commitment) {
      // Paid by the hour whatever the traffic: nothing at the margin, even where the catalog has a token price.
      if (m.price) problems.push(`models[${i}]: give price or commitment, not both (a committed model costs nothing per token)`);
      price = undefined;
      priceSource = `commitment:${m.commitment.type}:${m.commitment.units}x$${m.commitment.usdPerUnitHour}/h`;
    } else if (m.price) {
      price = toTokenPrice(m.price);
      priceSource = 'config:models.price';
    } else if (override) {
      price = toTokenPrice(override);
      priceSource = `config:prices.${priceId}`;
    } else if (entry) {
      price = toTokenPrice(entry);
      priceSource = `catalog:${entry.id}@${entry.asOf}`;
    } else if (m.instanceType && provider.type === 'sagemaker') {
      price = undefined;
      priceSource = `instance-hour:${m.instanceType}`;
      if (!catalog.instances.some((x) => x.id === m.instanceType)) {
        problems.push(`models[${i}].instanceType: '${m.instanceType}' has no instance-hour price in the catalog; add models[${i}].price`);
      }
    } else {
      problems.push(
        `models[${i}]: no price for '${m.id}' (priceId '${priceId}' is not in the catalog); set models[${i}].price or prices['${priceId}'] — a model is never priced at $0 silently`,
      );
      return;
    }
    if (m.instanceType && provider.type !== 'sagemaker') {
      problems.push(`models[${i}].instanceType: only sagemaker models are billed by the instance-hour`);
    }
    models.set(m.id, {
      config: m,
      id: m.id,
      provider,
      price,
      priceSource,
      maxOutputTokens: m.maxOutputTokens ?? entry?.maxOutputTokens ?? DEFAULT_MAX_OUTPUT,
      tiers: tiersOf.get(m.id) ?? [],
      lifecycle: (entry ?? findCatalogPrice(m.upstreamModel, catalog))?.lifecycle,
      promptCache: m.promptCache ?? (entry ?? findCatalogPrice(m.upstreamModel, catalog))?.promptCache,
    });
  });

  const tiers = new Map<string, ResolvedTier>();
  for (const t of cfg.tiers) {
    t.models.forEach((id, j) => {
      if (models.get(id)?.config.kind === 'embedding') problems.push(`tiers[${cfg.tiers.indexOf(t)}].models[${j}]: '${id}' is an embedding model; it serves POST /v1/embeddings, not a chat tier`);
    });
    tiers.set(t.name, { name: t.name, models: t.models.map((m) => models.get(m)).filter((m): m is ResolvedModel => !!m), mode: t.mode, cascade: t.cascade });
    if (t.mode === 'cascade' && t.models.length < 2) problems.push(`tiers[${cfg.tiers.indexOf(t)}].mode: a cascade needs at least two models to escalate between`);
    if (t.mode === 'commitment-first') {
      const committed = t.models.map((id) => !!models.get(id)?.config.commitment);
      const at = `tiers[${cfg.tiers.indexOf(t)}]`;
      if (!committed[0]) problems.push(`${at}.models[0]: a commitment-first tier starts with a committed model (models[].commitment)`);
      if (committed.every(Boolean)) problems.push(`${at}.models: a commitment-first tier needs an on-demand model to spill to after its committed ones`);
      if (committed.some((c, i) => c && i > 0 && !committed[i - 1])) problems.push(`${at}.models: list the committed models first, then the on-demand ones`);
    }
  }

  const thresholds: { tier: ResolvedTier; upTo: number }[] = [];
  cfg.routing.thresholds.forEach((th, i) => {
    const tier = tiers.get(th.tier);
    if (!tier) problems.push(`routing.thresholds[${i}].tier: unknown tier '${th.tier}'`);
    else thresholds.push({ tier, upTo: th.upTo });
    if (i > 0 && th.upTo <= cfg.routing.thresholds[i - 1].upTo) {
      problems.push(`routing.thresholds[${i}].upTo: ${th.upTo} must be greater than the previous ${cfg.routing.thresholds[i - 1].upTo}`);
    }
  });
  cfg.shadow.policies.forEach((p, i) => {
    if (!modelIds.has(p.model)) problems.push(`shadow.policies[${i}].model: unknown model '${p.model}'`);
  });
  (cfg.capture.models ?? []).forEach((m, i) => {
    if (!modelIds.has(m)) problems.push(`capture.models[${i}]: unknown model '${m}'`);
  });
  for (const [feature, tier] of Object.entries(cfg.routing.features ?? {})) {
    if (!tiers.has(tier)) problems.push(`routing.features.${feature}: unknown tier '${tier}'`);
  }
  cfg.shadow.policies.forEach((p, i) => {
    if (!p.switchBack) return;
    const at = `shadow.policies[${i}].switchBack`;
    const tier = tiers.get(cfg.routing.features?.[p.feature] ?? '');
    if (!cfg.routing.features?.[p.feature]) problems.push(`${at}: routing.features has no '${p.feature}': there is no switch to guard`);
    else if (tier && tier.models.length < 2) problems.push(`${at}: tier '${tier.name}' of feature '${p.feature}' has one model, so there is no premium model to switch back to`);
    else if (tier && tier.models[0].id === p.model) problems.push(`shadow.policies[${i}].model: '${p.model}' is the small model the feature is switched to; name the premium model its answers are compared with (e.g. '${tier.models[tier.models.length - 1].id}')`);
    if (p.switchBack.minSamples > p.switchBack.window) problems.push(`${at}.minSamples: ${p.switchBack.minSamples} is more than the window of ${p.switchBack.window}`);
  });
  for (const [i, t] of cfg.tiers.entries()) {
    if (t.cascade.labels && !t.cascade.checks.includes('labels')) problems.push(`tiers[${i}].cascade.labels: add 'labels' to cascade.checks, or the labels are never checked`);
    if (t.cascade.schema && !t.cascade.checks.includes('json')) problems.push(`tiers[${i}].cascade.schema: add 'json' to cascade.checks, or the schema is never checked`);
  }
  const last = cfg.routing.thresholds[cfg.routing.thresholds.length - 1];
  if (last.upTo !== 1) problems.push(`routing.thresholds[${cfg.routing.thresholds.length - 1}].upTo: the last threshold must be 1 so every score has a tier`);

  const baseline = models.get(cfg.routing.baselineModel);
  if (!modelIds.has(cfg.routing.baselineModel)) {
    problems.push(`routing.baselineModel: unknown model '${cfg.routing.baselineModel}'`);
  } else if (baseline?.config.kind === 'embedding') {
    problems.push(`routing.baselineModel: '${baseline.id}' is an embedding model; choose a chat model`);
  } else if (baseline && !baseline.price) {
    problems.push(`routing.baselineModel: '${baseline.id}' has no per-token price; choose a token-priced model`);
  }

  const tenants = new Map<string, ResolvedTenant>();
  let keyHashes = new Map<string, string>();
  try {
    keyHashes = tenantKeyHashes(cfg);
  } catch (err) {
    problems.push(...(err as ConfigError).problems);
  }
  cfg.tenants.forEach((t, i) => {
    (t.allowedTiers ?? []).forEach((name, j) => {
      if (!tierNames.has(name)) problems.push(`tenants[${i}].allowedTiers[${j}]: unknown tier '${name}'`);
    });
    (t.allowedModels ?? []).forEach((name, j) => {
      if (!modelIds.has(name)) problems.push(`tenants[${i}].allowedModels[${j}]: unknown model '${name}'`);
    });
    for (const name of Object.keys(t.upstreamModels ?? {})) {
      if (!modelIds.has(name)) problems.push(`tenants[${i}].upstreamModels.${name}: unknown model '${name}'`);
    }
    const allowedTiers = new Set(t.allowedTiers ?? tierNames);
    const allowedModels = new Set(
      t.allowedModels ?? cfg.tiers.filter((tier) => allowedTiers.has(tier.name)).flatMap((tier) => tier.models),
    );
    tenants.set(t.id, { config: t, id: t.id, allowedTiers, allowedModels, embeddingModels: embeddingModelsOf(models, t.allowedModels) });
  });

  if (cfg.usage.sink === 'jsonl' && !cfg.usage.path) problems.push(`usage.path: required when usage.sink is 'jsonl'`);
  const policyKeys = new Set<string>();
  cfg.context.policies.forEach((pol, i) => {
    if (pol.tenant !== undefined && !cfg.tenants.some((t) => t.id === pol.tenant)) problems.push(`context.policies[${i}].tenant: unknown tenant '${pol.tenant}'`);
    const key = `${pol.tenant ?? '*'}/${pol.feature ?? '*'}`;
    if (policyKeys.has(key)) problems.push(`context.policies[${i}]: a second policy for tenant ${pol.tenant ?? '(any)'} and feature ${pol.feature ?? '(any)'}`);
    policyKeys.add(key);
  });
  cfg.quota.premiumTiers.forEach((t, i) => {
    if (!tierNames.has(t)) problems.push(`quota.premiumTiers[${i}]: unknown tier '${t}'`);
  });
  if (cfg.quota.premiumTiers.length && cfg.tiers.every((t) => cfg.quota.premiumTiers.includes(t.name))) {
    problems.push('quota.premiumTiers: at least one tier must stay non-premium for the kill switch to downgrade to');
  }

  const semanticCache = resolveSemanticCache(cfg, catalog, problems);

  if (problems.length) throw new ConfigError(problems);
  return {
    raw: cfg,
    models,
    tiers,
    tenants,
    keyHashes,
    baseline: baseline as ResolvedModel & { price: TokenPrice },
    thresholds,
    semanticCache,
  };
}

function resolveSemanticCache(cfg: GatewayConfig, catalog: PriceCatalog, problems: string[]): ResolvedSemanticCache {
  const sem = cfg.cache.semantic;
  const e = sem.embedder;
  const threshold = sem.threshold ?? DEFAULT_SEMANTIC_THRESHOLD[e.type];
  const guards = semanticGuards(e.type, sem.guards);
  if (e.type === 'local' || e.type === 'sentence') return { threshold, guards, embeddingPrice: toTokenPrice({ inputPerMTok: 0, outputPerMTok: 0 }), embeddingPriceSource: 'local' };
  const entry = findCatalogPrice(e.model, catalog);
  if (e.pricePerMTok !== undefined) {
    return { threshold, guards, embeddingPrice: toTokenPrice({ inputPerMTok: e.pricePerMTok, outputPerMTok: 0 }), embeddingPriceSource: 'config:cache.semantic.embedder.pricePerMTok' };
  }
  if (entry) return { threshold, guards, embeddingPrice: toTokenPrice({ inputPerMTok: entry.inputPerMTok, outputPerMTok: 0 }), embeddingPriceSource: `catalog:${entry.id}@${entry.asOf}` };
  if (sem.enabled) {
    problems.push(`cache.semantic.embedder.pricePerMTok: no price for embedding model '${e.model}' in the catalog; set it (0 for a local server) — embeddings are never priced at $0 silently`);
  }
  return { threshold, guards, embeddingPrice: toTokenPrice({ inputPerMTok: 0, outputPerMTok: 0 }), embeddingPriceSource: 'none' };
}

/** How far ahead a retirement is worth a warning: the providers' shortest notice for specialised variants is 3 months. */
export const LIFECYCLE_WARNING_DAYS = 60;

/**
 * Models the config routes to that are retired, or retire within LIFECYCLE_WARNING_DAYS of `nowMs`, each with the
 * provider's recommended replacement. `config validate`, `llm-finops local` and `cdk synth` print them; none fails.
 */
export function lifecycleWarnings(config: ResolvedConfig, nowMs: number): string[] {
  const out: string[] = [];
  for (const m of config.models.values()) {
    const l = m.lifecycle;
    if (!l) continue;
    const days = daysUntil(l.shutdownOn, nowMs);
    if (days > LIFECYCLE_WARNING_DAYS) continue;
    const when = days <= 0 ? `was retired on ${l.shutdownOn}` : `retires on ${l.shutdownOn} (in ${days} days)`;
    const instead = l.replacement ? `; the provider recommends '${l.replacement}'` : '';
    out.push(`model '${m.id}' (${m.config.upstreamModel}) ${when}${instead} (${l.source.split(' ')[0]})`);
  }
  return out;
}
