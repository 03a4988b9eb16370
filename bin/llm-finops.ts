#!/usr/bin/env node
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LexicalEmbedder } from '../lambda/adapters/lexical-embedder';
import { MemoryExactCache } from '../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../lambda/adapters/memory-quota-store';
import { LogAlertSink } from '../lambda/adapters/usage-sinks';
import { replay, type TraceRow } from '../lambda/core/finops/replay';
import { renderReport, type ReportRecord } from '../lambda/core/finops/report';
import { sqlReportCommand } from './report-commands';
import { estimate, UNIT_PRICES, type UsageProfile } from '../lambda/core/finops/estimate';
import { GatewayConfigSchema } from '../lambda/core/config/schema';
import { evaluateContext, type ContextEvalRow } from '../lambda/core/context/evaluate';
import { apiCost, crossover, crossoverSvg, instancesFor, selfHostedCost, type CrossoverInput } from '../lambda/core/finops/crossover';
import { findCatalogPrice, PRICE_CATALOG } from '../lambda/core/pricing/catalog';
import { buildGateway } from '../lambda/adapters/wiring';
import { loadArtefacts } from '../lambda/adapters/artefacts';
import { sha256, systemClock, systemIds } from '../lambda/adapters/system-runtime';
import { ConfigError, lifecycleWarnings, resolveConfig, type ResolvedConfig } from '../lambda/core/config/resolve';
import type { QuotaScope } from '../lambda/core/ports';
import { createGatewayServer } from '../lambda/local/http-server';
import { CACHE_USAGE, cacheCommand } from './cache-commands';
import { UsageError } from './cli-support';
import { dynamoFromFlags, STORE_OPTIONS, storeFromFlags } from './store-flags';
import { DynamoDbTenantDirectory } from '../lambda/adapters/dynamodb-tenant-directory';
import { parseLimitSpec, TENANTS_USAGE, tenantsCommand } from './tenant-commands';
import { feedbackCommand, ROUTER_USAGE, routerCommand } from './router-commands';
import { PRICES_USAGE, pricesCommand } from './prices-commands';

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
  llm-finops crossover (--tokens-per-month N | --usage FILE) --model M --instance TYPE [--instances K]
      [--throughput TOKENS_PER_SEC] [--utilisation U] [--commitment none|1yr|3yr] [--ops-usd-per-month X]
      [--input-share S] [--svg FILE] [--json]
      API cost against self-hosting as monthly tokens grow: the break-even volume and where you stand.
  llm-finops replay --trace FILE.jsonl [--config FILE] [--json]
      Run a trace through the real pipeline with a simulated provider under each lever (baseline model only,
      caching, routing, context optimisation, all): cost, saving and a quality proxy, per tenant and feature.
  llm-finops report --usage FILE.jsonl|DIR [--cur DIR] [--focus DIR] [--by DIM,...] [--query NAME]
                    [--format table|json|csv] [--tenant-tag KEY]
      The attribution SQL (the same text as the Athena named queries) on DuckDB, over a usage log (JSONL, or the
      Parquet Firehose delivers) and local copies of the CUR 2.0 / FOCUS exports. --by groups spend by day, month,
      tenant, feature, team, model, provider, tier, cache; --query runs one of spend-by-dimension, unit-economics,
      savings, bedrock-spend, sagemaker-hosting, reconciliation, focus, focus-gateway. Default: spend by tenant and
      feature, savings, and with --cur the bill allocated to tenants.
  llm-finops report --usage FILE.jsonl --html OUT.html [--title TEXT]
      A self-contained HTML report from a usage log: spend over time, by tenant, feature and model, savings,
      the costliest requests.
  llm-finops estimate [--app cdk.out] [--usage FILE.jsonl] [--json]
      The fixed monthly cost of the synthesised stacks (itemised) and the variable cost per request; with a usage
      log, the monthly total at its request rate and mean duration.
  llm-finops hash-key KEY
      Print the SHA-256 of an API key, for tenants[].apiKeys[].sha256.
${TENANTS_USAGE}${CACHE_USAGE}${ROUTER_USAGE}${PRICES_USAGE}
STORE (quota counters and controls):
  --store memory|dynamodb        memory: in this process only (default for local)
  --dynamodb-table NAME          default llm-finops-quota
  --dynamodb-endpoint URL        e.g. http://127.0.0.1:8000 (dynalite, DynamoDB Local); on loopback the table is
                                 created if missing and dummy credentials are used when none are set
  --region REGION
