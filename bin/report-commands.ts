import { parseArgs } from 'node:util';
import { ATTRIBUTION_QUERIES, spendBy, SPEND_DIMENSIONS } from '../lib/attribution/queries';
import { AttributionDb } from './attribution-db';
import { UsageError } from './cli-support';

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

/**
 * `llm-finops report` without --html: the attribution SQL (the same text as the Athena named queries) on DuckDB over
 * local copies of the usage log and the CUR / FOCUS exports.
 */
export async function sqlReportCommand(args: string[], out: (s: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      usage: { type: 'string', multiple: true }, cur: { type: 'string' }, focus: { type: 'string' }, by: { type: 'string' },
      query: { type: 'string' }, format: { type: 'string', default: 'table' }, 'tenant-tag': { type: 'string' }, 'feature-tag': { type: 'string' }, 'team-tag': { type: 'string' },
    },
  });
  const format = values.format!;
  if (!['table', 'json', 'csv'].includes(format)) throw new UsageError(`--format must be table, json or csv, got ${format}`);
  if (!values.usage?.length && !values.cur) throw new UsageError('report needs --usage FILE.jsonl|DIR (and/or --cur DIR); --html OUT.html for the HTML report');
  if (values.by && values.query) throw new UsageError('use --by or --query, not both');
  const dims = values.by?.split(',').map((d) => d.trim()).filter(Boolean);
  if (dims) {
    const unknown = dims.filter((d) => !(d in SPEND_DIMENSIONS));
    if (unknown.length) throw new UsageError(`--by: unknown dimension(s) ${unknown.join(', ')}; use ${Object.keys(SPEND_DIMENSIONS).join(', ')}`);
  }
  if (values.query && !ATTRIBUTION_QUERIES.some((q) => q.name === values.query)) {
    throw new UsageError(`--query: unknown query '${values.query}'; one of ${ATTRIBUTION_QUERIES.map((q) => q.name).join(', ')}`);
  }
  const db = await AttributionDb.open({
    usage: values.usage, cur: values.cur, focus: values.focus,
    tenantTag: values['tenant-tag'], featureTag: values['feature-tag'], teamTag: values['team-tag'],
  });
  try {
    const sections: { title: string; rows: Row[] }[] = [];
    if (values.query) sections.push({ title: values.query, rows: await db.named(values.query) });
    else if (dims) sections.push({ title: `spend by ${dims.join(', ')}`, rows: await db.query(spendBy(dims)) });
    else {
      // The default: who spent what, and with a CUR export, the bill allocated.
      if (db.tables.has('usage')) sections.push({ title: 'spend by tenant, feature', rows: await db.query(spendBy(['tenant', 'feature'])) });
      if (db.tables.has('usage')) sections.push({ title: 'savings', rows: await db.named('savings') });
      if (db.tables.has('cur') && db.tables.has('usage')) sections.push({ title: 'reconciliation', rows: await db.named('reconciliation') });
      else if (db.tables.has('cur')) sections.push({ title: 'bedrock-spend', rows: await db.named('bedrock-spend') }, { title: 'sagemaker-hosting', rows: await db.named('sagemaker-hosting') });
    }
    if (format === 'json') out(`${JSON.stringify(sections.length === 1 ? sections[0].rows : Object.fromEntries(sections.map((s) => [s.title, s.rows])), null, 2)}\n`);
    else if (format === 'csv') {
      if (sections.length > 1) throw new UsageError('--format csv writes one table: pick it with --by or --query');
      out(formatCsv(sections[0].rows));
    } else for (const s of sections) out(`${s.title}\n${formatTable(s.rows)}\n`);
    return 0;
  } finally {
    db.close();
  }
}
