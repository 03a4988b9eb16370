#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import { LexicalEmbedder } from '../lambda/adapters/lexical-embedder';
import { GatewayConfigSchema } from '../lambda/core/config/schema';
import { evaluateContext, type ContextEvalRow } from '../lambda/core/context/evaluate';
import { buildGateway } from '../lambda/adapters/wiring';
import { sha256 } from '../lambda/adapters/system-runtime';
import { ConfigError, resolveConfig, type ResolvedConfig } from '../lambda/core/config/resolve';
import type { QuotaScope, QuotaStore, StoredLimits } from '../lambda/core/ports';
import { createGatewayServer } from '../lambda/local/http-server';

const USAGE = `llm-finops — cost controls for LLM traffic

Usage:
  llm-finops local --config FILE [--port 8787] [--host 127.0.0.1] [STORE]
      Serve the OpenAI-compatible gateway locally (POST /v1/chat/completions, GET /v1/models, /v1/usage, /health).
  llm-finops quota limits [--tenant T [--feature F]] (--set KEY=VALUE[,...] | --clear) STORE
      Store limits that override the config at once, no redeploy. KEY: dailyUsd, monthlyUsd, dailyTokens,
      monthlyTokens, requestsPerMinute; VALUE: a number, or none to lift the config's limit.
  llm-finops quota kill-switch [--tenant T] (--on block|downgrade [--reason TEXT] | --off) STORE
      Block or downgrade the premium tiers (quota.premiumTiers), globally or for one tenant; --off resets it.
  llm-finops quota sweep STORE
      Release reservations that expired unsettled (crashed or timed-out requests).
  llm-finops config validate --config FILE
      Validate a gateway config; prints every invalid field.
  llm-finops context eval --data FILE.jsonl [--budget SHARE] [--embedder lexical|none] [--json]
      Run the context step's re-ranking on rows {question, chunks, answer_chunk_ids}: the share of chunk tokens
      removed and the shares of rows keeping at least one / every answer-bearing chunk. SHARE: kept share (0.4).
  llm-finops hash-key KEY
      Print the SHA-256 of an API key, for tenants[].apiKeys[].sha256.

STORE (quota counters and controls):
  --store memory|dynamodb        memory: in this process only (default for local)
  --dynamodb-table NAME          default llm-finops-quota
  --dynamodb-endpoint URL        e.g. http://127.0.0.1:8000 (dynalite, DynamoDB Local); on loopback the table is
                                 created if missing and dummy credentials are used when none are set
  --region REGION
`;

const STORE_OPTIONS = {
  store: { type: 'string', default: 'memory' },
  'dynamodb-table': { type: 'string', default: 'llm-finops-quota' },
  'dynamodb-endpoint': { type: 'string' },
  region: { type: 'string' },
} as const;

const LIMIT_KEYS = ['dailyUsd', 'monthlyUsd', 'dailyTokens', 'monthlyTokens', 'requestsPerMinute'] as const;

/** The quota store the flags name; undefined for memory (the gateway then keeps its own counters). */
async function storeFromFlags(values: { store?: string; 'dynamodb-table'?: string; 'dynamodb-endpoint'?: string; region?: string }): Promise<QuotaStore | undefined> {
  if (values.store === 'memory') return undefined;
  if (values.store !== 'dynamodb') throw new UsageError(`--store must be memory or dynamodb, got ${values.store}`);
  const endpoint = values['dynamodb-endpoint'];
  let loopback = false;
  if (endpoint) {
    try {
      loopback = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(new URL(endpoint).hostname);
    } catch {
      throw new UsageError(`--dynamodb-endpoint is not a URL: ${endpoint}`);
    }
  }
  const client = new DynamoDBClient({
    endpoint,
    region: values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(loopback && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const table = values['dynamodb-table']!;
  if (loopback) await ensureQuotaTable(client, table);
  return new DynamoDbQuotaStore(client, table);
}

function parseLimits(spec: string): StoredLimits {
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
  return out;
}

async function quotaCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      ...STORE_OPTIONS,
      tenant: { type: 'string' },
      feature: { type: 'string' },
      set: { type: 'string' },
      clear: { type: 'boolean' },
      on: { type: 'string' },
      off: { type: 'boolean' },
      reason: { type: 'string' },
    },
  });
  const store = await storeFromFlags(values);
  if (!store) throw new UsageError('quota commands change a shared store: use --store dynamodb');
  if (values.feature !== undefined && values.tenant === undefined) throw new UsageError('--feature needs --tenant');
  const scope: QuotaScope = { tenant: values.tenant, feature: values.feature };
  const who = values.tenant === undefined ? 'global' : values.feature === undefined ? `tenant ${values.tenant}` : `${values.tenant}/${values.feature}`;
  if (sub === 'limits') {
    if (!!values.set === !!values.clear) throw new UsageError('quota limits needs exactly one of --set or --clear');
    const limits = values.set ? parseLimits(values.set) : null;
    await store.putLimits(scope, limits);
    process.stdout.write(limits ? `limits for ${who}: ${JSON.stringify(limits)}
` : `limits for ${who} cleared (config applies)
`);
    return 0;
  }
  if (sub === 'kill-switch') {
    if (values.feature !== undefined) throw new UsageError('a kill switch is global or per tenant');
    if (!!values.on === !!values.off) throw new UsageError('quota kill-switch needs exactly one of --on block|downgrade or --off');
    if (values.on && values.on !== 'block' && values.on !== 'downgrade') throw new UsageError(`--on must be block or downgrade, got ${values.on}`);
    await store.setKillSwitch(scope, values.on ? { mode: values.on as 'block' | 'downgrade', reason: values.reason, setAt: new Date().toISOString() } : null);
    process.stdout.write(values.on ? `kill switch for ${who}: ${values.on}
` : `kill switch for ${who}: off
`);
    return 0;
  }
  if (sub === 'sweep') {
    process.stdout.write(`released ${await store.sweepExpired(Date.now())} expired reservations
`);
    return 0;
  }
  throw new UsageError(`unknown quota command '${sub ?? ''}'`);
}