`;



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
    const limits = values.set ? parseLimitSpec(values.set) : null;
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
    for (const w of lifecycleWarnings(cfg, Date.now())) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`ok: ${cfg.models.size} models, ${cfg.tiers.size} tiers, ${cfg.tenants.size} tenants\n`);
    return 0;
  }
  if (cmd === 'quota') return quotaCommand(rest);
  if (cmd === 'crossover') return crossoverCommand(rest);
  if (cmd === 'prices') return pricesCommand(rest);
  if (cmd === 'replay') return replayCommand(rest);
  if (cmd === 'report') return reportCommand(rest);
  if (cmd === 'estimate') return estimateCommand(rest);
  if (cmd === 'context' && rest[0] === 'eval') return contextEval(rest.slice(1));
  if (cmd === 'cache') return cacheCommand(rest);
  if (cmd === 'router') return routerCommand(rest);
  if (cmd === 'tenants') return tenantsCommand(rest);
  if (cmd === 'feedback') return feedbackCommand(rest);
  if (cmd === 'local') {
    const { values } = parseArgs({
      args: rest,
      options: { config: { type: 'string' }, port: { type: 'string', default: '8787' }, host: { type: 'string', default: '127.0.0.1' }, ...STORE_OPTIONS },
    });
    if (!values.config) throw new UsageError('--config FILE is required');
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got ${values.port}`);
    const config = loadConfigFile(values.config);
    for (const w of lifecycleWarnings(config, Date.now())) process.stderr.write(`warning: ${w}\n`);
    const dynamo = await dynamoFromFlags(values);
    const quota = await storeFromFlags(values);
    const tenants = dynamo ? new DynamoDbTenantDirectory(dynamo.client, dynamo.table) : undefined;
    const baseDir = dirname(resolve(values.config));
    const artefacts = await loadArtefacts(config, { baseDir });
    const gateway = buildGateway(config, { env: process.env, quota, tenants, baseDir, artefacts, warn: (m) => process.stderr.write(`warning: ${m}\n`) });
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

