import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ATTRIBUTION_QUERIES, DUCKDB_SHIMS, renderQuery } from '../lib/attribution/queries';
import { curResourceTagKey, USAGE_COLUMNS } from '../lib/attribution/schema';
import { UsageError } from './cli-support';

export interface AttributionSources {
  /** Usage logs: .jsonl files, or directories of .jsonl files or of Parquet (as Firehose delivers it, dt=... partitions). */
  readonly usage?: readonly string[];
  /** A CUR 2.0 export directory (Parquet, BILLING_PERIOD=yyyy-MM partitions), as synced from the export bucket. */
  readonly cur?: string;
  /** A FOCUS 1.2 export directory (Parquet). */
  readonly focus?: string;
  /** The tenant / feature / team cost allocation tag keys. */
  readonly tenantTag?: string;
  readonly featureTag?: string;
  readonly teamTag?: string;
}

/** DuckDB types for the Glue types of the usage table. */
function duckType(glue: string): string {
  if (glue === 'string') return 'VARCHAR';
  if (glue === 'boolean') return 'BOOLEAN';
  if (glue === 'bigint') return 'BIGINT';
  if (glue === 'int') return 'INTEGER';
  if (glue === 'double') return 'DOUBLE';
  // A flat struct (the record's savings) as DuckDB's STRUCT, so `savings.routing` reads as on Athena.
  const struct = /^struct<((?:\w+:\w+,?)+)>$/.exec(glue);
  if (struct) return `STRUCT(${struct[1].split(',').map((f) => { const [n, t] = f.split(':'); return `${n} ${duckType(t)}`; }).join(', ')})`;
  return 'JSON';
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function filesUnder(dir: string, ext: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p, ext));
    else if (entry.name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

/**
 * The attribution SQL on DuckDB, in process: the usage log as view `usage_log`, the CUR export as `cur`, the FOCUS
 * export as `focus`, with the shims that give DuckDB Athena's meaning (DUCKDB_SHIMS). What `llm-finops report` and
 * the tests run.
 */
export class AttributionDb {
  private constructor(private readonly conn: DuckDBConnection, private readonly instance: DuckDBInstance, readonly tables: ReadonlySet<string>, private readonly params: Record<string, string>) {}

  static async open(src: AttributionSources): Promise<AttributionDb> {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    for (const shim of DUCKDB_SHIMS) await conn.run(shim);
    const tables = new Set<string>();
    if (src.usage?.length) {
      const jsonl: string[] = [];
      const parquet: string[] = [];
      for (const p of src.usage) {
        if (!existsSync(p)) throw new UsageError(`--usage ${p}: no such file or directory`);
        if (statSync(p).isDirectory()) {
          parquet.push(...filesUnder(p, '.parquet'));
          jsonl.push(...filesUnder(p, '.jsonl'));
        } else if (p.endsWith('.parquet')) parquet.push(p);
        else jsonl.push(p);
      }
      if (!jsonl.length && !parquet.length) throw new UsageError(`--usage ${src.usage.join(', ')}: no .jsonl or .parquet files`);
      const parts: string[] = [];
      const names = USAGE_COLUMNS.map((c) => c.name).join(', ');
      if (jsonl.length) {
        // Explicit columns: a field no line has reads as NULL; feedback lines (type = 'feedback') are not requests.
        const columns = [...USAGE_COLUMNS.map((c) => `${sqlString(c.name)}: ${sqlString(duckType(c.type))}`), "'type': 'VARCHAR'"].join(', ');
        parts.push(`SELECT ${names} FROM read_json([${jsonl.map(sqlString).join(', ')}], format = 'newline_delimited', columns = {${columns}}) WHERE type IS NULL AND tenant IS NOT NULL`);
      }
      if (parquet.length) {
        // Files written before a column existed lack it: read it as NULL rather than fail the whole report.
        const source = `read_parquet([${parquet.map(sqlString).join(', ')}], union_by_name = true)`;
        const present = new Set((await (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjects()).map((r) => String(r.column_name)));
        const select = USAGE_COLUMNS.map((c) => (present.has(c.name) ? c.name : `NULL::${duckType(c.type)} AS ${c.name}`)).join(', ');
        parts.push(`SELECT ${select} FROM ${source}`);
      }
      await conn.run(`CREATE VIEW usage_log AS ${parts.join(' UNION ALL ')}`);
      tables.add('usage');
    }
    for (const [table, dir] of [['cur', src.cur], ['focus', src.focus]] as const) {
      if (!dir) continue;
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--${table} ${dir}: not a directory`);
      const files = filesUnder(dir, '.parquet');
      if (!files.length) throw new UsageError(`--${table} ${dir}: no Parquet files (sync the export's data/ folder)`);
      // Data Exports writes BILLING_PERIOD=yyyy-MM folders; Glue (and so Athena) names the partition billing_period.
      const rename = files.some((f) => f.includes('BILLING_PERIOD=')) ? ' RENAME (BILLING_PERIOD AS billing_period)' : '';
      await conn.run(`CREATE VIEW ${table} AS SELECT *${rename} FROM read_parquet([${files.map(sqlString).join(', ')}], hive_partitioning = true, hive_types_autocast = false, union_by_name = true)`);
      tables.add(table);
    }
    const tenantTag = src.tenantTag ?? 'llm-finops:tenant';
    const featureTag = src.featureTag ?? 'llm-finops:feature';
    const teamTag = src.teamTag ?? 'llm-finops:team';
    return new AttributionDb(conn, instance, tables, {
      usage: 'usage_log', cur: 'cur', focus: 'focus',
      tenant_tag: curResourceTagKey(tenantTag), feature_tag: curResourceTagKey(featureTag), team_tag: curResourceTagKey(teamTag),
      focus_tenant_tag: `user:${tenantTag}`, focus_feature_tag: `user:${featureTag}`, focus_team_tag: `user:${teamTag}`,
    });
  }

  /** Runs shared SQL (placeholders filled); rows with BIGINTs as numbers and timestamps as ISO strings. */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(renderQuery(sql, this.params));
    return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])));
  }

  /** A named query by name; refuses one whose tables are not loaded, naming the flag that loads them. */
  async named(name: string): Promise<Record<string, unknown>[]> {
    const q = ATTRIBUTION_QUERIES.find((x) => x.name === name);
    if (!q) throw new UsageError(`unknown query '${name}'; one of ${ATTRIBUTION_QUERIES.map((x) => x.name).join(', ')}`);
    const missing = q.needs.filter((t) => !this.tables.has(t));
    if (missing.length) throw new UsageError(`query '${name}' needs ${missing.map((t) => `--${t}`).join(' and ')}`);
    return this.query(q.sql);
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  return v;
}
