import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { APIGatewayClient, CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDbQuotaStore } from '../../lambda/adapters/dynamodb-quota-store';
import { DynamoDbTenantDirectory } from '../../lambda/adapters/dynamodb-tenant-directory';
import { sha256 } from '../../lambda/adapters/system-runtime';
import { usageIdentifierFor } from '../../lambda/contract';
import { TenantExistsError } from '../../lambda/core/ports';
import { action, commaList, UsageError } from '../cli-support';
import { dynamoFromFlags, withStoreOptions, type StoreFlags } from '../store-flags';
import { parseLimitSpec, readPoliciesFile, writeLimits } from './quota';

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,110}$/;

/** A new API key: 32 random bytes, URL-safe base64, with a prefix that secret scanners can match. */
export function newApiKey(): string {
  return `sk-llmf-${randomBytes(32).toString('base64url')}`;
}

function tenantId(v: string): string {
  if (!TENANT_ID.test(v)) throw new InvalidArgumentError('not a valid tenant id (letters, digits, . _ : / -, at most 111 characters).');
  return v;
}

async function directory(o: StoreFlags): Promise<{ dir: DynamoDbTenantDirectory; table: string; d: NonNullable<Awaited<ReturnType<typeof dynamoFromFlags>>> }> {
  const d = await dynamoFromFlags(o);
  if (!d) throw new UsageError('tenants live in the deployed quota table: use --store dynamodb [--dynamodb-table NAME]');
  return { dir: new DynamoDbTenantDirectory(d.client, d.table), table: d.table, d };
}

