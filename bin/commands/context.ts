import { Option, type Command } from 'commander';
import { contextEmbedding, type ContextEmbedderKind } from '../../lambda/adapters/context-embedding';
import { GatewayConfigSchema } from '../../lambda/core/config/schema';
import { evaluateContext, type ContextEvalRow } from '../../lambda/core/context/evaluate';
import { action, numberIn, readJsonLines, UsageError } from '../cli-support';
import { progressBar } from '../progress';

/** `context eval`: how much the context step removes and whether the answer survives. */
export function registerContextCommands(program: Command): void {
  const defaults = GatewayConfigSchema.shape.context.parse({ policies: [{}] }).policies[0];
  program
    .command('context')
    .summary('measure the context optimisation step')
    .command('eval')
    .description(
      'Run the context step\'s re-ranking on rows {question, chunks, answer_chunk_ids}: the share of chunk tokens removed and the shares of ' +
        'rows keeping at least one / every answer-bearing chunk.',
    )
    .requiredOption('--data <file.jsonl>', 'rows {question, chunks: [...], answer_chunk_ids: [...]}')
    .option('--budget <share>', 'share of chunk tokens kept', numberIn(0, 1, { min: true }), defaults.rerankBudget)
    .addOption(
      new Option('--embedder <type>', 'lexical: hashed vectors with BM25; sentence: the lexical vectors and the sentence encoder\'s with BM25; none: BM25 only')
        .choices(['lexical', 'sentence', 'none']).default('lexical'),
    )
    .option('--json', 'print JSON')
    .action(
      action<{ data: string; budget: number; embedder: ContextEmbedderKind; json?: boolean }>(async (o) => {
        const rows = readJsonLines(o.data).map(({ line, value: r }) => {
          if (typeof r.question !== 'string' || !Array.isArray(r.chunks) || !Array.isArray(r.answer_chunk_ids)) {
            throw new UsageError(`${o.data}:${line}: expected {question, chunks: [...], answer_chunk_ids: [...]}`);
          }
          return r as unknown as ContextEvalRow;
        });
        const { embed, weight } = contextEmbedding(o.embedder);
        const bar = progressBar('context eval', rows.length, { json: o.json });
        const result = await evaluateContext(rows, { ...defaults, rerankBudget: o.budget }, embed, (done) => bar.update(done), weight);
        bar.stop();
        if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else {
          process.stdout.write(
            `${result.rows} rows, budget ${o.budget}: ${(result.token_reduction * 100).toFixed(1)}% of chunk tokens removed; ` +
              `answer kept in ${(result.answer_kept_any * 100).toFixed(1)}% of rows (all answer chunks in ${(result.answer_kept_all * 100).toFixed(1)}%)\n`,
          );
        }
      }),
    );
}
