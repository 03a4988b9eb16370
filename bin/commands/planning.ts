import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Option, type Command } from 'commander';
import { LexicalEmbedder } from '../../lambda/adapters/lexical-embedder';
import { MemoryExactCache } from '../../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../../lambda/adapters/memory-quota-store';
import { sha256, systemClock, systemIds } from '../../lambda/adapters/system-runtime';
import { LogAlertSink } from '../../lambda/adapters/usage-sinks';
import { apiCost, committedThroughputInput, crossover, crossoverSvg, HOURS_PER_MONTH, instancesFor, selfHostedCost, type CrossoverInput, type CrossoverOption } from '../../lambda/core/finops/crossover';
import { estimate, UNIT_PRICES, type UsageProfile } from '../../lambda/core/finops/estimate';
import { DAYS_PER_MONTH, daysSpanned } from '../../lambda/core/finops/usage-span';
import { replay, type TraceRow } from '../../lambda/core/finops/replay';
import { findCatalogPrice, PRICE_CATALOG } from '../../lambda/core/pricing/catalog';
import { action, integerIn, numberIn, packagedFile, readJsonLines, UsageError } from '../cli-support';
import { progressBar } from '../progress';

/** replay's default config: the example the CLI package ships. */
function defaultReplayConfig(): string {
  return packagedFile(join('examples', 'replay', 'gateway.json'), 'pass --config FILE');
}

/** Savings-plan discounts assumed for SageMaker commitments (public "up to" figures are higher; these are typical). */
const COMMITMENT_DISCOUNT = { none: 0, '1yr': 0.3, '3yr': 0.5 } as const;

/** Usage records of a log file and the days they span (at least one), to turn totals into monthly rates. */
function readUsageLog(file: string): { records: Record<string, unknown>[]; days: number } {
  // Feedback lines (type: feedback) share the log; they are outcomes, not requests.
  const records = readJsonLines(file).map((l) => l.value).filter((r) => r.type !== 'feedback');
  return { records, days: daysSpanned(records) };
}

/** Monthly token rate of a usage log: every token it records, over the days it spans. */
function monthlyTokensFromUsage(file: string): number {
  const { records, days } = readUsageLog(file);
  const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const tokens = records.reduce((sum, r) => sum + n(r.input_tokens) + n(r.output_tokens) + n(r.cache_read_tokens) + n(r.cache_write_tokens), 0);
  return Math.round((tokens / days) * DAYS_PER_MONTH);
}

