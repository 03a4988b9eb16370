import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { sha256 } from '../../lambda/adapters/system-runtime';
import { IMPORT_SOURCES, importRows, sourceRows, type ImportSource, type SourceRow } from '../../lambda/core/finops/import';
import { action, UsageError } from '../cli-support';

/** The .json and .jsonl files of a directory (sorted), or the one file named. */
function inputFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (!stat.isDirectory()) return [path];
  const files = readdirSync(path).filter((f) => /\.jsonl?$/.test(f)).sort().map((f) => join(path, f));
  if (!files.length) throw new UsageError(`${path}: no .json or .jsonl files`);
  return files;
}

/** `import`: other gateways' logs as usage records. */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .summary('turn other gateways\' logs into usage records')
    .description(
      'Convert LiteLLM spend logs, Cloudflare AI Gateway logs, Portkey log exports or the OpenAI organization Usage/Costs API into usage ' +
        'records (JSONL) that report, Athena and the reconciliation read beside the gateway\'s own. Tenant, feature and team come from ' +
        'metadata keys or key:value tags; fields not mapped are kept under source_fields. Rows that cannot be read are listed with where ' +
        'they are and the command exits 1 (the rest are written).',
    )
    .argument('<path>', 'a file (JSON, JSONL, an API page) or a directory of them')
    .addOption(new Option('--from <tool>', 'the tool the logs come from').choices(IMPORT_SOURCES).makeOptionMandatory())
    .requiredOption('--out <usage.jsonl>', 'where to write the usage records')
    .option('--tenant-key <key>', 'metadata key or tag prefix naming the tenant (OpenAI: the project id)', 'tenant')
    .option('--feature-key <key>', 'metadata key or tag prefix naming the feature (OpenAI: the API key id)', 'feature')
    .option('--team-key <key>', 'metadata key or tag prefix naming the team (LiteLLM: else its team)', 'team')
    .option('--json', 'print the summary as JSON')
    .action(
      action<{ from: ImportSource; out: string; tenantKey: string; featureKey: string; teamKey: string; json?: boolean }>((o, [path]) => {
        const rows: SourceRow[] = [];
        for (const file of inputFiles(path)) {
          try {
            rows.push(...sourceRows(readFileSync(file, 'utf8'), file));
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
        }
        const result = importRows(o.from, rows, { tenantKey: o.tenantKey, featureKey: o.featureKey, teamKey: o.teamKey, sha256 });
        writeFileSync(o.out, result.records.map((r) => JSON.stringify(r)).join('\n') + (result.records.length ? '\n' : ''));
        const sum = (f: (r: (typeof result.records)[number]) => number): number => result.records.reduce((n, r) => n + f(r), 0);
        const written = {
          records: result.records.length,
          cost_usd: Math.round(sum((r) => r.cost_micros)) / 1e6,
          input_tokens: sum((r) => r.input_tokens + r.cache_read_tokens),
          output_tokens: sum((r) => r.output_tokens),
          priced_from_catalog: result.records.filter((r) => r.usage_flags.includes('imported_catalog_price')).length,
          unpriced: result.records.filter((r) => r.usage_flags.includes('imported_unpriced')).length,
        };
        const summary = {
          from: o.from, out: o.out, rows: rows.length,
          source: { rows: result.source.rows, cost_usd: result.source.costUsd, input_tokens: result.source.inputTokens, output_tokens: result.source.outputTokens },
          written, problems: result.problems,
        };
        if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else {
          process.stdout.write(
            `${o.from}: ${rows.length} rows read, ${written.records} records written to ${o.out}: $${written.cost_usd.toFixed(6)}, ` +
              `${written.input_tokens} input and ${written.output_tokens} output tokens (source: $${result.source.costUsd.toFixed(6)})` +
              `${written.priced_from_catalog ? `; ${written.priced_from_catalog} priced from the catalog` : ''}${written.unpriced ? `; ${written.unpriced} with no price ($0)` : ''}\n`,
          );
        }
        for (const p of result.problems) process.stderr.write(`${p.where}: ${p.message}\n`);
        return result.problems.length ? 1 : 0;
      }),
    );
}
