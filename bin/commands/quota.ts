import { Option, type Command } from 'commander';
import type { QuotaScope, QuotaStore, StoredLimits } from '../../lambda/core/ports';
import { action, UsageError } from '../cli-support';
import { storeFromFlags, withStoreOptions, type StoreFlags } from '../store-flags';

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
    quota.command('sweep').description('Release reservations that expired unsettled (crashed or timed-out requests).'),
    'dynamodb',
  ).action(
    action<StoreFlags>(async (o) => {
      process.stdout.write(`released ${await (await sharedStore(o)).sweepExpired(Date.now())} expired reservations\n`);
    }),
  );
}
