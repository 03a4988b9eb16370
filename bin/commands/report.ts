import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { ATTRIBUTION_QUERIES, commitmentsQuery, spendBy, SPEND_DIMENSIONS } from '../../lib/attribution/queries';
import { commitmentsOf } from '../../lambda/core/finops/estimate';
import { renderReport, type ReportRecord } from '../../lambda/core/finops/report';
import { AttributionDb } from '../attribution-db';
import { action, collect, commaList, readJsonLines, UsageError } from '../cli-support';

type Row = Record<string, unknown>;

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Rows as an aligned text table (numbers right-aligned). */
export function formatTable(rows: readonly Row[]): string {
  if (!rows.length) return '(no rows)\n';
  const cols = Object.keys(rows[0]);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const numeric = cols.map((c) => rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(width[i]) : v.padEnd(width[i]))).join('  ').trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

/** RFC 4180 CSV. */
export function formatCsv(rows: readonly Row[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]);
  const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [cols.map(esc).join(','), ...rows.map((r) => cols.map((c) => esc(cell(r[c]))).join(','))].join('\n') + '\n';
}

type ReportFlags = {
  usage?: string[]; cur?: string; focus?: string; by?: string[]; query?: string; savings?: boolean; format: 'table' | 'json' | 'csv'; config?: string;
  tenantTag?: string; featureTag?: string; teamTag?: string; html?: string; title?: string;
};

/** `report`: the attribution SQL on DuckDB, or a self-contained HTML report. */
export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .summary('spend by tenant, feature, team, model; the bill allocated; an HTML report')
    .description(
      'The attribution SQL (the same text as the Athena named queries) on DuckDB, over a usage log (JSONL, or the Parquet Firehose ' +
        'delivers) and local copies of the CUR 2.0 / FOCUS exports. Default: spend by tenant and feature, savings, and with --cur the bill ' +
        'allocated to tenants. With --html: a self-contained HTML report from a usage log (spend over time, by tenant, feature and model, ' +
        'savings, the costliest requests).',
    )
    .option('--usage <file|dir>', 'usage log: JSONL file, or a folder of JSONL/Parquet (repeatable)', collect)
    .option('--cur <dir>', 'a local copy of the CUR 2.0 export')
    .option('--focus <dir>', 'a local copy of the FOCUS export')
    .addOption(new Option('--by <dims>', `group spend by ${Object.keys(SPEND_DIMENSIONS).join(', ')}`).argParser(commaList).conflicts(['query', 'html']))
    .addOption(new Option('--query <name>', 'run one named query').choices(ATTRIBUTION_QUERIES.map((q) => q.name)).conflicts(['by', 'html']))
    .addOption(new Option('--savings', 'what each lever saved (cache, routing, cascade, context, prompt caching, ...) by day, tenant, feature, team and model: the savings-by-lever query').conflicts(['by', 'query', 'html']))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .option('--tenant-tag <key>', 'cost-allocation tag holding the tenant in the CUR / FOCUS export (default llm-finops:tenant)')
    .option('--feature-tag <key>', 'the same for the feature (default llm-finops:feature)')
    .option('--team-tag <key>', 'the same for the team (default llm-finops:team)')
    .addOption(new Option('--html <out.html>', 'write the HTML report instead (needs one JSONL --usage)').conflicts(['cur', 'focus']))
    .option('--title <text>', 'title of the HTML report')
    .option('--config <gateway.json>', 'the gateway config: its committed capacity outside CUR (Azure PTU, reserved capacity) is apportioned in a commitments table')
    .action(action<ReportFlags>((o) => (o.html ? htmlReport(o, o.html) : sqlReport(o, (text) => process.stdout.write(text)))));
}