/** Reads and validates a config file; a relative usage.path is taken relative to the file. */
export function loadConfigFile(file: string): ResolvedConfig {
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  if (raw?.usage?.path && !isAbsolute(raw.usage.path)) raw.usage.path = resolve(dirname(file), raw.usage.path);
  return resolveConfig(raw);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  if (cmd === 'hash-key') {
    if (rest.length !== 1) throw new UsageError('hash-key takes exactly one KEY');
    process.stdout.write(`${sha256(rest[0])}\n`);
    return 0;
  }
  if (cmd === 'config' && rest[0] === 'validate') {
    const { values } = parseArgs({ args: rest.slice(1), options: { config: { type: 'string' } } });
    if (!values.config) throw new UsageError('--config FILE is required');
    const cfg = loadConfigFile(values.config);
    process.stdout.write(`ok: ${cfg.models.size} models, ${cfg.tiers.size} tiers, ${cfg.tenants.size} tenants\n`);
    return 0;
  }
  if (cmd === 'quota') return quotaCommand(rest);
  if (cmd === 'context' && rest[0] === 'eval') return contextEval(rest.slice(1));
  if (cmd === 'local') {
    const { values } = parseArgs({
      args: rest,
      options: { config: { type: 'string' }, port: { type: 'string', default: '8787' }, host: { type: 'string', default: '127.0.0.1' }, ...STORE_OPTIONS },
    });
    if (!values.config) throw new UsageError('--config FILE is required');
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got ${values.port}`);
    const config = loadConfigFile(values.config);
    const quota = await storeFromFlags(values);
    const gateway = buildGateway(config, { env: process.env, quota, warn: (m) => process.stderr.write(`warning: ${m}\n`) });
    const server = createGatewayServer(gateway);
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, values.host, ok));
    const addr = server.address();
    const actual = typeof addr === 'object' && addr ? addr.port : port;
    process.stdout.write(
      `llm-finops gateway listening on http://${values.host}:${actual}/v1 (${config.tenants.size} tenants, quota store: ${values.store}, ` +
        `usage sink: ${config.raw.usage.sink}${config.raw.usage.path ? ` ${config.raw.usage.path}` : ''})\n`,
    );
    const stop = (): void => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return new Promise<number>(() => undefined);
  }
  throw new UsageError(`unknown command '${cmd}'`);
}

class UsageError extends Error {}

async function contextEval(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, budget: { type: 'string' }, embedder: { type: 'string', default: 'lexical' }, json: { type: 'boolean' } },
  });
  if (!values.data) throw new UsageError('--data FILE.jsonl is required');
  const defaults = GatewayConfigSchema.shape.context.parse({ policies: [{}] }).policies[0];
  const budget = values.budget === undefined ? defaults.rerankBudget : Number(values.budget);
  if (!(budget > 0 && budget <= 1)) throw new UsageError(`--budget must be a share in (0, 1], got ${values.budget}`);
  if (values.embedder !== 'lexical' && values.embedder !== 'none') throw new UsageError(`--embedder must be lexical or none, got ${values.embedder}`);
  const rows: ContextEvalRow[] = readFileSync(values.data, 'utf8').split('\n').filter((l) => l.trim()).map((line, i) => {
    const r = JSON.parse(line);
    if (typeof r.question !== 'string' || !Array.isArray(r.chunks) || !Array.isArray(r.answer_chunk_ids)) {
      throw new UsageError(`${values.data}:${i + 1}: expected {question, chunks: [...], answer_chunk_ids: [...]}`);
    }
    return r;
  });
  const embedder = values.embedder === 'lexical' ? new LexicalEmbedder() : undefined;
  const result = await evaluateContext(rows, { ...defaults, rerankBudget: budget }, embedder ? (t) => embedder.embed(t) : undefined);
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `${result.rows} rows, budget ${budget}: ${(result.token_reduction * 100).toFixed(1)}% of chunk tokens removed; ` +
        `answer kept in ${(result.answer_kept_any * 100).toFixed(1)}% of rows (all answer chunks in ${(result.answer_kept_all * 100).toFixed(1)}%)\n`,
    );
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
      else if (err instanceof UsageError) process.stderr.write(`error: ${err.message}\n\n${USAGE}`);
      else process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
