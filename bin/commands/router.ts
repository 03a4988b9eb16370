import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { parseFeedback } from '../../lambda/core/feedback';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { seededRandom } from '../../lambda/core/numeric';
import { evaluateRouter, parseOutcomes, thinPoints, type OutcomeRow } from '../../lambda/core/routing/evaluate';
import { scoreComplexity } from '../../lambda/core/routing/heuristic';
import { LearnedRouter, trainRouter } from '../../lambda/core/routing/learned';
import { estimateTextTokens } from '../../lambda/core/tokens';
import { DEFAULT_FEATURE, FEATURE_TAG } from '../../lambda/core/usage';
import { action, collect, HALVES, integerIn, numberIn, readDataFile, UsageError, type Half } from '../cli-support';
import { progressBar } from '../progress';

function readRows(o: { data: string; strong: string; weak: string; half: Half }, partial = false): OutcomeRow[] {
  if (o.strong === o.weak) throw new UsageError('--strong and --weak must name different models');
  return readDataFile(o.data, (text, source) => parseOutcomes(text, o.strong, o.weak, source, partial), o.half);
}

function price(v: string): { input: number; output: number } {
  const m = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected IN/OUT in USD per 1M tokens, e.g. 2.5/10.');
  return { input: Number(m[1]), output: Number(m[2]) };
}

type RowFlags = { data: string; strong: string; weak: string; half: Half };

function withRowOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--data <outcomes.jsonl>', 'rows {prompt, outcomes: {model: score in [0, 1]}}')
    .requiredOption('--strong <model>', 'the strong (expensive) model, as named in the rows')
    .requiredOption('--weak <model>', 'the weak (cheap) model, as named in the rows')
    .addOption(new Option('--half <half>', 'rows to use: the fixed even/odd split').choices(HALVES).default('all'));
}

