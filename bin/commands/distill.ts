import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { distillChart, planDistillation, shadowReport, type DistillHosting, type DistillPlan } from '../../lambda/core/finops/distill';
import type { CaptureExample } from '../../lambda/core/capture/capture';
import { EXPORT_FORMATS, exportExamples, type ExportFormat } from '../../lambda/core/capture/export';
import { findCatalogPrice, PRICE_CATALOG } from '../../lambda/core/pricing/catalog';
import { action, integerIn, numberIn, readJsonLines, readParsed, UsageError } from '../cli-support';
import { loadConfigFile } from './gateway';

interface PlanOptions {
  usage: string;
  config?: string;
  teachers?: string[];
  capture?: string;
  minExamples: number;
  minRequests: number;
  maxOutputCv: number;
  maxScoreSd: number;
  smallModel?: string;
  svg?: string;
  chartFeature?: string;
  instance: string;
  throughput: number;
  utilisation: number;
  opsUsdPerMonth: number;
  hosting?: string;
  json?: boolean;
}

/** `llm-finops distill ...`: the small-model path (issue 36). */
export function registerDistillCommands(program: Command): void {
  const distill = program.command('distill').summary('the small-model path: which features to move to a small model');
  distill
    .command('plan')
    .summary('rank the features of a usage log as candidates for a small model, with each hosting option\'s saving')
    .description(
      'For each feature of a usage log: premium requests and spend a month, the stability of its prompts and answers, the captured ' +
        'examples, and what a small model would cost and save on each hosting option (per token, or instances as the crossover prices them), ' +
        'with the break-even volume. Candidates first, by saving; the others with why they are not.',
    )
    .requiredOption('--usage <log.jsonl>', 'the usage log (llm-finops local\'s JSONL, or one synced from the usage bucket)')
    .option('--config <file>', 'the gateway config: its teachers (capture.models, default the baseline model)')
    .option('--teachers <ids>', 'the premium models whose answers a small model would replace (comma-separated), instead of --config', (v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('--capture <dir>', 'the capture directory (capture.path): examples per feature')
    .option('--min-examples <n>', 'captured examples a candidate needs', integerIn(0), 500)
    .option('--min-requests <n>', 'premium requests a month a candidate needs', integerIn(0), 1000)
    .option('--max-output-cv <x>', 'largest coefficient of variation of answer length (a stable task answers alike)', numberIn(0, Infinity), 0.5)
    .option('--max-score-sd <x>', 'largest standard deviation of the router\'s complexity score over a feature\'s automatically routed requests (a task of uniform difficulty)', numberIn(0, 1), 0.15)
    .option('--svg <file>', 'write a crossover chart of one feature (the first candidate, or --chart-feature): the premium model against the first self-hosted option')
    .option('--chart-feature <name>', 'the feature --svg draws')
    .option('--small-model <id>', 'price a per-token option at this catalog model\'s rates (e.g. amazon.nova-micro-v1:0 for a Nova Micro custom model on demand)')
    .option('--instance <type>', `a self-hosted option on this catalog instance (${PRICE_CATALOG.instances.map((i) => i.id).join(', ')})`, 'ml.inf2.xlarge')
    .option('--throughput <tokens-per-sec>', 'tokens per second one instance serves the small model', numberIn(0, Infinity, { min: true }), 500)
    .option('--utilisation <u>', 'share of that throughput used on average', numberIn(0, 1, { min: true }), 0.5)
    .option('--ops-usd-per-month <x>', 'MLOps overhead of self-hosting', numberIn(0, Infinity), 0)
    .option('--hosting <file.json>', 'the hosting options as JSON ([{label, usdPerMTok: {input, output}} | {label, instance: {usdPerHour, minInstances, tokensPerSecond, utilisation, opsUsdPerMonth}}]), instead of --small-model and --instance')
    .option('--json', 'print JSON')
    .action(action<PlanOptions>((o) => planCommand(o)));
  distill
    .command('export')
    .summary('the captured examples as fine-tuning data, with the /v1/feedback scores joined')
    .description(
      'Reads a capture directory (capture.path, or the CaptureStore bucket synced with `aws s3 sync s3://<bucket>/capture <dir>`) and writes ' +
        'the examples in the shape a fine-tuning tool reads: openai (chat messages: OpenAI, Hugging Face TRL, Nova reinforcement fine-tuning), ' +
        'bedrock-conversation (bedrock-conversation-2024: Bedrock fine-tuning and distillation of conversational models) or prompt-completion ' +
        '(Bedrock\'s non-conversational models). Scores from a usage log\'s feedback lines filter them; a stable share goes to a validation file.',
    )
    .requiredOption('--capture <dir>', 'the capture directory')
    .requiredOption('--out <file.jsonl>', 'the training file')
    .option('--format <format>', `${EXPORT_FORMATS.join(' | ')}`, 'openai')
    .option('--feature <names>', 'only these features (comma-separated)', (v) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--feedback <usage.jsonl>', 'a usage log whose feedback lines (POST /v1/feedback, shadow scores) score the examples by request id')
    .option('--min-score <x>', 'leave out examples scored below this', numberIn(0, 1))
    .option('--scored-only', 'leave out examples nobody scored')
    .option('--validation-out <file.jsonl>', 'write a validation split here')
    .option('--validation-share <x>', `share of the examples in the validation split (by a hash of the request id: stable across exports; default ${DEFAULT_VALIDATION_SHARE})`, numberIn(0, 1, { min: true }))
    .action(action<ExportOptions>((o) => exportCommand(o)));
  distill
    .command('report')
    .summary('how the candidates of shadow tests agreed with the premium answers, and what they cost')
    .description(
      'Per shadowed feature (config shadow.policies): the shadow calls, their agreement with the premium answer (the scores the shadow ' +
        'tests wrote as feedback lines), cost per request and median latency of the candidate against the premium model.',
    )
    .requiredOption('--usage <log.jsonl>', 'the usage log with the shadow calls and their scores')
    .option('--json', 'print JSON')
    .action(action<{ usage: string; json?: boolean }>((o) => reportCommand(o)));
}

interface ExportOptions {
  capture: string;
  out: string;
  format: ExportFormat;
  feature?: string[];
  feedback?: string;
  minScore?: number;
  scoredOnly?: boolean;
  validationOut?: string;
  validationShare?: number;
}

function exportCommand(o: ExportOptions): number {
  if (!EXPORT_FORMATS.includes(o.format)) throw new UsageError(`--format: one of ${EXPORT_FORMATS.join(', ')}, got '${o.format}'`);
  if ((o.minScore !== undefined || o.scoredOnly) && !o.feedback) throw new UsageError('--min-score and --scored-only read the scores of --feedback <usage.jsonl>');
  if (o.validationOut === undefined && o.validationShare !== undefined) throw new UsageError('--validation-share splits off --validation-out <file>: add it');
  const share = o.validationShare ?? DEFAULT_VALIDATION_SHARE;
  const scores = new Map<string, number>();
  if (o.feedback) {
    for (const { value: l } of readJsonLines(o.feedback)) if (l.type === 'feedback' && typeof l.request_id === 'string' && typeof l.score === 'number') scores.set(l.request_id, l.score);
  }
  const examples = captureFiles(o.capture).flatMap((f) => readJsonLines(f).map((l) => l.value as unknown as CaptureExample));
  const result = exportExamples(examples, { format: o.format, scores, minScore: o.minScore, scoredOnly: o.scoredOnly, features: o.feature ? new Set(o.feature) : undefined });
  // A stable split: a request's hash decides, so a re-export puts each example on the same side.
  const toValidation = (id: string) => o.validationOut !== undefined && createHash('sha256').update(id).digest().readUInt32BE(0) / 2 ** 32 < share;
  const train = result.lines.filter((l) => !toValidation(l.requestId));
  const validation = result.lines.filter((l) => toValidation(l.requestId));
  const jsonl = (ls: typeof train) => ls.map((l) => `${JSON.stringify(l.record)}\n`).join('');
  writeFileSync(o.out, jsonl(train));
  if (o.validationOut !== undefined) writeFileSync(o.validationOut, jsonl(validation));
  const byFeature = new Map<string, number>();
  for (const l of result.lines) byFeature.set(l.feature, (byFeature.get(l.feature) ?? 0) + 1);
  const w = (s: string) => process.stdout.write(s);
  w(`${train.length} examples (${o.format}) to ${o.out}${o.validationOut !== undefined ? `, ${validation.length} to ${o.validationOut}` : ''}; by feature: ${[...byFeature].map(([f, n]) => `${f} ${n}`).join(', ') || 'none'}\n`);
  for (const [why, n] of Object.entries(result.skipped)) w(`  left out ${n}: ${why}\n`);
  return 0;
}

const DEFAULT_VALIDATION_SHARE = 0.1;

/** The JSONL files of a capture directory (`<dir>/<feature>/*.jsonl`, as the gateway and `aws s3 sync` leave them). */
function captureFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new UsageError(`--capture: ${dir} does not exist`);
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())
    .flatMap((folder) => readdirSync(join(dir, folder.name)).filter((n) => n.endsWith('.jsonl')).sort().map((n) => join(dir, folder.name, n)));
}

function reportCommand(o: { usage: string; json?: boolean }): number {
  const report = shadowReport(readJsonLines(o.usage).map((l) => l.value));
  if (o.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const w = (s: string) => process.stdout.write(s);
  if (!report.length) {
    w(`No shadow calls in ${o.usage}: add shadow.policies to the gateway config (docs/small-model.md).\n`);
    return 0;
  }
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const usd = (x: number | null) => (x === null ? 'n/a' : `$${x.toFixed(6)}`);
  const ms = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x)} ms`);
  for (const f of report) {
    if (f.switched) {
      const sw = f.switched;
      w(`${f.feature} (switched to ${f.candidates.join(', ') || 'n/a'}; compared with ${sw.reference.join(', ')}): ${sw.requests} requests, ${sw.escalated} escalated by the check, ${sw.switchedBack} while switched back; ` +
        `${f.shadowCalls} shadow calls, ${f.scored} scored; agreement ${pct(f.agreement)} (full ${pct(f.fullAgreement)}); ` +
        `cost ${usd(f.candidateUsdPerRequest)} a request vs ${usd(f.premiumUsdPerRequest)} premium (${pct(f.costSaving)} cheaper, escalations included); median latency ${ms(f.candidateLatencyMsP50)} vs ${ms(f.premiumLatencyMsP50)}\n`);
      continue;
    }
    w(`${f.feature} (candidate ${f.candidates.join(', ')}): ${f.shadowCalls} shadow calls, ${f.scored} scored; agreement ${pct(f.agreement)} (full ${pct(f.fullAgreement)}); ` +
      `cost ${usd(f.candidateUsdPerRequest)} vs ${usd(f.premiumUsdPerRequest)} a request (${pct(f.costSaving)} cheaper; switched behind a guard, at least ${pct(f.switchSavingFloor)}); ` +
      `median latency ${ms(f.candidateLatencyMsP50)} vs ${ms(f.premiumLatencyMsP50)}\n`);
  }
  return 0;
}

function planCommand(o: PlanOptions): number {
  const teachers = new Set(o.teachers ?? (o.config ? teachersOf(o.config) : []));
  if (!teachers.size) throw new UsageError('name the premium models: --config gateway.json (capture.models, else the baseline model) or --teachers ID[,ID]');
  const records = readJsonLines(o.usage).map((l) => l.value).filter((r) => r.type !== 'feedback');
  const hostings = o.hosting ? readHostings(o.hosting) : hostingsFromFlags(o);
  const plan = planDistillation(records, {
    teachers, examples: o.capture ? countExamples(o.capture) : new Map(), minExamples: o.minExamples, minRequestsPerMonth: o.minRequests,
    maxOutputCv: o.maxOutputCv, maxScoreSd: o.maxScoreSd, hostings,
  });
  if (o.svg) writeChart(plan, hostings, [...teachers].join(', '), o.svg, o.chartFeature);
  else if (o.chartFeature) throw new UsageError('--chart-feature names the feature --svg draws: add --svg <file>');
  if (o.json) process.stdout.write(`${JSON.stringify(plan)}\n`);
  else printPlan(plan, teachers, o.svg);
  return 0;
}

function writeChart(plan: DistillPlan, hostings: readonly DistillHosting[], premium: string, file: string, name: string | undefined): void {
  const f = name === undefined ? plan.features.find((p) => !p.blockers.length) ?? plan.features[0] : plan.features.find((p) => p.feature === name);
  if (!f) throw new UsageError(name === undefined ? '--svg: the usage log has no feature to draw' : `--chart-feature: no feature '${name}' in the usage log (features: ${plan.features.map((p) => p.feature).join(', ')})`);
  const svg = distillChart(f, hostings, premium);
  if (!svg) throw new UsageError(`--svg: feature '${f.feature}' has ${f.premiumTokensPerMonth ? 'no self-hosted option to draw (add --instance or an instance in --hosting)' : 'no premium tokens to draw'}`);
  writeFileSync(file, svg);
}

function teachersOf(file: string): string[] {
  const config = loadConfigFile(file);
  return config.raw.capture.models ?? [config.raw.routing.baselineModel];
}

/** Examples per feature in a capture directory: the lines of `<dir>/<folder>/*.jsonl`, named by the feature they record. */
function countExamples(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of captureFiles(dir)) {
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    if (!lines.length) continue;
    // The folder name is the feature made safe for a path; the record says the feature itself.
    let feature = basename(dirname(file));
    try {
      feature = (JSON.parse(lines[0]) as { llm_finops?: { feature?: string } }).llm_finops?.feature ?? feature;
    } catch {
      // a torn first line: keep the folder's name
    }
    out.set(feature, (out.get(feature) ?? 0) + lines.length);
  }
  return out;
}

