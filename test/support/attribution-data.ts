import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { CUR_COLUMNS, FOCUS_COLUMNS } from '../../lib/attribution/schema';
import type { UsageRecord } from '../../lambda/core/usage';

const duck = (glue: string): string => ({ string: 'VARCHAR', double: 'DOUBLE', timestamp: 'TIMESTAMP', 'map<string,string>': 'MAP(VARCHAR, VARCHAR)' } as Record<string, string>)[glue] ?? 'VARCHAR';
const lit = (v: unknown, type: string): string => {
  if (v === undefined || v === null) return 'NULL';
  if (type === 'map<string,string>') {
    const e = Object.entries(v as Record<string, string>);
    return e.length ? `MAP {${e.map(([k, x]) => `'${k}': '${x}'`).join(', ')}}` : 'MAP {}::MAP(VARCHAR, VARCHAR)';
  }
  if (type === 'double') return String(v);
  if (type === 'timestamp') return `TIMESTAMP '${v}'`;
  return `'${String(v).replace(/'/g, "''")}'`;
};

/** Writes rows as Parquet with the given schema (MAP columns as real Parquet maps), as Data Exports does. */
export async function writeParquet(file: string, columns: ReadonlyArray<{ name: string; type: string }>, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`CREATE TABLE t (${columns.map((c) => `"${c.name}" ${duck(c.type)}`).join(', ')})`);
  for (const r of rows) await conn.run(`INSERT INTO t VALUES (${columns.map((c) => lit(r[c.name], c.type)).join(', ')})`);
  mkdirSync(join(file, '..'), { recursive: true });
  await conn.run(`COPY t TO '${file}' (FORMAT parquet)`);
  conn.closeSync();
  instance.closeSync();
}

export type CurLine = Partial<Record<(typeof CUR_COLUMNS)[number]['name'], unknown>>;

/** A CUR 2.0 export folder: <dir>/data/BILLING_PERIOD=yyyy-MM/<name>-00001.snappy.parquet. */
export async function writeCur(dir: string, byPeriod: Readonly<Record<string, readonly CurLine[]>>): Promise<void> {
  for (const [period, lines] of Object.entries(byPeriod)) {
    const start = `${period}-01 00:00:00`;
    const rows = lines.map((l) => ({
      bill_billing_period_start_date: start,
      bill_payer_account_id: '111122223333',
      line_item_usage_account_id: '111122223333',
      line_item_line_item_type: 'Usage',
      line_item_usage_start_date: start,
      product: {},
      resource_tags: {},
      ...l,
    }));
    await writeParquet(join(dir, 'data', `BILLING_PERIOD=${period}`, 'llm-finops-cur-00001.snappy.parquet'), CUR_COLUMNS, rows);
  }
}

export async function writeFocus(dir: string, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  await writeParquet(join(dir, 'data', 'BILLING_PERIOD=2026-11', 'llm-finops-focus-00001.snappy.parquet'), FOCUS_COLUMNS, rows.map((r) => ({ Tags: {}, ...r })));
}

/** A usage record with the defaults of a plain successful request; override what the case needs. */
export function usageRecord(over: Partial<UsageRecord>): UsageRecord {
  return {
    ts: '2026-11-15T10:00:00.000Z', request_id: `r-${Math.random().toString(36).slice(2)}`, tenant: 'acme', feature: 'chat', team: null, end_user: null,
    provider: 'bedrock', provider_type: 'bedrock', model: 'nova-lite', upstream_model: 'us.amazon.nova-lite-v1:0', tier: 'small', route_reason: 'heuristic',
    cache: 'miss', stream: false, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cost_usd: 0, cost_micros: 0,
    baseline_cost_usd: 0, baseline_cost_micros: 0, cost_basis: 'tokens', usage_estimated: false, attempts: 1, latency_ms: 10, upstream_ms: 0, overhead_ms: 1,
    status: 200, error_type: null, cache_error: null, quota_action: 'none', context_tokens_saved: 0, context_saved_usd: 0, embedding_tokens: 0,
    cache_score: null, cascade: null,
    ...over,
  } as UsageRecord;
}

export function writeUsage(file: string, records: readonly unknown[]): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}
