/**
 * Context re-ranking quality (`npm run bench`), written to bench/results/context.json: token reduction and answer
 * retention on ../shared/data/context-dev-trecqa.jsonl (TREC QA answer-sentence selection, evaluation use only: the
 * data is read from the shared folder, never copied here) at several budgets, with the lexical embedder, with the lexical and sentence encoder's vectors, and BM25 alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contextEmbedding } from '../lambda/adapters/context-embedding';
import { GatewayConfigSchema } from '../lambda/core/config/schema';
import { evaluateContext } from '../lambda/core/context/evaluate';

const DATA = join(__dirname, '..', '..', 'shared', 'data', 'context-dev-trecqa.jsonl');

async function main() {
  if (!existsSync(DATA)) {
    process.stdout.write(`context bench skipped: ${DATA} not found\n`);
    return;
  }
  const rows = readFileSync(DATA, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  const defaults = GatewayConfigSchema.shape.context.parse({ policies: [{}] }).policies[0];
  const runs = [];
  for (const budget of [0.3, 0.4, 0.5]) {
    for (const emb of ['lexical', 'sentence', 'none'] as const) {
      const { embed, weight } = contextEmbedding(emb);
      const r = await evaluateContext(rows, { ...defaults, rerankBudget: budget }, embed, undefined, weight);
      runs.push({ budget, embedder: emb, ...r });
      process.stdout.write(`context budget ${budget} ${emb}: -${(r.token_reduction * 100).toFixed(1)}% tokens, answer kept ${(r.answer_kept_any * 100).toFixed(1)}% (all answer chunks ${(r.answer_kept_all * 100).toFixed(1)}%)\n`);
    }
  }
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'context.json'), `${JSON.stringify({ date: new Date().toISOString(), data: 'context-dev-trecqa.jsonl (51 rows)', default_budget: defaults.rerankBudget, runs }, null, 2)}\n`);
  process.stdout.write('wrote bench/results/context.json\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