async function estimateCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { app: { type: 'string', default: 'cdk.out' }, usage: { type: 'string' }, json: { type: 'boolean' } } });
  const dir = values.app!;
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.template.json'));
  } catch {
    throw new UsageError(`cannot read ${dir}: synthesise first (npm start) or pass --app DIR`);
  }
  if (!files.length) throw new UsageError(`${dir} holds no *.template.json: synthesise first (npm start)`);
  const stacks = Object.fromEntries(files.map((f) => [f.replace(/\.template\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8'))]));
  let profile: UsageProfile | undefined;
  if (values.usage) {
    const { records, days } = readUsageLog(values.usage);
    const latency = records.reduce((sum, r) => sum + (typeof r.latency_ms === 'number' ? r.latency_ms : 0), 0);
    profile = {
      requestsPerMonth: Math.round((records.length / days) * DAYS_PER_MONTH),
      meanDurationSeconds: records.length ? Math.round(latency / records.length) / 1000 : 3,
    };
  }
  const e = estimate(stacks, profile);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(e)}\n`);
    return 0;
  }
  process.stdout.write(`Fixed monthly cost of ${files.length} stack(s) in ${dir} (unit prices of ${UNIT_PRICES.asOf}, us-east-1):\n`);
  for (const f of e.fixed) process.stdout.write(`  ${(f.usdPerMonth === null ? 'unpriced' : `$${f.usdPerMonth.toFixed(2)}`).padStart(10)}  ${f.type}  ${f.stack}/${f.resource}  (${f.basis})\n`);
  process.stdout.write(`  ${`$${e.fixedUsdPerMonth.toFixed(2)}`.padStart(10)}  total fixed${e.unpriced.length ? ` (excluding ${e.unpriced.length} unpriced)` : ''}\n`);
  process.stdout.write('Variable cost per 1M requests (model tokens excluded):\n');
  for (const [k, v] of Object.entries(e.variablePerMillionRequests)) process.stdout.write(`  ${`$${v.toFixed(2)}`.padStart(10)}  ${k}\n`);
  process.stdout.write(`  ${`$${e.variableUsdPerMillionRequests.toFixed(2)}`.padStart(10)}  total per 1M requests\n`);
  if (e.usage) {
    process.stdout.write(`At ${e.usage.requestsPerMonth.toLocaleString('en-US')} requests/month (mean ${e.usage.meanDurationSeconds} s): $${e.usage.variableUsdPerMonth.toFixed(2)} variable + $${e.fixedUsdPerMonth.toFixed(2)} fixed = $${e.usage.totalUsdPerMonth.toFixed(2)} per month\n`);
  }
  return 0;
}

async function reportCommand(args: string[]): Promise<number> {
  if (!args.includes('--html')) return sqlReportCommand(args, (s) => process.stdout.write(s));
  const { values } = parseArgs({ args, options: { usage: { type: 'string' }, html: { type: 'string' }, title: { type: 'string' } } });
  if (!values.usage || !values.html) throw new UsageError('report needs --usage FILE.jsonl and --html OUT.html');
  const records: ReportRecord[] = [];
  readFileSync(values.usage, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const r = JSON.parse(line);
    if (r.type === 'feedback') return;
    if (typeof r.tenant !== 'string' || typeof r.cost_micros !== 'number' || typeof r.ts !== 'string') {
      throw new UsageError(`${values.usage}:${i + 1}: not a usage record (needs ts, tenant, cost_micros)`);
    }
    records.push(r);
  });
  writeFileSync(values.html, renderReport(records, { title: values.title, generatedAt: new Date().toISOString() }));
  process.stdout.write(`wrote ${values.html} (${records.length} requests)\n`);
  return 0;
}

const PACKAGE_ROOT = resolve(__dirname, __dirname.includes(`${'dist'}`) ? '../..' : '..');

async function replayCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { trace: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } } });
  if (!values.trace) throw new UsageError('--trace FILE.jsonl is required');
  const configFile = values.config ?? join(PACKAGE_ROOT, 'examples', 'replay', 'gateway.json');
  const base = JSON.parse(readFileSync(configFile, 'utf8'));
  const rows: TraceRow[] = readFileSync(values.trace, 'utf8').split('\n').filter((l) => l.trim()).map((line, i) => {
    const r = JSON.parse(line);
    if (!Array.isArray(r.messages)) throw new UsageError(`${values.trace}:${i + 1}: a trace row needs messages: [...]`);
    return r;
  });
  let lastShown = 0;
  const report = await replay(
    base,
    rows,
    () => ({ quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(100_000), embedder: new LexicalEmbedder(), alerts: new LogAlertSink(), clock: systemClock, ids: systemIds, sha256 }),
    (scenario, done) => {
      if (done === rows.length || Date.now() - lastShown > 500) {
        lastShown = Date.now();
        process.stderr.write(`\rreplay ${scenario}: ${done}/${rows.length}${done === rows.length ? '\n' : ''}`);
      }
    },
  );
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  process.stdout.write(`${report.requests} requests (${report.rows_with_estimated_tokens} with estimated tokens), config ${configFile}\n`);
  process.stdout.write(`  scenario   cost USD      saving   cache hits  quality\n`);
  for (const [name, r] of Object.entries(report.scenarios)) {
    process.stdout.write(`  ${name.padEnd(9)}  ${r.cost_usd.toFixed(6).padStart(11)}  ${pct(r.saving).padStart(7)}  ${String(r.cache_hits).padStart(10)}  ${r.quality === null ? '   -' : `${pct(r.quality)} of ${r.quality_rows}`}\n`);
  }
  process.stdout.write('  by tenant and feature (baseline -> all levers):\n');
  for (const t of report.by_tenant_feature) process.stdout.write(`    ${t.tenant}/${t.feature}: ${t.requests} requests, $${t.baseline_usd.toFixed(6)} -> $${t.all_usd.toFixed(6)}\n`);
  return 0;
}

/** Savings-plan discounts assumed for SageMaker commitments (public "up to" figures are higher; these are typical). */
const COMMITMENT_DISCOUNT = { none: 0, '1yr': 0.3, '3yr': 0.5 } as const;

/** Usage records of a log file and the days they span (at least one), to turn totals into monthly rates. */
function readUsageLog(file: string): { records: Record<string, unknown>[]; days: number } {
  const records: Record<string, unknown>[] = [];
  let first = Infinity;
  let last = -Infinity;
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}:${i + 1}: not JSON`);
    }
    // Feedback lines (type: feedback) share the log; they are outcomes, not requests.
    if (r.type === 'feedback') return;
    records.push(r);
    const t = Date.parse(String(r.ts));
    if (!Number.isNaN(t)) {
      first = Math.min(first, t);
      last = Math.max(last, t);
    }
  });
  return { records, days: Math.max(1, (last - first) / 86_400_000) };
}

const DAYS_PER_MONTH = 30.42;

/** Monthly token rate of a usage log: every token it records, over the days it spans. */
function monthlyTokensFromUsage(file: string): number {
  const { records, days } = readUsageLog(file);
  const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const tokens = records.reduce((sum, r) => sum + n(r.input_tokens) + n(r.output_tokens) + n(r.cache_read_tokens) + n(r.cache_write_tokens), 0);
  return Math.round((tokens / days) * DAYS_PER_MONTH);
}

