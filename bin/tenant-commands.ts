import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { APIGatewayClient, CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDbQuotaStore } from '../lambda/adapters/dynamodb-quota-store';
import { DynamoDbTenantDirectory } from '../lambda/adapters/dynamodb-tenant-directory';
import { sha256 } from '../lambda/adapters/system-runtime';
import { usageIdentifierFor } from '../lambda/contract';
import { TenantExistsError, type StoredLimits } from '../lambda/core/ports';
import { UsageError } from './cli-support';
import { dynamoFromFlags, STORE_OPTIONS } from './store-flags';

export const TENANTS_USAGE = `  llm-finops tenants create --tenant ID [--team T] [--tiers a,b] [--models x,y] [--usage-plan-id ID] STORE
      Create a run-time tenant (no redeploy) and print its API key ONCE; only its SHA-256 is stored. With the
      gateway's RuntimeTenantsUsagePlanId output, also registers the tenant's meter key in that usage plan (API
      Gateway requires one for every tenant).
  llm-finops tenants list [--json] STORE
  llm-finops tenants rotate-key --tenant ID [--keep-old] STORE
      Print a new key ONCE; the old keys stop at once (authorizer decisions are cached up to 5 minutes).
  llm-finops tenants set-limits --tenant ID (--set KEY=VALUE[,...] | --clear) STORE
      The same as quota limits for one tenant: dailyUsd, monthlyUsd, dailyTokens, monthlyTokens, requestsPerMinute.
`;

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,110}$/;
const LIMIT_KEYS = ['dailyUsd', 'monthlyUsd', 'dailyTokens', 'monthlyTokens', 'requestsPerMinute'] as const;

/** A new API key: 32 random bytes, URL-safe base64, with a prefix that secret scanners can match. */
export function newApiKey(): string {
  return `sk-llmf-${randomBytes(32).toString('base64url')}`;
}

function list(v: string | undefined): string[] | null {
  if (v === undefined) return null;
  const items = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (!items.length) throw new UsageError('an empty list: omit the flag for "all"');
  return items;
}

export function parseLimitSpec(spec: string): StoredLimits {
  const out: Record<string, number | null> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!(LIMIT_KEYS as readonly string[]).includes(k)) throw new UsageError(`unknown limit '${k}'; expected one of ${LIMIT_KEYS.join(', ')}`);
    if (v === 'none') out[k] = null;
    else {
      const num = Number(v);
      if (v === undefined || v === '' || !Number.isFinite(num) || num < 0) throw new UsageError(`limit ${k} needs a number >= 0 or none, got '${v ?? ''}'`);
      if (k !== 'dailyUsd' && k !== 'monthlyUsd' && !Number.isInteger(num)) throw new UsageError(`limit ${k} must be a whole number, got ${v}`);
      out[k] = num;
    }
  }
  if (!Object.keys(out).length) throw new UsageError('--set needs at least one KEY=VALUE');
  return out as StoredLimits;
}

