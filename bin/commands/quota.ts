import { Option, type Command } from 'commander';
import { DynamoDbTenantDirectory } from '../../lambda/adapters/dynamodb-tenant-directory';
import { MemoryAlertSink, MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { sha256, systemClock, systemIds } from '../../lambda/adapters/system-runtime';
import type { PolicyConfig } from '../../lambda/core/config/schema';
import { Gateway } from '../../lambda/core/pipeline';
import type { QuotaScope, QuotaStore, StoredLimits } from '../../lambda/core/ports';
import { parseStoredPolicies } from '../../lambda/core/quota/policy';
import { action, readParsed, UsageError } from '../cli-support';
import { dynamoFromFlags, storeFromFlags, withStoreOptions, type StoreFlags } from '../store-flags';
import { loadConfigFile } from './gateway';

type ScopeFlags = { tenant?: string; feature?: string };

const LIMIT_KEYS = ['dailyUsd', 'monthlyUsd', 'dailyTokens', 'monthlyTokens', 'requestsPerMinute'] as const;

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

/** Stores the limits a --set spec names (or clears them without one) and says so: quota limits and tenants set-limits. */
export async function writeLimits(store: QuotaStore, scope: QuotaScope, who: string, spec: string | undefined): Promise<void> {
  const limits = spec ? parseLimitSpec(spec) : null;
  await store.putLimits(scope, limits);
  process.stdout.write(limits ? `limits for ${who}: ${JSON.stringify(limits)}\n` : `limits for ${who} cleared (config applies)\n`);
}

/** A policies file (a JSON array of policies, as in quota.policies), checked like the config; every problem named. */
export function readPoliciesFile(file: string): PolicyConfig[] {
  return readParsed(file, (text) => parseStoredPolicies(text, file));
}

async function sharedStore(o: StoreFlags) {
  const store = await storeFromFlags(o);
  if (!store) throw new UsageError('quota commands change a shared store: use --store dynamodb');
  return store;
}

function scopeOf(o: ScopeFlags): { scope: QuotaScope; who: string } {
  if (o.feature !== undefined && o.tenant === undefined) throw new UsageError('--feature needs --tenant');
  const who = o.tenant === undefined ? 'global' : o.feature === undefined ? `tenant ${o.tenant}` : `${o.tenant}/${o.feature}`;
  return { scope: { tenant: o.tenant, feature: o.feature }, who };
}

/** `quota limits | kill-switch | sweep`: run-time controls in the deployed quota table, no redeploy. */
export function registerQuotaCommands(program: Command): void {
  const quota = program.command('quota').summary('change limits and kill switches at run time (no redeploy)');

  withStoreOptions(
    quota
      .command('limits')
      .description(
        'Store limits that override the config at once, no redeploy. KEY: dailyUsd, monthlyUsd, dailyTokens, monthlyTokens, requestsPerMinute; ' +
          'VALUE: a number, or none to lift the config\'s limit.',
      )
      .option('--tenant <id>', 'one tenant (default: global)')
      .option('--feature <name>', 'one feature of --tenant')
      .addOption(new Option('--set <KEY=VALUE,...>', 'limits to store').conflicts('clear'))
      .addOption(new Option('--clear', 'remove the stored limits (the config applies)').conflicts('set')),
    'dynamodb',
  ).action(
    action<ScopeFlags & StoreFlags & { set?: string; clear?: boolean }>(async (o) => {
      if (!o.set && !o.clear) throw new UsageError('quota limits needs one of --set or --clear');
      const { scope, who } = scopeOf(o);
      await writeLimits(await sharedStore(o), scope, who, o.set);
    }),
  );

  withStoreOptions(
    quota
      .command('kill-switch')
      .description('Block or downgrade the premium tiers (quota.premiumTiers), globally or for one tenant; --off resets it.')
      .option('--tenant <id>', 'one tenant (default: global)')
      .addOption(new Option('--on <mode>', 'block: refuse premium-tier requests; downgrade: serve them from a cheaper tier').choices(['block', 'downgrade']).conflicts('off'))
      .option('--reason <text>', 'recorded with the switch')
      .addOption(new Option('--off', 'reset the switch').conflicts('on')),
    'dynamodb',
  ).action(
    action<ScopeFlags & StoreFlags & { on?: 'block' | 'downgrade'; off?: boolean; reason?: string }>(async (o) => {
      if (!o.on && !o.off) throw new UsageError('quota kill-switch needs one of --on block|downgrade or --off');
      const { scope, who } = scopeOf(o);
      await (await sharedStore(o)).setKillSwitch(scope, o.on ? { mode: o.on, reason: o.reason, setAt: new Date().toISOString() } : null);
      process.stdout.write(o.on ? `kill switch for ${who}: ${o.on}\n` : `kill switch for ${who}: off\n`);
    }),
  );

  withStoreOptions(
    quota
      .command('policies')
      .description(
        'A tenant\'s own policies, beside the config\'s quota.policies and applied without a redeploy (within quota.controlsCacheSeconds): ' +
          'FILE is a JSON array of policies in the config\'s shape (docs/governance.md); they count that tenant only and are named <tenant>/<id>. ' +
          'Without --set or --clear, prints them.',
      )
      .requiredOption('--tenant <id>', 'the tenant')
      .addOption(new Option('--set <file>', 'store the policies in FILE (replacing the tenant\'s stored ones)').conflicts('clear'))
      .addOption(new Option('--clear', 'remove the tenant\'s stored policies').conflicts('set')),
    'dynamodb',
  ).action(
    action<StoreFlags & { tenant: string; set?: string; clear?: boolean }>(async (o) => {
      const store = await sharedStore(o);
      if (o.set) {
        const policies = readPoliciesFile(o.set);
        await store.putPolicies(o.tenant, policies);
        process.stdout.write(`${policies.length} polic${policies.length === 1 ? 'y' : 'ies'} stored for tenant ${o.tenant}: ${policies.map((p) => `${o.tenant}/${p.id}`).join(', ')}\n`);
      } else if (o.clear) {
        await store.putPolicies(o.tenant, null);
        process.stdout.write(`policies of tenant ${o.tenant} cleared (the config's apply)\n`);
      } else {
        process.stdout.write(`${JSON.stringify((await store.getControls(o.tenant, 'default')).tenantPolicies ?? [], null, 2)}\n`);
      }
    }),
  );

  withStoreOptions(
    quota
      .command('show')
      .description(
        'Every window of a tenant now, as GET /v1/usage answers it: its limits (config and stored) with used, reserved, left, reset time, ' +
          'spend rate and runway, and each policy counting the tenant as a whole (per global, tenant or team).',
      )
      .requiredOption('--tenant <id>', 'the tenant (from the config or created at run time)')
      .requiredOption('--config <file>', 'the gateway config the platform deploys')
      .option('--json', 'the /v1/usage JSON'),
    'dynamodb',
  ).action(
    action<StoreFlags & { tenant: string; config: string; json?: boolean }>(async (o) => {
      const config = loadConfigFile(o.config);
      const d = await dynamoFromFlags(o);
      const store = await storeFromFlags(o);
      if (!store || !d) throw new UsageError('quota show reads a shared store: use --store dynamodb');
      const gateway = new Gateway({
        config, providers: new Map(), quota: store, tenants: new DynamoDbTenantDirectory(d.client, d.table),
        usage: new MemoryUsageSink(), alerts: new MemoryAlertSink(), clock: systemClock, ids: systemIds, sha256,
      });
      const res = await gateway.usage(o.tenant);
      if (res.status !== 200) throw new UsageError(JSON.stringify(res.body));
      const body = res.body as { tenant: string; team: string | null; windows: Record<string, unknown>[]; policies: Record<string, unknown>[] };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(body)}\n`);
        return;
      }
      process.stdout.write(formatUsage(body));
    }),
  );

  withStoreOptions(
    quota.command('sweep').description('Release reservations that expired unsettled (crashed or timed-out requests).'),
    'dynamodb',
  ).action(
    action<StoreFlags>(async (o) => {
      process.stdout.write(`released ${await (await sharedStore(o)).sweepExpired(Date.now())} expired reservations\n`);
    }),
  );
}

const num = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

/** `quota show` as text: one line per window and per policy counter. */
export function formatUsage(body: { tenant: string; team: string | null; windows: Record<string, unknown>[]; policies: Record<string, unknown>[] }): string {
  const lines = [`tenant ${body.tenant}${body.team ? ` (team ${body.team})` : ''}`];
  for (const w of body.windows) {
    const usd = w.spend_usd === undefined ? '' : `  usd ${num(w.spend_usd)} used + ${num(w.reserved_usd)} reserved / ${num(w.limit_usd)} (left ${num(w.remaining_usd)})`;
    const tokens = w.tokens === undefined ? '' : `  tokens ${num(w.tokens)} / ${num(w.limit_tokens)}`;
    const requests = w.requests === undefined ? '' : `  requests ${num(w.requests)} / ${num(w.limit_requests)}`;
    const rate = w.spend_rate_usd_per_hour === undefined ? '' : `  rate $${num(w.spend_rate_usd_per_hour)}/h  runs out ${num(w.runs_out_at)}`;
    lines.push(`  ${String(w.window).padEnd(6)} ${String(w.period).padEnd(16)} resets ${num(w.resets_at)}${usd}${tokens}${requests}${rate}`);
  }
  if (body.policies.length) lines.push('policies:');
  for (const p of body.policies) {
    lines.push(`  ${p.policy} (${p.per} ${p.value}) ${p.window} ${p.period}: ${p.unit} ${num(p.used)} used + ${num(p.reserved)} reserved / ${num(p.limit)} (left ${num(p.remaining)}), resets ${num(p.resets_at)}`);
  }
  return `${lines.join('\n')}\n`;
}