function htmlReport(o: ReportFlags, out: string): number {
  if (o.usage?.length !== 1) throw new UsageError('report --html needs exactly one --usage FILE.jsonl');
  const file = o.usage[0];
  const records: ReportRecord[] = [];
  for (const { line, value: r } of readJsonLines(file)) {
    if (r.type === 'feedback') continue;
    if (typeof r.tenant !== 'string' || typeof r.cost_micros !== 'number' || typeof r.ts !== 'string') {
      throw new UsageError(`${file}:${line}: not a usage record (needs ts, tenant, cost_micros)`);
    }
    records.push(r as unknown as ReportRecord);
  }
  writeFileSync(out, renderReport(records, { title: o.title, generatedAt: new Date().toISOString() }));
  process.stdout.write(`wrote ${out} (${records.length} requests)\n`);
  return 0;
}

/**
 * `llm-finops report` without --html: the attribution SQL (the same text as the Athena named queries) on DuckDB over
 * local copies of the usage log and the CUR / FOCUS exports.
 */
async function sqlReport(o: ReportFlags, out: (s: string) => void): Promise<number> {
  const format = o.format;
  if (!o.usage?.length && !o.cur) throw new UsageError('report needs --usage FILE.jsonl|DIR (and/or --cur DIR); --html OUT.html for the HTML report');
  const dims = o.by;
  if (dims) {
    const unknown = dims.filter((d) => !(d in SPEND_DIMENSIONS));
    if (unknown.length) throw new UsageError(`--by: unknown dimension(s) ${unknown.join(', ')}; use ${Object.keys(SPEND_DIMENSIONS).join(', ')}`);
  }
  const db = await AttributionDb.open({
    usage: o.usage, cur: o.cur, focus: o.focus, tenantTag: o.tenantTag, featureTag: o.featureTag, teamTag: o.teamTag,
  });
  try {
    const sections: { title: string; rows: Row[] }[] = [];
    const query = o.savings ? 'savings-by-lever' : o.query;
    if (query) sections.push({ title: query, rows: await db.named(query) });
    else if (dims) sections.push({ title: `spend by ${dims.join(', ')}`, rows: await db.query(spendBy(dims)) });
    else {
      // The default: who spent what, and with a CUR export, the bill allocated.
      if (db.tables.has('usage')) sections.push({ title: 'spend by tenant, feature', rows: await db.query(spendBy(['tenant', 'feature'])) });
      if (db.tables.has('usage')) sections.push({ title: 'savings', rows: await db.named('savings') });
      if (db.tables.has('cur') && db.tables.has('usage')) sections.push({ title: 'reconciliation', rows: await db.named('reconciliation') });
      else if (db.tables.has('cur')) sections.push({ title: 'bedrock-spend', rows: await db.named('bedrock-spend') }, { title: 'sagemaker-hosting', rows: await db.named('sagemaker-hosting') });
      // Committed capacity billed outside CUR, from the rates in the gateway config.
      const commitments = o.config ? outsideCurCommitments(o.config) : [];
      if (commitments.length && db.tables.has('usage')) sections.push({ title: 'commitments', rows: await db.query(commitmentsQuery(commitments)) });
    }
    if (format === 'json') out(`${JSON.stringify(sections.length === 1 ? sections[0].rows : Object.fromEntries(sections.map((s) => [s.title, s.rows])), null, 2)}\n`);
    else if (format === 'csv') {
      if (sections.length > 1) throw new UsageError('--format csv writes one table: pick it with --by, --query or --savings');
      out(formatCsv(sections[0].rows));
    } else for (const s of sections) out(`${s.title}\n${formatTable(s.rows)}\n`);
    return 0;
  } finally {
    db.close();
  }
}

/** The config's committed models billed outside CUR (Bedrock PT is in the reconciliation), with their hourly cost. */
function outsideCurCommitments(file: string): { model: string; usdPerHour: number }[] {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--config ${file}: ${(err as Error).message}`);
  }
  return commitmentsOf(config).filter((c) => c.type !== 'bedrock-provisioned').map((c) => ({ model: c.model, usdPerHour: c.units * c.usdPerUnitHour }));
}
