/**
 * Attribution SQL benchmark (`npm run bench`), written to bench/results/attribution.json: each named query on DuckDB
 * (what `llm-finops report` runs) over generated usage logs of 100k and 1M requests (JSONL, and the same as Parquet,
 * as Firehose delivers it) and a CUR 2.0 month of Bedrock and SageMaker lines. Medians of 3 runs, after one warm-up.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AttributionDb } from '../bin/attribution-db';
import { ATTRIBUTION_QUERIES, AttributionSource } from '../lib/attribution/queries';
import { usageRecord, writeCur } from '../test/support/attribution-data';

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function writeUsageLog(file: string, n: number): void {
  writeFileSync(file, '');
  const tenants = Array.from({ length: 50 }, (_, i) => `tenant-${i}`);
  let lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const sm = i % 5 === 0;
    const ext = i % 7 === 0;
    lines.push(JSON.stringify(usageRecord({
      ts: `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00.000Z`, request_id: `r${i}`, tenant: tenants[i % 50], feature: `f${i % 8}`, end_user: `u${i % 5000}`,
      provider: sm ? 'sagemaker' : ext ? 'openai' : 'bedrock', provider_type: sm ? 'sagemaker' : ext ? 'openai-compatible' : 'bedrock',
      upstream_model: sm ? 'llm-finops-qwen-inf2' : ext ? 'gpt-4o-mini' : 'us.amazon.nova-lite-v1:0', cost_basis: sm ? 'instance_hour' : 'tokens',
      input_tokens: 800 + (i % 400), output_tokens: 200 + (i % 300), cost_micros: sm ? 0 : 150 + (i % 900), baseline_cost_micros: 4000, upstream_ms: 900 + (i % 2000),
      cache: i % 11 === 0 ? 'hit-exact' : 'miss',
    })));
    if (lines.length === 10_000 || i === n - 1) {
      appendFileSync(file, `${lines.join('\n')}\n`);
      lines = [];
    }
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-attribution-'));
  try {
    await writeCur(join(dir, 'cur'), {
      '2026-11': [
        ...Array.from({ length: 50 }, (_, i) => ({ line_item_product_code: 'AmazonBedrock', line_item_usage_type: `USE1-NovaLite-${i % 2 ? 'input' : 'output'}-tokens`, line_item_usage_amount: 1e6, line_item_unblended_cost: 1.5, resource_tags: { user_llm_finops_tenant: `tenant-${i}` } })),
        { line_item_product_code: 'AmazonSageMaker', line_item_usage_type: 'USE1-Host:ml.inf2.xlarge', line_item_usage_amount: 720, line_item_unblended_cost: 712.8, line_item_resource_id: 'arn:aws:sagemaker:us-east-1:111122223333:endpoint/llm-finops-qwen-inf2' },
      ],
    });
    const results: Record<string, unknown>[] = [];
    for (const n of [100_000, 1_000_000]) {
      const jsonl = join(dir, `usage-${n}.jsonl`);
      writeUsageLog(jsonl, n);
      const parquetDir = join(dir, `parquet-${n}`, 'dt=2026-11-15');
      mkdirSync(parquetDir, { recursive: true });
      {
        // The same records as Parquet, as Firehose delivers them (the usage view has the Glue table's columns).
        const db = await AttributionDb.open({ usage: [jsonl] });
        await db.query(`COPY (SELECT * FROM {{usage}}) TO '${join(parquetDir, 'part.parquet')}' (FORMAT parquet)`);
        db.close();
      }
      for (const [format, usagePath] of [['jsonl', jsonl], ['parquet', join(dir, `parquet-${n}`)]] as const) {
        const db = await AttributionDb.open({ usage: [usagePath], cur: join(dir, 'cur') });
        for (const q of ATTRIBUTION_QUERIES.filter((x) => !x.needs.includes(AttributionSource.FOCUS))) {
          await db.named(q.name);
          const times: number[] = [];
          let rows = 0;
          for (let r = 0; r < 3; r++) {
            const t0 = performance.now();
            rows = (await db.named(q.name)).length;
            times.push(performance.now() - t0);
          }
          results.push({ requests: n, usage_format: format, query: q.name, rows, median_ms: round(median(times)) });
        }
        db.close();
      }
    }
    const out = { date: new Date().toISOString(), machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version }, note: 'DuckDB in process, one connection; JSONL is parsed on every query, Parquet is read columnar', results };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'attribution.json'), `${JSON.stringify(out, null, 2)}\n`);
    for (const r of results) process.stdout.write(`${String(r.requests).padStart(8)} ${String(r.usage_format).padEnd(8)} ${String(r.query).padEnd(20)} ${String(r.median_ms).padStart(8)} ms (${r.rows} rows)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
