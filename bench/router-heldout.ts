/**
 * The learned router on RouteLLM's MMLU outcomes, the held-out check of issue 19 (`npm run bench:router-heldout`),
 * written to bench/results/router-heldout.json. The data is not in this repository: point ROUTELLM_MMLU at the
 * `routellm/evals/mmlu` folder of a lm-sys/RouteLLM checkout (Apache-2.0). Its responses/*.csv files (one per subject:
 * prompt, then True/False per model, prompts spanning lines) are read with DuckDB's CSV reader, the prompts its
 * contaminated_prompts.jsonl names as eval prompts are dropped, and the rows are split even/odd as GSM8K's are.
 * Reported, seed 1, both directions: the router on the text alone, with each row's subject as its feature tag (what an
 * `x-llm-feature` per product feature gives in production), and a router that knows only the subject (the mean label
 * of the subject's training rows). Nothing here is tuned: it reads the trainer as shipped.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { splitHalves } from '../lambda/core/cache/evaluate';
import { evaluateRouter, type OutcomeRow } from '../lambda/core/routing/evaluate';
import { LearnedRouter, trainRouter } from '../lambda/core/routing/learned';
import { readMmlu, STRONG, WEAK } from './routellm';

const ROOT = join(__dirname, '..');

(async () => {
  const dir = process.env.ROUTELLM_MMLU;
  if (!dir) {
    process.stderr.write('Set ROUTELLM_MMLU to the routellm/evals/mmlu folder of a lm-sys/RouteLLM checkout.\n');
    process.exit(2);
  }
  const rows = await readMmlu(dir);
  const { even, odd } = splitHalves(rows);
  const apgr = (test: OutcomeRow[], scores: number[]): number => evaluateRouter(test, scores, STRONG, WEAK).apgr;
  const untagged = (rs: OutcomeRow[]): OutcomeRow[] => rs.map(({ prompt, outcomes }) => ({ prompt, outcomes }));
  const subjectOnly = (train: OutcomeRow[]) => {
    const by = new Map<string, { sum: number; n: number }>();
    for (const r of train) {
      const s = by.get(r.feature!) ?? { sum: 0, n: 0 };
      s.sum += (r.outcomes[STRONG] - r.outcomes[WEAK] + 1) / 2;
      s.n++;
      by.set(r.feature!, s);
    }
    return (r: OutcomeRow): number => {
      const s = by.get(r.feature!);
      return s ? s.sum / s.n : 0.5;
    };
  };
  const result: Record<string, unknown> = {};
  for (const [name, train, test] of [['train_even_test_odd', even, odd], ['train_odd_test_even', odd, even]] as const) {
    const t0 = performance.now();
    const text = trainRouter(untagged(train), STRONG, WEAK, { seed: 1 });
    const t1 = performance.now();
    const tagged = trainRouter(train, STRONG, WEAK, { seed: 1 });
    const t2 = performance.now();
    const [rt, rg, so] = [new LearnedRouter(text), new LearnedRouter(tagged), subjectOnly(train)];
    result[name] = {
      text: { apgr: apgr(test, test.map((r) => rt.score(r.prompt))), epochs: text.trainedOn.epochs, cv: text.trainedOn.cv?.apgr, train_ms: Math.round(t1 - t0) },
      text_and_subject_tag: { apgr: apgr(test, test.map((r) => rg.score(r.prompt, r.feature))), epochs: tagged.trainedOn.epochs, cv: tagged.trainedOn.cv?.apgr, train_ms: Math.round(t2 - t1) },
      subject_only: { apgr: apgr(test, test.map(so)) },
      buckets: text.buckets,
      artefact_bytes: JSON.stringify(text).length,
    };
    const v = result[name] as { text: { apgr: number }; text_and_subject_tag: { apgr: number }; subject_only: { apgr: number } };
    process.stdout.write(`${name}: text ${v.text.apgr}, text + subject tag ${v.text_and_subject_tag.apgr}, subject only ${v.subject_only.apgr}\n`);
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'router-heldout.json'), `${JSON.stringify({
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(),
    data: `RouteLLM routellm/evals/mmlu/responses (${rows.length} rows after the contaminated eval prompts; split: even rows / odd rows)`,
    strong: STRONG, weak: WEAK, goal: 0.7, ...result,
  }, null, 2)}\n`);
})();