/** `router train | eval | outcomes` and `feedback`: the learned router's data, training and evaluation. */
export function registerRouterCommands(program: Command): void {
  const router = program.command('router').summary('train and evaluate the learned router');

  withRowOptions(
    router
      .command('train')
      .description(
        'Fit the learned router on rows {prompt, outcomes: {model: score in [0, 1]}}; routing.learned.path serves it. ' +
          'Rows may score one of the two models only (production feedback); the other model\'s mean stands in.',
      ),
  )
    .requiredOption('--out <router.json>', 'where to write the router')
    .option('--seed <n>', 'random seed', integerIn(0), 1)
    .action(
      action<RowFlags & { out: string; seed: number }>((o) => {
        const rows = readRows(o, true);
        let model;
        const bar = progressBar('training router (passes over the rows, cross-validation included)', 1);
        try {
          model = trainRouter(rows, o.strong, o.weak, { seed: o.seed, onProgress: (done, total) => bar.update(done, total) });
        } catch (err) {
          throw new UsageError((err as Error).message);
        } finally {
          bar.stop();
        }
        const json = JSON.stringify(model);
        writeFileSync(o.out, `${json}\n`);
        const cv = model.trainedOn.cv;
        const tried = cv ? Object.entries(cv.apgr).map(([e, a]) => `${e}: ${a.toFixed(3)}`).join(', ') : '';
        process.stdout.write(`router: ${rows.length} rows, ${o.out} (${json.length} bytes), ${model.buckets} hash buckets, ${model.trainedOn.epochs} passes\n` +
          (cv ? `cross-validated APGR by passes (${cv.folds} folds over the ${cv.rows} rows scoring both models): ${tried}; chose ${cv.epochs} (the best of ${Object.keys(cv.apgr).length}, so an optimistic estimate for new prompts)\n`
            : 'not cross-validated: under 100 rows score both models\n'));
      }),
    );

  router
    .command('outcomes')
    .description('Turn feedback in usage logs (POST /v1/feedback, llm-finops feedback) into outcome rows for training.')
    .requiredOption('--usage <log.jsonl>', 'a usage log (repeat for several)', collect)
    .requiredOption('--out <outcomes.jsonl>', 'where to write the rows')
    .action(
      action<{ usage: string[]; out: string }>((o) => {
        const lines: string[] = [];
        for (const f of o.usage) {
          try {
            lines.push(...readFileSync(f, 'utf8').split('\n'));
          } catch (err) {
            throw new UsageError(`cannot read ${f}: ${(err as Error).message}`);
          }
        }
        const { rows, skipped } = outcomesFromLogs(lines);
        writeFileSync(o.out, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
        process.stdout.write(`${rows.length} outcome rows -> ${o.out}; skipped ${skipped.no_prompt} without a prompt, ${skipped.unknown_request} not matching a successful request of the same tenant\n`);
      }),
    );

  withRowOptions(
    router
      .command('eval')
      .description(
        'Sweep the routing threshold: APGR, and the strong-call share for 50%, 80% and 100% of the quality gap (RouteLLM\'s PGR / APGR / CPT); ' +
          'with prices also the cost saved against always-strong.',
      )
      .requiredOption('--router <file|heuristic|random>', 'a trained router file, or a baseline'),
  )
    .option('--seed <n>', 'seed of the random baseline', integerIn(0), 1)
    .addOption(new Option('--strong-price <in/out>', 'USD per 1M input/output tokens of the strong model, e.g. 2.5/10').argParser(price))
    .addOption(new Option('--weak-price <in/out>', 'USD per 1M input/output tokens of the weak model').argParser(price))
    .option('--output-tokens <n>', 'output tokens assumed per request for the cost', integerIn(0), 256)
    .option('--json', 'print JSON')
    .action(
      action<RowFlags & { router: string; seed: number; strongPrice?: { input: number; output: number }; weakPrice?: { input: number; output: number }; outputTokens: number; json?: boolean }>((o) => {
        if (!o.strongPrice !== !o.weakPrice) throw new UsageError('give both --strong-price and --weak-price');
        const rows = readRows(o);
        let score: (prompt: string, feature?: string) => number;
        if (o.router === 'heuristic') score = (p) => scoreComplexity({ model: 'auto', messages: [{ role: 'user', content: p }] }).score;
        else if (o.router === 'random') {
          const rand = seededRandom(o.seed);
          score = () => rand();
        } else {
          let learned: LearnedRouter;
          try {
            learned = LearnedRouter.parse(JSON.parse(readFileSync(o.router, 'utf8')));
          } catch (err) {
            throw new UsageError(`--router ${o.router}: ${(err as Error).message}`);
          }
          score = (p, feature) => learned.score(p, feature);
        }
        let costs;
        if (o.strongPrice && o.weakPrice) {
          const cost = (p: { input: number; output: number }, prompt: string): number => estimateTextTokens(prompt) * p.input + o.outputTokens * p.output;
          costs = { strong: rows.map((r) => cost(o.strongPrice!, r.prompt)), weak: rows.map((r) => cost(o.weakPrice!, r.prompt)) };
        }
        const ev = evaluateRouter(rows, rows.map((r) => score(r.prompt, r.feature)), o.strong, o.weak, costs);
        const out = { router: o.router, ...ev, points: thinPoints(ev.points) };
        if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else {
          const pct = (x: number | null): string => (x === null ? 'never' : `${(x * 100).toFixed(1)}%`);
          process.stdout.write(
            `${o.router} on ${ev.rows} rows: APGR ${ev.apgr.toFixed(3)}; strong calls for 50% of the gap ${pct(ev.cpt50)}, 80% ${pct(ev.cpt80)}, ` +
              `all of it ${pct(ev.cpt100)} (weak ${ev.weak_quality}, strong ${ev.strong_quality})\n`,
          );
          if (ev.savings) {
            for (const [k, s] of Object.entries(ev.savings)) if (s) process.stdout.write(`  at ${k}: ${pct(s.strong_share)} strong calls, ${(s.cost_saved * 100).toFixed(1)}% cheaper than always-strong\n`);
          }
        }
      }),
    );

  program
    .command('feedback')
    .summary('append an outcome for an earlier request to a usage log')
    .description('Append an outcome for an earlier request to a usage log (what POST /v1/feedback does for the gateway).')
    .requiredOption('--usage <log.jsonl>', 'the usage log')
    .requiredOption('--tenant <id>', 'the tenant of the request')
    .requiredOption('--request-id <id>', 'the request id (x-request-id header)')
    .requiredOption('--score <s>', 'outcome score in [0, 1]', numberIn(0, 1))
    .option('--model <model>', 'the model that answered (default: the usage record\'s)')
    .option('--prompt <text>', 'the prompt (needed for training rows)')
    .action(
      action<{ usage: string; tenant: string; requestId: string; score: number; model?: string; prompt?: string }>((o) => {
        const body = JSON.stringify({ request_id: o.requestId, score: o.score, model: o.model, prompt: o.prompt });
        let f;
        try {
          f = parseFeedback(body, Buffer.byteLength(body));
        } catch (err) {
          throw new UsageError((err as Error).message);
        }
        appendFileSync(o.usage, `${JSON.stringify({ type: 'feedback', ts: new Date().toISOString(), tenant: o.tenant, ...f })}\n`);
        process.stdout.write(`feedback for ${f.request_id} (${f.score}) appended to ${o.usage}\n`);
      }),
    );
}

/**
 * Training rows from production: feedback lines joined to their usage record (same request id and tenant) for the
 * model, grouped by prompt and the request's feature tag (kept on the row); scores of one model for one prompt are averaged.
 */
export function outcomesFromLogs(lines: readonly string[]): { rows: { prompt: string; feature?: string; outcomes: Record<string, number> }[]; skipped: Record<string, number> } {
  const answered = new Map<string, { model: string; feature: string | undefined }>();
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
    else if (typeof r.request_id === 'string' && typeof r.model === 'string' && r.status === 200) {
      // The default feature is what an untagged row means already.
      const feature = typeof r.feature === 'string' && r.feature !== DEFAULT_FEATURE && FEATURE_TAG.test(r.feature) ? r.feature : undefined;
      answered.set(`${r.tenant}\u0000${r.request_id}`, { model: r.model, feature });
    }
  }
  const skipped = { no_prompt: 0, unknown_request: 0 };
  // One row per prompt and feature tag: the same prompt under two features is two routing situations.
  const byPrompt = new Map<string, { prompt: string; feature: string | undefined; models: Map<string, number[]> }>();
  for (const f of feedback) {
    if (!f.prompt) {
      skipped.no_prompt++;
      continue;
    }
    const request = answered.get(`${f.tenant}\u0000${f.request_id}`);
    if (!request) {
      skipped.unknown_request++;
      continue;
    }
    const model = f.model ?? request.model;
    const key = `${request.feature ?? ''}\u0000${f.prompt}`;
    const row = byPrompt.get(key) ?? { prompt: f.prompt, feature: request.feature, models: new Map<string, number[]>() };
    row.models.set(model, [...(row.models.get(model) ?? []), f.score]);
    byPrompt.set(key, row);
  }
  const rows = [...byPrompt.values()].map(({ prompt, feature, models }) => ({
    prompt,
    ...(feature !== undefined ? { feature } : {}),
    outcomes: Object.fromEntries([...models].map(([m, s]) => [m, Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 1e4) / 1e4])),
  }));
  return { rows, skipped };
}