function hostingsFromFlags(o: PlanOptions): DistillHosting[] {
  const out: DistillHosting[] = [];
  if (o.smallModel) {
    const p = findCatalogPrice(o.smallModel);
    if (!p) throw new UsageError(`--small-model: ${o.smallModel} is not in the price catalog; use --hosting FILE with its price`);
    out.push({ label: `${o.smallModel} per token${p.verified ? '' : ' (price unverified)'}`, usdPerMTok: { input: p.inputPerMTok, output: p.outputPerMTok } });
  }
  const inst = PRICE_CATALOG.instances.find((i) => i.id === o.instance);
  if (!inst) throw new UsageError(`--instance: ${o.instance} is not in the catalog (${PRICE_CATALOG.instances.map((i) => i.id).join(', ')}); use --hosting FILE`);
  out.push({
    label: `${inst.id} at ${o.throughput} tokens/s${inst.verified ? '' : ' (price unverified)'}`,
    instance: { usdPerHour: inst.usdPerHour, minInstances: 1, tokensPerSecond: o.throughput, utilisation: o.utilisation, opsUsdPerMonth: o.opsUsdPerMonth },
  });
  return out;
}

function readHostings(file: string): DistillHosting[] {
  const value = readParsed(file, (text) => JSON.parse(text) as unknown);
  if (!Array.isArray(value) || !value.length) throw new UsageError(`--hosting: ${file} must hold a non-empty JSON array of options`);
  return value.map((h: Record<string, unknown>, i) => {
    const where = `--hosting ${file}: option ${i}`;
    if (typeof h?.label !== 'string' || !h.label) throw new UsageError(`${where}: a label is required`);
    const t = h.usdPerMTok as { input?: unknown; output?: unknown } | undefined;
    const inst = h.instance as Record<string, unknown> | undefined;
    const nonNeg = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (t && nonNeg(t.input) && nonNeg(t.output)) return { label: h.label, usdPerMTok: { input: t.input as number, output: t.output as number } };
    if (inst && nonNeg(inst.usdPerHour) && Number.isInteger(inst.minInstances) && (inst.minInstances as number) >= 1
      && typeof inst.tokensPerSecond === 'number' && inst.tokensPerSecond > 0 && typeof inst.utilisation === 'number' && inst.utilisation > 0 && inst.utilisation <= 1) {
      return { label: h.label, instance: { usdPerHour: inst.usdPerHour as number, minInstances: inst.minInstances as number, tokensPerSecond: inst.tokensPerSecond, utilisation: inst.utilisation, opsUsdPerMonth: nonNeg(inst.opsUsdPerMonth) ? inst.opsUsdPerMonth as number : 0 } };
    }
    throw new UsageError(`${where}: needs usdPerMTok {input, output} >= 0, or instance {usdPerHour >= 0, minInstances >= 1, tokensPerSecond > 0, utilisation in (0, 1]}`);
  });
}

