import { readFileSync } from 'node:fs';
import { ENV_CONFIG_FILE, ENV_CONFIG_JSON, ENV_EXACT_CACHE_TABLE, ENV_SEMANTIC_EMBEDDER, ENV_SEMANTIC_INDEX } from '../../contract';

/**
 * The gateway config document a Lambda was deployed with: inline JSON, or a file in its bundle; with the cache
 * resources of a SemanticCache construct laid over it (they exist only once deployed, so they come as variables).
 */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): unknown {
  const inline = env[ENV_CONFIG_JSON];
  const file = env[ENV_CONFIG_FILE];
  if (!inline && !file) throw new Error(`Set ${ENV_CONFIG_JSON} (JSON) or ${ENV_CONFIG_FILE} (path) to the gateway config.`);
  const config = JSON.parse(inline ?? readFileSync(file!, 'utf8')) as { cache?: Record<string, Record<string, unknown>> };
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
