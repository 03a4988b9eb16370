import { resolveStoredTenant, type ResolvedTenant } from '../config/resolve';
import { apiKeyIdOf, presentedKey } from '../api-key';
import { AuthenticationError, PermissionDeniedError } from '../errors';
import type { GatewayDeps } from './types';

/**
 * API keys and tenants: the config's first, then the run-time directory's. A warm gateway hashes each key once; keys
 * and tenants read from the directory are reused for quota.controlsCacheSeconds, so a revoked key stops within it.
 */
export class Tenants {
  /** API key -> tenant and key id. Bounded; only keys that matched are kept. Config keys never expire (the config is fixed). */
  private readonly keyCache = new Map<string, { tenant: string; keyId: string; expiresAtMs: number }>();
  private readonly tenantCache = new Map<string, { tenant: ResolvedTenant; expiresAtMs: number }>();

  constructor(private readonly deps: GatewayDeps) {}

  /** Maps the request's key (`Authorization: Bearer <key>` or `x-api-key`) to a tenant id through the configured key hashes, then the tenant directory. */
  async identify(authorization: string | undefined, xApiKey?: string): Promise<{ tenant: string; keyId: string }> {
    const presented = presentedKey(authorization, xApiKey);
    if ('problem' in presented) {
      throw presented.problem === 'missing'
        ? new AuthenticationError('Missing API key: send Authorization: Bearer <key> or x-api-key: <key>.', 'missing_api_key')
        : new AuthenticationError('Malformed API key: expected Authorization: Bearer <key> or x-api-key: <key>.', 'invalid_api_key');
    }
    const { key } = presented;
    const now = this.deps.clock.now();
    const cached = this.keyCache.get(key);
    if (cached && cached.expiresAtMs > now) return { tenant: cached.tenant, keyId: cached.keyId };
    const hash = this.deps.sha256(key);
    const fromConfig = this.deps.config.keyHashes.get(hash);
    const tenant = fromConfig ?? (await this.deps.tenants?.tenantForKey(hash));
    if (!tenant) throw new AuthenticationError('Incorrect API key provided.', 'invalid_api_key');
    if (this.keyCache.size >= 10_000) this.keyCache.clear();
    const keyId = apiKeyIdOf(hash);
    this.keyCache.set(key, { tenant, keyId, expiresAtMs: fromConfig ? Infinity : now + this.storedTtlMs() });
    return { tenant, keyId };
  }

  /** The config's tenant, else the directory's (reused for quota.controlsCacheSeconds; changes apply within that). */
  async tenantOf(id: string): Promise<ResolvedTenant> {
    const t = this.deps.config.tenants.get(id);
    if (t) return t;
    const now = this.deps.clock.now();
    const hit = this.tenantCache.get(id);
    if (hit && hit.expiresAtMs > now) return hit.tenant;
    const stored = await this.deps.tenants?.getTenant(id);
    if (!stored) throw new PermissionDeniedError(`Unknown tenant '${id}'.`, null, 'unknown_tenant');
    const tenant = resolveStoredTenant(this.deps.config, stored);
    if (this.tenantCache.size >= 10_000) this.tenantCache.clear();
    this.tenantCache.set(id, { tenant, expiresAtMs: now + this.storedTtlMs() });
    return tenant;
  }

  private storedTtlMs(): number {
    return this.deps.config.raw.quota.controlsCacheSeconds * 1000;
  }
}