function num(name: string, v: string | undefined, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number >= 0, got '${v}'`);
  return n;
}

async function crossoverCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'tokens-per-month': { type: 'string' }, usage: { type: 'string' }, model: { type: 'string' }, instance: { type: 'string' },
      instances: { type: 'string' }, throughput: { type: 'string' }, utilisation: { type: 'string' }, commitment: { type: 'string', default: 'none' },
      'ops-usd-per-month': { type: 'string' }, 'input-share': { type: 'string' }, svg: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  if (!!values['tokens-per-month'] === !!values.usage) throw new UsageError('give exactly one of --tokens-per-month N or --usage FILE');
  if (!values.model) throw new UsageError('--model is required (a price-catalog model id, e.g. gpt-5.4-mini)');
  if (!values.instance) throw new UsageError('--instance is required (e.g. ml.inf2.xlarge)');
  const price = findCatalogPrice(values.model);
  if (!price) throw new UsageError(`no catalog price for model '${values.model}'`);
  const inst = PRICE_CATALOG.instances.find((i) => i.id === values.instance);
  if (!inst) throw new UsageError(`no catalog price for instance '${values.instance}' (known: ${PRICE_CATALOG.instances.map((i) => i.id).join(', ')})`);
  const commitment = values.commitment as keyof typeof COMMITMENT_DISCOUNT;
  if (!(commitment in COMMITMENT_DISCOUNT)) throw new UsageError(`--commitment must be none, 1yr or 3yr, got ${values.commitment}`);
  const inputShare = num('input-share', values['input-share'], 0.75);
  if (inputShare > 1) throw new UsageError('--input-share must be in [0, 1]');
  const user = values.usage ? monthlyTokensFromUsage(values.usage) : num('tokens-per-month', values['tokens-per-month']);
  const input: CrossoverInput = {
    apiUsdPerMTok: inputShare * price.inputPerMTok + (1 - inputShare) * price.outputPerMTok,
    instanceUsdPerHour: inst.usdPerHour,
    minInstances: num('instances', values.instances, 1),
    tokensPerSecond: num('throughput', values.throughput, 500),
    utilisation: num('utilisation', values.utilisation, 0.5),
    commitmentDiscount: COMMITMENT_DISCOUNT[commitment],
    opsUsdPerMonth: num('ops-usd-per-month', values['ops-usd-per-month'], 0),
  };
  let result;
  try {
    result = crossover(input);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const api = apiCost(input, user);
  const self = selfHostedCost(input, user);
  if (values.svg) writeFileSync(values.svg, crossoverSvg(input, result, { userTokensPerMonth: user, apiLabel: values.model, selfLabel: `${inst.id} instances` }));
  const out = {
    model: values.model,
    instance: inst.id,
    assumptions: { ...input, inputShare, instancePriceSource: `${inst.source}@${inst.asOf}${inst.verified ? '' : ' (unverified)'}` },
    tokens_per_month: user,
    api_usd_per_month: Math.round(api * 100) / 100,
    self_hosted_usd_per_month: Math.round(self * 100) / 100,
    instances_needed: instancesFor(input, user),
    tokens_per_instance_month: Math.round(result.tokensPerInstanceMonth),
    break_even_tokens_per_month: result.breakEvenTokensPerMonth,
    self_hosted_floor_usd_per_mtok: Math.round(result.selfHostedFloorUsdPerMTok * 10000) / 10000,
    cheaper: api <= self ? 'api' : 'self-hosted',
  };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    const be = out.break_even_tokens_per_month === null
      ? `never: self-hosting costs at least $${out.self_hosted_floor_usd_per_mtok}/1M tokens, the API $${input.apiUsdPerMTok.toFixed(4)}/1M`
      : `${out.break_even_tokens_per_month.toLocaleString('en-US')} tokens/month`;
    process.stdout.write(
      `${values.model} API vs ${inst.id} (${input.tokensPerSecond} tok/s at ${input.utilisation * 100}% utilisation, commitment ${commitment})\n` +
        `  break-even:          ${be}\n` +
        `  your volume:         ${user.toLocaleString('en-US')} tokens/month\n` +
        `  API:                 $${out.api_usd_per_month.toLocaleString('en-US')} per month\n` +
        `  self-hosted:         $${out.self_hosted_usd_per_month.toLocaleString('en-US')} per month on ${out.instances_needed} instance(s)\n` +
        `  cheaper for you:     ${out.cheaper}\n` +
        (values.svg ? `  chart:               ${values.svg}\n` : ''),
    );
  }
  return 0;
}

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
  const result = await evaluateContext(rows, { ...defaults, rerankBudget: budget }, embedder ? async (t) => (await embedder.embed(t)).vectors : undefined);
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
