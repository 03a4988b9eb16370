import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { parseFeedback } from '../lambda/core/feedback';
import { parseArgs } from 'node:util';
import { seededRandom } from '../lambda/core/numeric';
import { evaluateRouter, parseOutcomes, thinPoints, type OutcomeRow } from '../lambda/core/routing/evaluate';
import { scoreComplexity } from '../lambda/core/routing/heuristic';
import { LearnedRouter, trainRouter } from '../lambda/core/routing/learned';
import { estimateTextTokens } from '../lambda/core/tokens';
import { readDataFile, UsageError } from './cli-support';

export const ROUTER_USAGE = `  llm-finops router train --data OUTCOMES.jsonl --strong MODEL --weak MODEL --out ROUTER.json [--seed N]
      [--half all|even|odd]
      Fit the learned router on rows {prompt, outcomes: {model: score in [0, 1]}}; routing.learned.path serves it.
      Rows may score one of the two models only (production feedback); the other model's mean stands in.
  llm-finops router outcomes --usage LOG.jsonl [--usage LOG2.jsonl ...] --out OUTCOMES.jsonl
      Turn feedback in usage logs (POST /v1/feedback, llm-finops feedback) into outcome rows for training.
  llm-finops feedback --usage LOG.jsonl --tenant T --request-id ID --score S [--model M] [--prompt TEXT]
      Append an outcome for an earlier request to a usage log (what POST /v1/feedback does for the gateway).
  llm-finops router eval --router ROUTER.json|heuristic|random --data OUTCOMES.jsonl --strong MODEL --weak MODEL
      [--half all|even|odd] [--seed N] [--strong-price IN/OUT --weak-price IN/OUT [--output-tokens N]] [--json]
      Sweep the routing threshold: {"apgr", "cpt50", "cpt80", "points": [{strong_share, quality, threshold}]}
      (RouteLLM's PGR / APGR / CPT); with prices (USD per 1M input/output tokens) also the cost saved against
      always-strong at PGR 50%, 80% and 100%.
`;

function readRows(file: string | undefined, strong: string | undefined, weak: string | undefined, half: string | undefined, partial = false): OutcomeRow[] {
  if (!file) throw new UsageError('--data OUTCOMES.jsonl is required');
  if (!strong || !weak) throw new UsageError('--strong MODEL and --weak MODEL are required');
  if (strong === weak) throw new UsageError('--strong and --weak must name different models');
  return readDataFile(file, 'OUTCOMES.jsonl', (text, source) => parseOutcomes(text, strong, weak, source, partial), half);
}

