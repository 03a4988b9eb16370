/**
 * What the router benches share over RouteLLM's released outcomes: the two models' names, out-of-fold scores, and
 * RouteLLM's MMLU outcomes (Apache-2.0), read from the `routellm/evals/mmlu` folder of a lm-sys/RouteLLM checkout:
 * its responses/*.csv (one per subject: prompt, then True/False per model, prompts spanning lines) through DuckDB's
 * CSV reader, without the prompts its contaminated_prompts.jsonl names as eval prompts; each row's subject is its
 * feature tag. Used by bench/router-heldout.ts, bench/router-select.ts and bench/savings.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { OutcomeRow } from '../lambda/core/routing/evaluate';
import { LearnedRouter, trainRouter, type RouterTrainOptions } from '../lambda/core/routing/learned';

export const STRONG = 'gpt-4-1106-preview';
export const WEAK = 'mistralai/Mixtral-8x7B-Instruct-v0.1';

/** Each row's score from a router trained on the other four of five folds (row i is in fold i % 5). */
export function outOfFoldScores(rows: readonly OutcomeRow[], opts: RouterTrainOptions): number[] {
  const scores = new Array<number>(rows.length);
  for (let k = 0; k < 5; k++) {
    const router = new LearnedRouter(trainRouter(rows.filter((_, i) => i % 5 !== k), STRONG, WEAK, opts));
    rows.forEach((r, i) => {
      if (i % 5 === k) scores[i] = router.score(r.prompt);
    });
  }
  return scores;
}

export async function readMmlu(dir: string): Promise<OutcomeRow[]> {
  const contaminated = new Set(
    readFileSync(join(dir, 'contaminated_prompts.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { eval_prompt: string }).eval_prompt),
  );
  const files = readdirSync(join(dir, 'responses')).filter((f) => /^mmlu_.+\.csv$/.test(f)).sort();
  if (!files.length) throw new Error(`${dir}/responses holds no mmlu_*.csv`);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const rows: OutcomeRow[] = [];
  for (const f of files) {
    const path = join(dir, 'responses', f).replace(/'/g, "''");
    const read = await conn.runAndReadAll(`SELECT * FROM read_csv('${path}', header = true, quote = '"', escape = '"', all_varchar = true)`);
    for (const r of read.getRowObjects() as Record<string, string>[]) {
      if (contaminated.has(r.prompt)) continue;
      const score = (v: string | undefined, m: string): number => {
        if (v !== 'True' && v !== 'False') throw new Error(`${f}: ${m} is ${JSON.stringify(v)}, expected True or False`);
        return v === 'True' ? 1 : 0;
      };
      rows.push({ prompt: r.prompt, feature: f.slice(5, -4), outcomes: { [WEAK]: score(r[WEAK], WEAK), [STRONG]: score(r[STRONG], STRONG) } });
    }
  }
  conn.closeSync();
  db.closeSync();
  return rows;
}