function printPlan(plan: DistillPlan, teachers: ReadonlySet<string>, svg?: string): void {
  const w = (s: string) => process.stdout.write(s);
  const usd = (x: number) => `${x < 0 ? '-' : ''}$${Math.abs(x).toFixed(2)}`;
  w(`Distillation plan over ${plan.days} days of usage (premium: ${[...teachers].join(', ')}; monthly figures at the log's rate):\n`);
  for (const f of plan.features) {
    w(`\n${f.blockers.length ? '  ' : '* '}${f.feature}: ${Math.round(f.premiumRequestsPerMonth).toLocaleString('en-US')} premium requests/month, ${usd(f.premiumUsdPerMonth)}/month; ` +
      `answers ${f.outputTokens.mean} tokens (cv ${f.outputTokens.cv}), prompts ${f.inputTokens.mean} (cv ${f.inputTokens.cv})` +
      `${f.routeScore ? `; routing score ${f.routeScore.mean} (sd ${f.routeScore.sd})` : ''}; ${f.examples} examples\n`);
    for (const b of f.blockers) w(`    not a candidate: ${b}\n`);
    for (const h of f.options) {
      w(`    ${h.label}: ${usd(h.usdPerMonth)}/month, saves ${usd(h.savingUsdPerMonth)} (${Math.round(h.savingShare * 100)}%)` +
        `${h.instances ? `, ${h.instances} instance(s)` : ''}${h.breakEvenRequestsPerMonth === null ? ', never cheaper' : h.breakEvenRequestsPerMonth > 0 ? `, break-even ${h.breakEvenRequestsPerMonth.toLocaleString('en-US')} requests/month` : ''}\n`);
    }
  }
  w('\n* a candidate. The small model\'s quality is not known here: shadow-test it before switching (docs/small-model.md).\n');
  if (svg) w(`chart: ${svg}\n`);
}
