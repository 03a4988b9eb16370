import { readFileSync } from 'node:fs';
import { ENV_CONFIG_FILE, ENV_CONFIG_JSON, ENV_EXACT_CACHE_TABLE, ENV_SEMANTIC_EMBEDDER, ENV_SEMANTIC_INDEX, ENV_TENANT_UPSTREAMS } from '../../contract';

/**
 * The gateway config document a Lambda was deployed with: inline JSON, or a file in its bundle; with the cache
 * resources of a SemanticCache construct and the tenants' inference profiles of TenantInferenceProfiles laid over it
 * (they exist only once deployed, so they come as variables).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): unknown {
  const inline = env[ENV_CONFIG_JSON];
  const file = env[ENV_CONFIG_FILE];
  if (!inline && !file) throw new Error(`Set ${ENV_CONFIG_JSON} (JSON) or ${ENV_CONFIG_FILE} (path) to the gateway config.`);
  const config = withTenantUpstreams(
    JSON.parse(inline ? inline : readFileSync(file!, 'utf8')) as { cache?: Record<string, Record<string, unknown>>; tenants?: { id: string; upstreamModels?: Record<string, string> }[] },
    env[ENV_TENANT_UPSTREAMS],
  );
  const index = env[ENV_SEMANTIC_INDEX];
  const table = env[ENV_EXACT_CACHE_TABLE];
  if (!index && !table) return config;
  const cache = { ...config.cache };
  if (table) cache.exact = { ...cache.exact, store: { type: 'dynamodb', tableName: table } };
  if (index) {
    cache.semantic = { ...cache.semantic, enabled: true, index: JSON.parse(index), ...(env[ENV_SEMANTIC_EMBEDDER] ? { embedder: JSON.parse(env[ENV_SEMANTIC_EMBEDDER]!) } : {}) };
  }
  return { ...config, cache };
}

/**
 * The tenants' upstream ids from the environment, over each config tenant's upstreamModels: {prefix, ids: {tenant:
 * {modelId: profile id}}} (what TenantInferenceProfiles sets: each id is appended to the ARN prefix), or
 * {tenant: {modelId: upstream id}}.
 */
function withTenantUpstreams<T extends { tenants?: { id: string; upstreamModels?: Record<string, string> }[] }>(config: T, json: string | undefined): T {
  if (!json) return config;
  let byTenant: Record<string, Record<string, string>>;
  try {
    byTenant = JSON.parse(json);
  } catch (err) {
    throw new Error(`${ENV_TENANT_UPSTREAMS} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const compact = byTenant as unknown as { prefix?: unknown; ids?: unknown };
  if (typeof compact.prefix === 'string') {
    const prefix = compact.prefix;
    if (!compact.ids || typeof compact.ids !== 'object') throw new Error(`${ENV_TENANT_UPSTREAMS}: a prefix needs ids: {tenant: {model: profile id}}`);
    byTenant = Object.fromEntries(Object.entries(compact.ids as Record<string, Record<string, unknown>>).map(([tenant, models]) => [
      tenant,
      Object.fromEntries(Object.entries(models ?? {}).map(([model, id]) => {
        if (typeof id !== 'string' || !/^[A-Za-z0-9]+$/.test(id)) throw new Error(`${ENV_TENANT_UPSTREAMS}: profile id of ${tenant}/${model} is not an id: ${JSON.stringify(id)}`);
        return [model, `${prefix}${id}`];
      })),
    ]));
  }
  const known = new Set((config.tenants ?? []).map((t) => t.id));
  const unknown = Object.keys(byTenant).filter((t) => !known.has(t));
  if (unknown.length) throw new Error(`${ENV_TENANT_UPSTREAMS}: tenants not in the config: ${unknown.join(', ')}`);
  return { ...config, tenants: (config.tenants ?? []).map((t) => (byTenant[t.id] ? { ...t, upstreamModels: { ...t.upstreamModels, ...byTenant[t.id] } } : t)) };
}