export async function tenantsCommand(args: string[], apiGateway?: APIGatewayClient): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      ...STORE_OPTIONS, tenant: { type: 'string' }, team: { type: 'string' }, tiers: { type: 'string' }, models: { type: 'string' },
      'usage-plan-id': { type: 'string' }, 'keep-old': { type: 'boolean' }, set: { type: 'string' }, clear: { type: 'boolean' }, json: { type: 'boolean' },
    },
  });
  if (!['create', 'list', 'rotate-key', 'set-limits'].includes(sub ?? '')) throw new UsageError(`unknown tenants command '${sub ?? ''}'; expected create, list, rotate-key or set-limits`);
  if (sub !== 'list') {
    if (!values.tenant) throw new UsageError('--tenant ID is required');
    if (!TENANT_ID.test(values.tenant)) throw new UsageError(`--tenant: '${values.tenant}' is not a valid id (letters, digits, . _ : / -, at most 111 characters)`);
  }
  const d = await dynamoFromFlags(values);
  if (!d) throw new UsageError('tenants live in the deployed quota table: use --store dynamodb [--dynamodb-table NAME]');
  const dir = new DynamoDbTenantDirectory(d.client, d.table);

  if (sub === 'create') {
    const key = newApiKey();
    try {
      await dir.createTenant({
        id: values.tenant!, team: values.team ?? null, allowedTiers: list(values.tiers), allowedModels: list(values.models),
        keyHashes: [sha256(key)], createdAt: new Date().toISOString(),
      });
    } catch (err) {
      if (err instanceof TenantExistsError) throw new UsageError(`${err.message}; use rotate-key for a new key`);
      throw err;
    }
    if (values['usage-plan-id']) await registerMeterKey(apiGateway ?? new APIGatewayClient({ region: values.region }), values.tenant!, values['usage-plan-id']);
    process.stdout.write(
      `tenant ${values.tenant} created${values['usage-plan-id'] ? ` and added to usage plan ${values['usage-plan-id']}` : ''}.\n` +
        `API key (shown once; store it now, only its SHA-256 is kept):\n${key}\n`,
    );
    if (!values['usage-plan-id']) process.stderr.write('note: without --usage-plan-id the API refuses the tenant until its meter key is in a usage plan (see README)\n');
    return 0;
  }
  if (sub === 'list') {
    const tenants = await dir.listTenants();
    if (values.json) process.stdout.write(`${JSON.stringify(tenants.map(({ keyHashes, ...t }) => ({ ...t, keys: keyHashes.length })))}\n`);
    else {
      process.stdout.write(`${tenants.length} run-time tenant(s) in ${d.table}\n`);
      for (const t of tenants) {
        process.stdout.write(`  ${t.id}  team=${t.team ?? '-'}  tiers=${t.allowedTiers?.join(',') ?? 'all'}  models=${t.allowedModels?.join(',') ?? 'all'}  keys=${t.keyHashes.length}  created=${t.createdAt}\n`);
      }
    }
    return 0;
  }
  if (sub === 'rotate-key') {
    const current = await dir.getTenant(values.tenant!);
    if (!current) throw new UsageError(`unknown tenant '${values.tenant}' (config tenants rotate keys in the config)`);
    const key = newApiKey();
    await dir.addKey(current.id, sha256(key));
    if (!values['keep-old']) for (const old of current.keyHashes) await dir.revokeKey(current.id, old);
    process.stdout.write(
      `new API key for ${current.id} (shown once):\n${key}\n` +
        (values['keep-old'] ? `${current.keyHashes.length} old key(s) still work; rotate again without --keep-old to revoke them\n` : `${current.keyHashes.length} old key(s) revoked\n`),
    );
    return 0;
  }
  if (!!values.set === !!values.clear) throw new UsageError('tenants set-limits needs exactly one of --set or --clear');
  const limits = values.set ? parseLimitSpec(values.set) : null;
  await new DynamoDbQuotaStore(d.client, d.table).putLimits({ tenant: values.tenant }, limits);
  process.stdout.write(limits ? `limits for tenant ${values.tenant}: ${JSON.stringify(limits)}\n` : `limits for tenant ${values.tenant} cleared (config applies)\n`);
  return 0;
}

/** The tenant's meter key (its usage identifier, not a secret) in the gateway's usage plan for run-time tenants. */
async function registerMeterKey(client: APIGatewayClient, tenant: string, usagePlanId: string): Promise<void> {
  const value = usageIdentifierFor(tenant);
  const name = `llm-finops-${tenant.replace(/[^A-Za-z0-9._-]/g, '-')}`;
  const existing = await client.send(new GetApiKeysCommand({ nameQuery: name, includeValues: true }));
  const found = existing.items?.find((k) => k.value === value);
  const id = found?.id ?? (await client.send(new CreateApiKeyCommand({ name, value, enabled: true, description: `usage identifier of run-time tenant ${tenant}` }))).id;
  try {
    await client.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId: id, keyType: 'API_KEY' }));
  } catch (err) {
    if ((err as { name?: string }).name !== 'ConflictException') throw err;
  }
}