/** `tenants create | list | rotate-key | set-limits`: run-time tenants in the deployed quota table (no redeploy). */
export function registerTenantCommands(program: Command): void {
  const tenants = program.command('tenants').summary('create run-time tenants, rotate their keys, set their limits');

  withStoreOptions(
    tenants
      .command('create')
      .description(
        'Create a run-time tenant (no redeploy) and print its API key ONCE; only its SHA-256 is stored. With the gateway\'s ' +
          'RuntimeTenantsUsagePlanId and UsageScope outputs, also registers the tenant\'s meter key in that usage plan (API Gateway ' +
          'requires one for every tenant).',
      )
      .requiredOption('--tenant <id>', 'tenant id', tenantId)
      .option('--team <team>', 'team the tenant\'s spend is attributed to')
      .option('--tiers <a,b>', 'tiers the tenant may use (default: all)', commaList)
      .option('--models <x,y>', 'models the tenant may use (default: all)', commaList)
      .option('--usage-plan-id <id>', 'the gateway\'s RuntimeTenantsUsagePlanId output')
      .option('--usage-scope <scope>', 'the gateway\'s UsageScope output (meter keys are unique per account and Region)')
      .option('--limits <KEY=VALUE,...>', 'the tenant\'s limits, as tenants set-limits --set')
      .option('--policies <file>', 'the tenant\'s own policies (a JSON array, as quota policies --set)')
      .option('--capture-consent', 'the tenant agreed that its exchanges may be kept, scrubbed, as training data (config capture); default: it did not'),
    'dynamodb',
  ).action(
    action<StoreFlags & { tenant: string; team?: string; tiers?: string[]; models?: string[]; usagePlanId?: string; usageScope?: string; limits?: string; policies?: string; captureConsent?: boolean }>(async (o) => {
      if (o.usagePlanId && o.usageScope === undefined) throw new UsageError('--usage-plan-id needs --usage-scope (the gateway\'s UsageScope output)');
      // Checked before anything is written, so a bad file leaves no half-made tenant.
      const limits = o.limits ? parseLimitSpec(o.limits) : undefined;
      const policies = o.policies ? readPoliciesFile(o.policies) : undefined;
      const { dir, d } = await directory(o);
      const key = newApiKey();
      try {
        await dir.createTenant({
          id: o.tenant, team: o.team ?? null, allowedTiers: o.tiers ?? null, allowedModels: o.models ?? null,
          keyHashes: [sha256(key)], createdAt: new Date().toISOString(), ...(o.captureConsent ? { captureConsent: true } : {}),
        });
      } catch (err) {
        if (err instanceof TenantExistsError) throw new UsageError(`${err.message}; use rotate-key for a new key`);
        throw err;
      }
      const quota = new DynamoDbQuotaStore(d.client, d.table);
      if (limits) await quota.putLimits({ tenant: o.tenant }, limits);
      if (policies) await quota.putPolicies(o.tenant, policies);
      if (o.usagePlanId) await registerMeterKey(new APIGatewayClient({ region: o.region }), o.tenant, o.usagePlanId, o.usageScope ?? '');
      process.stdout.write(
        `tenant ${o.tenant} created${o.usagePlanId ? ` and added to usage plan ${o.usagePlanId}` : ''}` +
          `${limits ? `, limits ${JSON.stringify(limits)}` : ''}${policies ? `, policies ${policies.map((p) => `${o.tenant}/${p.id}`).join(', ')}` : ''}.\n` +
          `API key (shown once; store it now, only its SHA-256 is kept):\n${key}\n`,
      );
      if (!o.usagePlanId) process.stderr.write('note: without --usage-plan-id the API refuses the tenant until its meter key is in a usage plan (see docs/deploy.md, "Run-time tenants")\n');
    }),
  );

  withStoreOptions(tenants.command('list').description('List the run-time tenants (never their keys).').option('--json', 'one JSON array'), 'dynamodb').action(
    action<StoreFlags & { json?: boolean }>(async (o) => {
      const { dir, table } = await directory(o);
      const all = await dir.listTenants();
      if (o.json) process.stdout.write(`${JSON.stringify(all.map(({ keyHashes, ...t }) => ({ ...t, keys: keyHashes.length })))}\n`);
      else {
        process.stdout.write(`${all.length} run-time tenant(s) in ${table}\n`);
        for (const t of all) {
          process.stdout.write(`  ${t.id}  team=${t.team ?? '-'}  tiers=${t.allowedTiers?.join(',') ?? 'all'}  models=${t.allowedModels?.join(',') ?? 'all'}  keys=${t.keyHashes.length}  capture=${t.captureConsent ? 'consented' : 'no'}  created=${t.createdAt}\n`);
        }
      }
    }),
  );

  withStoreOptions(
    tenants
      .command('rotate-key')
      .description('Print a new key ONCE; the old keys stop at once (authorizer decisions are cached up to 5 minutes).')
      .requiredOption('--tenant <id>', 'tenant id', tenantId)
      .option('--keep-old', 'keep the old keys working (revoke them with a later rotate-key)'),
    'dynamodb',
  ).action(
    action<StoreFlags & { tenant: string; keepOld?: boolean }>(async (o) => {
      const { dir } = await directory(o);
      const current = await dir.getTenant(o.tenant);
      if (!current) throw new UsageError(`unknown tenant '${o.tenant}' (config tenants rotate keys in the config)`);
      const key = newApiKey();
      await dir.addKey(current.id, sha256(key));
      if (!o.keepOld) for (const old of current.keyHashes) await dir.revokeKey(current.id, old);
      process.stdout.write(
        `new API key for ${current.id} (shown once):\n${key}\n` +
          (o.keepOld ? `${current.keyHashes.length} old key(s) still work; rotate again without --keep-old to revoke them\n` : `${current.keyHashes.length} old key(s) revoked\n`),
      );
    }),
  );

  withStoreOptions(
    tenants
      .command('capture-consent')
      .description('Record that a run-time tenant gave (--on) or withdrew (--off) its consent to capture: its exchanges of opted-in features are kept, scrubbed, as training data only while it consents (gateways see the change within quota.controlsCacheSeconds). What was captured before a withdrawal stays in the capture folder or bucket until you delete it or its lifecycle does.')
      .requiredOption('--tenant <id>', 'tenant id', tenantId)
      .addOption(new Option('--on', 'the tenant consents').conflicts('off'))
      .addOption(new Option('--off', 'the tenant withdraws its consent').conflicts('on')),
    'dynamodb',
  ).action(
    action<StoreFlags & { tenant: string; on?: boolean; off?: boolean }>(async (o) => {
      if (!o.on && !o.off) throw new UsageError('tenants capture-consent needs one of --on or --off');
      const { dir } = await directory(o);
      if (!(await dir.getTenant(o.tenant))) throw new UsageError(`unknown tenant '${o.tenant}' (a config tenant's consent is tenants[].captureConsent in the config)`);
      await dir.setCaptureConsent(o.tenant, o.on === true);
      process.stdout.write(`tenant ${o.tenant}: capture consent ${o.on ? 'given' : 'withdrawn'}.\n`);
    }),
  );

  withStoreOptions(
    tenants
      .command('set-limits')
      .description('The same as quota limits for one tenant: dailyUsd, monthlyUsd, dailyTokens, monthlyTokens, requestsPerMinute.')
      .requiredOption('--tenant <id>', 'tenant id', tenantId)
      .addOption(new Option('--set <KEY=VALUE,...>', 'limits to store; VALUE none lifts the config\'s limit').conflicts('clear'))
      .addOption(new Option('--clear', 'remove the stored limits (the config applies)').conflicts('set')),
    'dynamodb',
  ).action(
    action<StoreFlags & { tenant: string; set?: string; clear?: boolean }>(async (o) => {
      if (!o.set && !o.clear) throw new UsageError('tenants set-limits needs one of --set or --clear');
      const { d } = await directory(o);
      await writeLimits(new DynamoDbQuotaStore(d.client, d.table), { tenant: o.tenant }, `tenant ${o.tenant}`, o.set);
    }),
  );
}

/** The tenant's meter key (its usage identifier, not a secret) in the gateway's usage plan for run-time tenants. */
async function registerMeterKey(client: APIGatewayClient, tenant: string, usagePlanId: string, scope: string): Promise<void> {
  const value = usageIdentifierFor(tenant, scope);
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