function intFlag(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got ${v}`);
  return n;
}

function priceFlag(name: string, v: string): { input: number; output: number } {
  const m = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(v);
  if (!m) throw new UsageError(`--${name} must be IN/OUT in USD per 1M tokens, e.g. 2.5/10, got ${v}`);
  return { input: Number(m[1]), output: Number(m[2]) };
}

export async function routerCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'train') return train(rest);
  if (sub === 'eval') return evaluate(rest);
  if (sub === 'outcomes') return outcomes(rest);
  throw new UsageError(`unknown router command '${sub ?? ''}'; expected train or eval`);
}

function train(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, strong: { type: 'string' }, weak: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, half: { type: 'string' } },
  });
  if (!values.out) throw new UsageError('--out ROUTER.json is required');
  const rows = readRows(values.data, values.strong, values.weak, values.half, true);
  let model;
  try {
    model = trainRouter(rows, values.strong!, values.weak!, { seed: intFlag('seed', values.seed, 1) });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const json = JSON.stringify(model);
  writeFileSync(values.out, `${json}\n`);
  process.stdout.write(`router: ${rows.length} rows, ${values.out} (${json.length} bytes)\n`);
  return 0;
}

function outcomes(args: string[]): number {
  const { values } = parseArgs({ args, options: { usage: { type: 'string', multiple: true }, out: { type: 'string' } } });
  if (!values.usage?.length) throw new UsageError('--usage LOG.jsonl is required (repeat it for several logs)');
  if (!values.out) throw new UsageError('--out OUTCOMES.jsonl is required');
  const lines: string[] = [];
  for (const f of values.usage) {
    try {
      lines.push(...readFileSync(f, 'utf8').split('\n'));
    } catch (err) {
      throw new UsageError(`cannot read ${f}: ${(err as Error).message}`);
    }
  }
  const { rows, skipped } = outcomesFromLogs(lines);
  writeFileSync(values.out, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  process.stdout.write(`${rows.length} outcome rows -> ${values.out}; skipped ${skipped.no_prompt} without a prompt, ${skipped.unknown_request} not matching a successful request of the same tenant\n`);
  return 0;
}

/** `llm-finops feedback`: one feedback line appended to a usage log, validated as the endpoint validates it. */
export function feedbackCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { usage: { type: 'string' }, tenant: { type: 'string' }, 'request-id': { type: 'string' }, score: { type: 'string' }, model: { type: 'string' }, prompt: { type: 'string' } },
  });
  if (!values.usage || !values.tenant || !values['request-id'] || values.score === undefined) {
    throw new UsageError('feedback needs --usage LOG.jsonl --tenant T --request-id ID --score S');
  }
  const body = JSON.stringify({ request_id: values['request-id'], score: Number(values.score), model: values.model, prompt: values.prompt });
  let f;
  try {
    f = parseFeedback(body, Buffer.byteLength(body));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  appendFileSync(values.usage, `${JSON.stringify({ type: 'feedback', ts: new Date().toISOString(), tenant: values.tenant, ...f })}\n`);
  process.stdout.write(`feedback for ${f.request_id} (${f.score}) appended to ${values.usage}\n`);
  return 0;
}

function evaluate(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      router: { type: 'string' }, data: { type: 'string' }, strong: { type: 'string' }, weak: { type: 'string' }, half: { type: 'string' },
      seed: { type: 'string' }, 'strong-price': { type: 'string' }, 'weak-price': { type: 'string' }, 'output-tokens': { type: 'string' }, json: { type: 'boolean' },
    },
  });
  if (!values.router) throw new UsageError('--router ROUTER.json|heuristic|random is required');
  const rows = readRows(values.data, values.strong, values.weak, values.half);
  let score: (prompt: string) => number;
  if (values.router === 'heuristic') score = (p) => scoreComplexity({ model: 'auto', messages: [{ role: 'user', content: p }] }).score;
  else if (values.router === 'random') {
    const rand = seededRandom(intFlag('seed', values.seed, 1));
    score = () => rand();
  } else {
    let router: LearnedRouter;
    try {
      router = LearnedRouter.parse(JSON.parse(readFileSync(values.router, 'utf8')));
    } catch (err) {
      throw new UsageError(`--router ${values.router}: ${(err as Error).message}`);
    }
    score = (p) => router.score(p);
  }
  let costs;
  if (values['strong-price'] || values['weak-price']) {
    if (!values['strong-price'] || !values['weak-price']) throw new UsageError('give both --strong-price and --weak-price');
    const [sp, wp] = [priceFlag('strong-price', values['strong-price']), priceFlag('weak-price', values['weak-price'])];
    const out = intFlag('output-tokens', values['output-tokens'], 256);
    const cost = (p: { input: number; output: number }, prompt: string): number => estimateTextTokens(prompt) * p.input + out * p.output;
    costs = { strong: rows.map((r) => cost(sp, r.prompt)), weak: rows.map((r) => cost(wp, r.prompt)) };
  }
  const ev = evaluateRouter(rows, rows.map((r) => score(r.prompt)), values.strong!, values.weak!, costs);
  const out = { router: values.router, ...ev, points: thinPoints(ev.points) };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    const pct = (x: number | null): string => (x === null ? 'never' : `${(x * 100).toFixed(1)}%`);
    process.stdout.write(
      `${values.router} on ${ev.rows} rows: APGR ${ev.apgr.toFixed(3)}; strong calls for 50% of the gap ${pct(ev.cpt50)}, 80% ${pct(ev.cpt80)}, ` +
        `all of it ${pct(ev.cpt100)} (weak ${ev.weak_quality}, strong ${ev.strong_quality})\n`,
    );
    if (ev.savings) {
      for (const [k, s] of Object.entries(ev.savings)) if (s) process.stdout.write(`  at ${k}: ${pct(s.strong_share)} strong calls, ${(s.cost_saved * 100).toFixed(1)}% cheaper than always-strong\n`);
    }
  }
  return 0;
}

/**
 * Training rows from production: feedback lines joined to their usage record (same request id and tenant) for the
 * model, grouped by prompt; scores of one model for one prompt are averaged.
 */
export function outcomesFromLogs(lines: readonly string[]): { rows: { prompt: string; outcomes: Record<string, number> }[]; skipped: Record<string, number> } {
  const answeredBy = new Map<string, string>();
  const feedback: { tenant: string; request_id: string; score: number; model: string | null; prompt: string | null }[] = [];
  for (const line of lines) {
    if (!line.trim()) continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    if (r.type === 'feedback') feedback.push(r as never);
    else if (typeof r.request_id === 'string' && typeof r.model === 'string' && r.status === 200) answeredBy.set(`${r.tenant}\u0000${r.request_id}`, r.model);
  }
  const skipped = { no_prompt: 0, unknown_request: 0 };
  const byPrompt = new Map<string, Map<string, number[]>>();
  for (const f of feedback) {
    if (!f.prompt) {
      skipped.no_prompt++;
      continue;
    }
    const model = f.model ?? answeredBy.get(`${f.tenant}\u0000${f.request_id}`);
    if (!model || !answeredBy.has(`${f.tenant}\u0000${f.request_id}`)) {
      skipped.unknown_request++;
      continue;
    }
    const models = byPrompt.get(f.prompt) ?? new Map<string, number[]>();
    models.set(model, [...(models.get(model) ?? []), f.score]);
    byPrompt.set(f.prompt, models);
  }
  const rows = [...byPrompt].map(([prompt, models]) => ({
    prompt,
    outcomes: Object.fromEntries([...models].map(([m, s]) => [m, Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 1e4) / 1e4])),
  }));
  return { rows, skipped };
}
