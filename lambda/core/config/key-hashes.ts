import { ConfigError } from './errors';

/**
 * The config's tenant key hashes (sha256 -> tenant id), read without the full schema: all the authorizer needs, so
 * its bundle carries no zod (half its size). The same rules as the schema and resolveConfig for these fields:
 * tenants[].id a non-empty string, apiKeys[].sha256 lower-case hex, one tenant per hash. The router validates the
 * whole document at its own cold start and the constructs at synth.
 */
export function tenantKeyHashes(doc: unknown): Map<string, string> {
  const problems: string[] = [];
  const out = new Map<string, string>();
  const tenants = (doc as { tenants?: unknown } | null)?.tenants ?? [];
  if (!Array.isArray(tenants)) throw new ConfigError(['tenants: expected an array']);
  tenants.forEach((t: unknown, i) => {
    const tenant = t as { id?: unknown; apiKeys?: unknown } | null;
    if (!tenant || typeof tenant.id !== 'string' || !tenant.id) {
      problems.push(`tenants[${i}].id: expected a non-empty string`);
      return;
    }
    const keys = tenant.apiKeys ?? [];
    if (!Array.isArray(keys)) {
      problems.push(`tenants[${i}].apiKeys: expected an array`);
      return;
    }
    keys.forEach((k: unknown, j) => {
      const hash = (k as { sha256?: unknown } | null)?.sha256;
      if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
        problems.push(`tenants[${i}].apiKeys[${j}].sha256: lowercase hex SHA-256 of the key`);
        return;
      }
      const other = out.get(hash);
      if (other !== undefined) problems.push(`tenants[${i}].apiKeys[${j}]: key hash already belongs to tenant '${other}'`);
      out.set(hash, tenant.id as string);
    });
  });
  if (problems.length) throw new ConfigError(problems);
  return out;
}