/** `estimate`, `crossover`, `replay`: what the platform, self-hosting and each lever would cost. */
export function registerPlanningCommands(program: Command): void {
  program
    .command('estimate')
    .summary('the monthly cost of the synthesised stacks')
    .description(
      'The fixed monthly cost of the synthesised stacks (itemised) and the variable cost per request; with a usage log, the monthly total ' +
        'at its request rate and mean duration.',
    )
    .option('--app <dir>', 'the cloud assembly (cdk synth output)', 'cdk.out')
    .option('--usage <log.jsonl>', 'a usage log for the request rate and mean duration')
    .option('--json', 'print JSON')
    .action(action<{ app: string; usage?: string; json?: boolean }>((o) => estimateCommand(o)));

  program
    .command('crossover')
    .summary('API cost against self-hosting: the break-even volume')
    .description(
      'API cost against self-hosting as monthly tokens grow: the break-even volume and where you stand. The API side is a catalog ' +
        'model (--model) or dollars (--api-usd-per-month); the capacity side a catalog instance, any hourly price ' +
        '(--instance-usd-per-hour) or a monthly figure (--capacity-usd-per-month). Without a token volume it compares the two monthly ' +
        'figures at your volume (capacity to spare).',
    )
    .addOption(new Option('--tokens-per-month <n>', 'your monthly token volume').argParser(numberIn(0, Infinity)).conflicts('usage'))
    .addOption(new Option('--usage <log.jsonl>', 'take the monthly token volume from a usage log').conflicts('tokensPerMonth'))
    .option('--model <id>', 'a price-catalog model id, e.g. gpt-5.4-mini')
    .addOption(new Option('--api-usd-per-month <usd>', 'what the API costs you a month at your volume, instead of --model').argParser(numberIn(0, Infinity)).conflicts('model'))
    .option('--instance <type>', `a catalog instance type (${PRICE_CATALOG.instances.map((i) => i.id).join(', ')}), or a label with --instance-usd-per-hour`)
    .option('--instance-usd-per-hour <usd>', 'the hourly price of one instance (EC2, SageMaker, another cloud), instead of the catalog', numberIn(0, Infinity, { min: true }))
    .addOption(new Option('--capacity-usd-per-month <usd>', 'the capacity\'s monthly cost as a whole (e.g. a quoted cluster), with no token volume').argParser(numberIn(0, Infinity)).conflicts(['instance', 'instanceUsdPerHour']))
    .option('--instances <k>', 'minimum instances kept up', integerIn(1), 1)
    .option('--throughput <tokens-per-sec>', 'tokens per second one instance serves', numberIn(0, Infinity, { min: true }), 500)
    .option('--utilisation <u>', 'share of that throughput used on average', numberIn(0, 1, { min: true }), 0.5)
    .addOption(new Option('--commitment <term>', 'savings-plan commitment at assumed discounts (1yr 30%, 3yr 50%)').choices(['none', '1yr', '3yr']).default('none'))
    .addOption(new Option('--discount <share>', 'your actual commitment discount (RI / Savings Plan rate), instead of --commitment').argParser(numberIn(0, 1, { max: true })).conflicts('commitment'))
    .option('--ops-usd-per-month <x>', 'MLOps overhead of self-hosting', numberIn(0, Infinity), 0)
    .option('--transfer-gb-per-month <gb>', 'data transfer of responses out of your VPC at your volume', numberIn(0, Infinity), 0)
    .option('--transfer-usd-per-gb <usd>', 'its price (internet egress from us-east-1, first 10 TB: 0.09)', numberIn(0, Infinity), 0.09)
    .option('--input-share <s>', 'share of tokens that are input', numberIn(0, 1), 0.75)
    .option('--pt-usd-per-unit-hour <usd>', 'committed throughput as an option: one Bedrock Provisioned Throughput model unit or Azure PTU, per hour', numberIn(0, Infinity, { min: true }))
    .option('--pt-tokens-per-minute <n>', 'tokens a minute one such unit serves (from your account team or load test)', numberIn(0, Infinity, { min: true }))
    .option('--svg <file>', 'write the chart (needs a token volume)')
    .option('--json', 'print JSON')
    .action(action<CrossoverFlags>((o) => crossoverCommand(o)));

  program
    .command('replay')
    .summary('what each lever would have saved on a trace')
    .description(
      'Run a trace through the real pipeline with a simulated provider under each lever (baseline model only, caching, routing, context ' +
        'optimisation, all): cost, saving and a quality proxy, per tenant and feature.',
    )
    .requiredOption('--trace <file.jsonl>', 'rows {messages, tenant?, feature?, ...}')
    .option('--config <file>', 'gateway config (default: the package\'s examples/replay/gateway.json)')
    .option('--wait-features <list>', 'features whose requests may wait (comma-separated): adds the scenarios "flex" and "batch", those requests at the Flex tier or the batch price', (v) => v.split(',').map((f) => f.trim()).filter(Boolean))
    .option('--json', 'print JSON')
    .action(action<{ trace: string; config?: string; waitFeatures?: string[]; json?: boolean }>((o) => replayCommand(o)));
}

