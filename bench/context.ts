/**
 * Context re-ranking quality (`npm run bench`), written to bench/results/context.json: token reduction and answer
 * retention on ../shared/data/context-dev-trecqa.jsonl (TREC QA answer-sentence selection, evaluation use only: the
 * data is read from the shared folder, never copied here) at several budgets, with and without the lexical embedder.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LexicalEmbedder } from '../lambda/adapters/lexical-embedder';
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
  const embedder = new LexicalEmbedder();
  const runs = [];
  for (const budget of [0.3, 0.4, 0.5]) {
    for (const emb of ['lexical', 'none'] as const) {
      const r = await evaluateContext(rows, { ...defaults, rerankBudget: budget }, emb === 'lexical' ? async (t) => (await embedder.embed(t)).vectors : undefined);
      runs.push({ budget, embedder: emb, ...r });
      process.stdout.write(`context budget ${budget} ${emb}: -${(r.token_reduction * 100).toFixed(1)}% tokens, answer kept ${(r.answer_kept_any * 100).toFixed(1)}%\n`);
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