function estimateCommand(o: { app: string; usage?: string; json?: boolean }): number {
  let files: string[];
  try {
    files = readdirSync(o.app).filter((f) => f.endsWith('.template.json'));
  } catch {
    throw new UsageError(`cannot read ${o.app}: synthesise first (npm start) or pass --app DIR`);
  }
  if (!files.length) throw new UsageError(`${o.app} holds no *.template.json: synthesise first (npm start)`);
  const stacks = Object.fromEntries(files.map((f) => [f.replace(/\.template\.json$/, ''), JSON.parse(readFileSync(join(o.app, f), 'utf8'))]));
  let profile: UsageProfile | undefined;
  if (o.usage) {
    const { records, days } = readUsageLog(o.usage);
    const latency = records.reduce((sum, r) => sum + (typeof r.latency_ms === 'number' ? r.latency_ms : 0), 0);
    profile = {
      requestsPerMonth: Math.round((records.length / days) * DAYS_PER_MONTH),
      meanDurationSeconds: records.length ? Math.round(latency / records.length) / 1000 : 3,
    };
  }
  const e = estimate(stacks, profile);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(e)}\n`);
    return 0;
  }
  const w = (s: string) => process.stdout.write(s);
  w(`Fixed monthly cost of ${files.length} stack(s) in ${o.app} (unit prices of ${UNIT_PRICES.asOf}, us-east-1):\n`);
  for (const f of e.fixed) w(`  ${(f.usdPerMonth === null ? 'unpriced' : `$${f.usdPerMonth.toFixed(2)}`).padStart(10)}  ${f.type}  ${f.stack}/${f.resource}  (${f.basis})\n`);
  w(`  ${`$${e.fixedUsdPerMonth.toFixed(2)}`.padStart(10)}  total fixed${e.unpriced.length ? ` (excluding ${e.unpriced.length} unpriced)` : ''}\n`);
  w('Variable cost per 1M requests (model tokens excluded):\n');
  for (const [k, v] of Object.entries(e.variablePerMillionRequests)) w(`  ${`$${v.toFixed(2)}`.padStart(10)}  ${k}\n`);
  w(`  ${`$${e.variableUsdPerMillionRequests.toFixed(2)}`.padStart(10)}  total per 1M requests\n`);
  if (e.usage) {
    w(`At ${e.usage.requestsPerMonth.toLocaleString('en-US')} requests/month (mean ${e.usage.meanDurationSeconds} s): $${e.usage.variableUsdPerMonth.toFixed(2)} variable + $${e.fixedUsdPerMonth.toFixed(2)} fixed = $${e.usage.totalUsdPerMonth.toFixed(2)} per month\n`);
  }
  return 0;
}

type CrossoverFlags = {
  tokensPerMonth?: number; usage?: string; model?: string; apiUsdPerMonth?: number; instance?: string; instanceUsdPerHour?: number;
  capacityUsdPerMonth?: number; instances: number; throughput: number; utilisation: number; commitment: keyof typeof COMMITMENT_DISCOUNT;
  discount?: number; opsUsdPerMonth: number; transferGbPerMonth: number; transferUsdPerGb: number; inputShare: number; svg?: string; json?: boolean;
  ptUsdPerUnitHour?: number; ptTokensPerMinute?: number;
};

const usd = (x: number): string => `$${(Math.round(x * 100) / 100).toLocaleString('en-US')}`;

function crossoverCommand(o: CrossoverFlags): number {
  const volume = o.usage ? monthlyTokensFromUsage(o.usage) : o.tokensPerMonth;
  if (o.model === undefined && o.apiUsdPerMonth === undefined) throw new UsageError('give the API side: --model ID (catalog prices) or --api-usd-per-month USD');
  if (o.capacityUsdPerMonth === undefined && o.instance === undefined && o.instanceUsdPerHour === undefined) {
    throw new UsageError('give the capacity: --instance TYPE, --instance-usd-per-hour USD or --capacity-usd-per-month USD');
  }
  const discount = o.discount ?? COMMITMENT_DISCOUNT[o.commitment];
  const discountSource = o.discount !== undefined ? 'your discount' : o.commitment === 'none' ? 'on demand' : `assumed ${o.commitment} savings plan`;
  const transferUsd = o.transferGbPerMonth * o.transferUsdPerGb;
  let hourly = o.instanceUsdPerHour;
  let priceSource = 'your price';
  if (hourly === undefined && o.instance !== undefined) {
    const inst = PRICE_CATALOG.instances.find((i) => i.id === o.instance);
    if (!inst) throw new UsageError(`no catalog price for instance '${o.instance}': give --instance-usd-per-hour (known: ${PRICE_CATALOG.instances.map((i) => i.id).join(', ')})`);
    hourly = inst.usdPerHour;
    priceSource = `${inst.source}@${inst.asOf}${inst.verified ? '' : ' (unverified)'}`;
  }
  const capacityLabel = o.capacityUsdPerMonth !== undefined ? 'your capacity' : `${o.instance ?? 'instance'}${o.instanceUsdPerHour !== undefined ? ` at $${o.instanceUsdPerHour}/h` : ''}`;

  // No token volume: compare the two monthly figures at the user's volume (capacity to spare, as quoted).
  if (volume === undefined) {
    if (o.apiUsdPerMonth === undefined) throw new UsageError('give one of --tokens-per-month N or --usage FILE (or the API side in dollars: --api-usd-per-month)');
    if (o.svg) throw new UsageError('--svg needs a token volume (--tokens-per-month or --usage): the chart\'s axis is tokens a month');
    const capacity = o.capacityUsdPerMonth ?? o.instances * hourly! * HOURS_PER_MONTH * (1 - discount);
    const selfHosted = capacity + o.opsUsdPerMonth + transferUsd;
    const out = {
      mode: 'monthly', api_usd_per_month: o.apiUsdPerMonth, capacity_usd_per_month: Math.round(capacity * 100) / 100, ops_usd_per_month: o.opsUsdPerMonth,
      transfer_usd_per_month: Math.round(transferUsd * 100) / 100, self_hosted_usd_per_month: Math.round(selfHosted * 100) / 100,
      saving_usd_per_month: Math.round((o.apiUsdPerMonth - selfHosted) * 100) / 100, break_even_api_usd_per_month: Math.round(selfHosted * 100) / 100,
      cheaper: o.apiUsdPerMonth <= selfHosted ? 'api' : 'self-hosted', assumptions: { discount, discountSource, priceSource: o.capacityUsdPerMonth !== undefined ? 'your figure' : priceSource },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    else {
      const saving = o.apiUsdPerMonth - selfHosted;
      process.stdout.write(
        `API ${usd(o.apiUsdPerMonth)} per month vs ${capacityLabel} (capacity to spare, ${discountSource})\n` +
          `  self-hosted:         ${usd(selfHosted)} per month = capacity ${usd(capacity)} + MLOps ${usd(o.opsUsdPerMonth)} + transfer ${usd(transferUsd)}\n` +
          `  break-even:          self-hosting pays once the API costs more than ${usd(selfHosted)} per month\n` +
          `  ${saving >= 0 ? 'saving' : 'extra cost'}:${saving >= 0 ? '              ' : '          '}${usd(Math.abs(saving))} per month (${((Math.abs(saving) / Math.max(o.apiUsdPerMonth, 1e-9)) * 100).toFixed(1)}% of the API bill)\n` +
          `  cheaper for you:     ${out.cheaper}\n`,
      );
    }
    return 0;
  }

  if (o.capacityUsdPerMonth !== undefined) throw new UsageError('--capacity-usd-per-month compares at your volume only: drop --tokens-per-month/--usage, or give --instance-usd-per-hour');
  let apiUsdPerMTok: number;
  let apiLabel: string;
  let chartLabel: string;
  if (o.apiUsdPerMonth !== undefined) {
    if (volume <= 0) throw new UsageError('--api-usd-per-month needs a token volume above 0 to price a token');
    apiUsdPerMTok = o.apiUsdPerMonth / (volume / 1e6);
    apiLabel = `API at ${usd(o.apiUsdPerMonth)}/month`;
    chartLabel = 'API';
  } else {
    const price = findCatalogPrice(o.model!);
    if (!price) throw new UsageError(`no catalog price for model '${o.model}': give --api-usd-per-month instead`);
    apiUsdPerMTok = o.inputShare * price.inputPerMTok + (1 - o.inputShare) * price.outputPerMTok;
    apiLabel = `${o.model!} API`;
    chartLabel = o.model!;
  }
  const input: CrossoverInput = {
    apiUsdPerMTok,
    instanceUsdPerHour: hourly!,
    minInstances: o.instances,
    tokensPerSecond: o.throughput,
    utilisation: o.utilisation,
    commitmentDiscount: discount,
    opsUsdPerMonth: o.opsUsdPerMonth,
    transferUsdPerMTok: volume > 0 ? transferUsd / (volume / 1e6) : 0,
  };
  let result;
  try {
    result = crossover(input);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const api = apiCost(input, volume);
  const self = selfHostedCost(input, volume);
  // Every other way to buy the capacity, each its own curve: the other commitment terms of the same instance (assumed
  // discounts, as --commitment), and committed throughput when priced.
  const options: CrossoverOption[] = [];
  for (const [term, d] of Object.entries(COMMITMENT_DISCOUNT)) {
    if (d !== discount) options.push({ label: `${capacityLabel}, ${term === 'none' ? 'on demand' : `${term} savings plan (assumed ${d * 100}% off)`}`, input: { ...input, commitmentDiscount: d } });
  }
  if ((o.ptUsdPerUnitHour === undefined) !== (o.ptTokensPerMinute === undefined)) throw new UsageError('committed throughput needs both --pt-usd-per-unit-hour and --pt-tokens-per-minute');
  if (o.ptUsdPerUnitHour !== undefined) {
    options.push({
      label: `committed throughput: $${o.ptUsdPerUnitHour}/unit-hour, ${o.ptTokensPerMinute!.toLocaleString('en-US')} tokens/min per unit`,
      input: committedThroughputInput({ usdPerUnitHour: o.ptUsdPerUnitHour, tokensPerMinutePerUnit: o.ptTokensPerMinute!, utilisation: o.utilisation }, input.apiUsdPerMTok),
    });
  }
  if (o.svg) writeFileSync(o.svg, crossoverSvg(input, result, { userTokensPerMonth: volume, apiLabel: chartLabel, selfLabel: `${capacityLabel} instances`, options }));
  const out = {
    model: o.model ?? null,
    instance: o.instance ?? null,
    assumptions: { ...input, inputShare: o.inputShare, discountSource, instancePriceSource: priceSource },
    tokens_per_month: volume,
    api_usd_per_month: Math.round(api * 100) / 100,
    self_hosted_usd_per_month: Math.round(self * 100) / 100,
    transfer_usd_per_month: Math.round(transferUsd * 100) / 100,
    instances_needed: instancesFor(input, volume),
    tokens_per_instance_month: Math.round(result.tokensPerInstanceMonth),
    break_even_tokens_per_month: result.breakEvenTokensPerMonth,
    self_hosted_floor_usd_per_mtok: Math.round(result.selfHostedFloorUsdPerMTok * 10000) / 10000,
    cheaper: api <= self ? 'api' : 'self-hosted',
    options: options.map((x) => ({
      label: x.label,
      usd_per_month: Math.round(selfHostedCost(x.input, volume) * 100) / 100,
      units: instancesFor(x.input, volume),
      break_even_tokens_per_month: crossover(x.input).breakEvenTokensPerMonth,
    })),
  };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  }
  const be = out.break_even_tokens_per_month === null
    ? `never: self-hosting costs at least $${out.self_hosted_floor_usd_per_mtok}/1M tokens, the API $${input.apiUsdPerMTok.toFixed(4)}/1M`
    : `${out.break_even_tokens_per_month.toLocaleString('en-US')} tokens/month`;
  process.stdout.write(
    `${apiLabel} vs ${capacityLabel} (${input.tokensPerSecond} tok/s at ${input.utilisation * 100}% utilisation, ${o.discount !== undefined ? `discount ${o.discount * 100}%` : `commitment ${o.commitment}`})\n` +
      `  break-even:          ${be}\n` +
      `  your volume:         ${volume.toLocaleString('en-US')} tokens/month\n` +
      `  API:                 $${out.api_usd_per_month.toLocaleString('en-US')} per month\n` +
      `  self-hosted:         $${out.self_hosted_usd_per_month.toLocaleString('en-US')} per month on ${out.instances_needed} instance(s)${transferUsd ? ` (transfer ${usd(transferUsd)})` : ''}\n` +
      `  cheaper for you:     ${out.cheaper}\n` +
      out.options.map((x) => `  or ${x.label}: $${x.usd_per_month.toLocaleString('en-US')} per month (${x.units} unit(s))\n`).join('') +
      (o.svg ? `  chart:               ${o.svg}\n` : ''),
  );
  return 0;
}

async function replayCommand(o: { trace: string; config?: string; waitFeatures?: string[]; json?: boolean }): Promise<number> {
  const configFile = o.config ?? defaultReplayConfig();
  let base;
  try {
    base = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (err) {
    throw new UsageError(`--config ${configFile}: ${(err as Error).message}`);
  }
  const rows = readJsonLines(o.trace).map(({ line, value: r }) => {
    if (!Array.isArray(r.messages)) throw new UsageError(`${o.trace}:${line}: a trace row needs messages: [...]`);
    return r as unknown as TraceRow;
  });
  const bar = progressBar('replay', rows.length, { json: o.json });
  const report = await replay(
    base,
    rows,
    () => ({ quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(100_000), embedder: new LexicalEmbedder(), alerts: new LogAlertSink(), clock: systemClock, ids: systemIds, sha256 }),
    (scenario, done) => bar.update(done, rows.length, `replay ${scenario}`),
    { waitFeatures: o.waitFeatures },
  );
  bar.stop();
  if (o.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const shown = relative(process.cwd(), configFile);
  process.stdout.write(`${report.requests} requests (${report.rows_with_estimated_tokens} with estimated tokens), config ${shown.startsWith('..') ? configFile : shown}\n`);
  process.stdout.write(`  scenario        cost USD      saving   cache hits  quality\n`);
  for (const [name, r] of Object.entries(report.scenarios)) {
    process.stdout.write(`  ${name.padEnd(14)}  ${r.cost_usd.toFixed(6).padStart(11)}  ${pct(r.saving).padStart(7)}  ${String(r.cache_hits).padStart(10)}  ${r.quality === null ? '   -' : `${pct(r.quality)} of ${r.quality_rows}`}\n`);
  }
  const flex = report.scenarios.flex;
  if (flex && report.wait_features) {
    process.stdout.write(`  flex: ${flex.flex_requests} of the ${report.wait_features.requests} requests of ${report.wait_features.features.join(', ')} priced at Flex` +
      `${flex.flex_requests === report.wait_features.requests ? '' : ' (the others: their model has no Flex price, so they ran at standard)'}\n`);
  }
  const batch = report.scenarios.batch;
  if (batch && report.wait_features) {
    process.stdout.write(`  batch: ${batch.batch_requests} of the ${report.wait_features.requests} requests of ${report.wait_features.features.join(', ')} priced at the batch price` +
      `${batch.batch_price_derived ? ' (half of standard where the price has no batch row)' : ''}\n`);
  }
  process.stdout.write('  by tenant and feature (baseline -> all levers):\n');
  for (const t of report.by_tenant_feature) process.stdout.write(`    ${t.tenant}/${t.feature}: ${t.requests} requests, $${t.baseline_usd.toFixed(6)} -> $${t.all_usd.toFixed(6)}\n`);
  return 0;
}
