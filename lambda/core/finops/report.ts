import { formatUsd } from '../pricing/money';
import type { UsageRecord } from '../usage';

/** What the report needs of a usage record (older logs may lack the newer fields). */
export type ReportRecord = Pick<UsageRecord, 'ts' | 'request_id' | 'tenant' | 'feature' | 'model' | 'status' | 'cost_micros' | 'baseline_cost_micros'> &
  Partial<Pick<UsageRecord, 'cache' | 'context_saved_usd' | 'input_tokens' | 'output_tokens' | 'savings'>>;

export interface ReportSummary {
  readonly requests: number;
  readonly errors: number;
  readonly spendMicros: number;
  readonly baselineMicros: number;
  readonly cacheHits: number;
  readonly contextSavedMicros: number;
  readonly byDay: readonly [string, number][];
  readonly byTenant: readonly [string, number][];
  readonly byFeature: readonly [string, number][];
  readonly byModel: readonly [string, number][];
  readonly costliest: readonly ReportRecord[];
  /** Each lever's saving summed over the records that carry `savings`, in the record's order; and how many do not. */
  readonly byLever: readonly [string, number][];
  readonly withoutSavings: number;
}

function sumBy(records: readonly ReportRecord[], key: (r: ReportRecord) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const r of records) m.set(key(r), (m.get(key(r)) ?? 0) + r.cost_micros);
  return [...m];
}

export function summarise(records: readonly ReportRecord[]): ReportSummary {
  const desc = (a: [string, number], b: [string, number]) => b[1] - a[1] || a[0].localeCompare(b[0]);
  return {
    requests: records.length,
    errors: records.filter((r) => r.status >= 400).length,
    spendMicros: records.reduce((s, r) => s + r.cost_micros, 0),
    baselineMicros: records.reduce((s, r) => s + r.baseline_cost_micros, 0),
    cacheHits: records.filter((r) => r.cache?.startsWith('hit')).length,
    contextSavedMicros: records.reduce((s, r) => s + Math.round((r.context_saved_usd ?? 0) * 1e6), 0),
    byDay: sumBy(records, (r) => r.ts.slice(0, 10)).sort((a, b) => a[0].localeCompare(b[0])),
    byTenant: sumBy(records, (r) => r.tenant).sort(desc),
    byFeature: sumBy(records, (r) => `${r.tenant}/${r.feature}`).sort(desc),
    byModel: sumBy(records, (r) => r.model ?? '(none)').sort(desc),
    costliest: [...records].sort((a, b) => b.cost_micros - a.cost_micros).slice(0, 10),
    byLever: leverTotals(records),
    withoutSavings: records.filter((r) => !r.savings).length,
  };
}

function leverTotals(records: readonly ReportRecord[]): [string, number][] {
  const m = new Map<string, number>();
  for (const r of records) for (const [k, v] of Object.entries(r.savings ?? {})) m.set(k, (m.get(k) ?? 0) + v);
  return [...m];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const usd = (m: number): string => `$${formatUsd(m)}`;

/** Horizontal bars, one per entry, as inline SVG. */
function bars(id: string, title: string, entries: readonly [string, number][], limit = 12): string {
  const rows = entries.slice(0, limit);
  const max = Math.max(1, ...rows.map(([, v]) => v));
  const h = 22;
  const W = 680;
  const body = rows
    .map(([k, v], i) => {
      const w = Math.max(1, Math.round((v / max) * 300));
      return `<g class="bar"><text x="0" y="${i * h + 15}">${esc(k.length > 28 ? `${k.slice(0, 27)}…` : k)}</text><rect x="200" y="${i * h + 4}" width="${w}" height="14" fill="#1f77b4"/><text x="${206 + w}" y="${i * h + 15}">${usd(v)}</text></g>`;
    })
    .join('');
  return `<section><h2>${esc(title)}</h2><svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Math.max(h, rows.length * h)}" font-size="12" font-family="sans-serif">${body}</svg></section>`;
}

/** Spend per day as columns across the chart's full width, scaled to the dearest day, as inline SVG. */
function columns(id: string, title: string, entries: readonly [string, number][]): string {
  const W = 720;
  const H = 220;
  const left = 50;
  const max = Math.max(0, ...entries.map(([, v]) => v));
  const cw = (W - left) / Math.max(1, entries.length);
  const gap = cw > 6 ? 2 : 0;
  const body = entries
    .map(([day, v], i) => {
      const h = max > 0 ? Math.max(1, Math.round((v / max) * (H - 50))) : 1;
      return `<g class="column"><rect x="${(left + i * cw).toFixed(2)}" y="${H - 30 - h}" width="${Math.max(0.5, cw - gap).toFixed(2)}" height="${h}" fill="#ff7f0e"><title>${esc(day)}: ${usd(v)}</title></rect></g>`;
    })
    .join('');
  const first = entries[0]?.[0] ?? '';
  const last = entries[entries.length - 1]?.[0] ?? '';
  return `<section><h2>${esc(title)}</h2><svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-size="12" font-family="sans-serif"><text x="0" y="14">${usd(max)}</text><line x1="48" x2="${W}" y1="${H - 30}" y2="${H - 30}" stroke="#333"/>${body}<text x="${left}" y="${H - 12}">${esc(first)}</text><text x="${W}" y="${H - 12}" text-anchor="end">${esc(last)}</text></svg></section>`;
}

/** A self-contained HTML report: no scripts, no external assets; charts are inline SVG. */
export function renderReport(records: readonly ReportRecord[], opts: { title?: string; generatedAt: string }): string {
  const s = summarise(records);
  const saved = s.baselineMicros - s.spendMicros;
  const share = s.baselineMicros ? ((saved / s.baselineMicros) * 100).toFixed(1) : '0.0';
  const kpi = (label: string, value: string, cls: string) => `<div class="kpi ${cls}"><div class="v">${esc(value)}</div><div class="l">${esc(label)}</div></div>`;
  const rows = s.costliest
    .map((r) => `<tr><td>${esc(r.ts)}</td><td>${esc(r.tenant)}</td><td>${esc(r.feature)}</td><td>${esc(r.model ?? '')}</td><td>${r.input_tokens ?? ''}</td><td>${r.output_tokens ?? ''}</td><td class="n">${usd(r.cost_micros)}</td><td><code>${esc(r.request_id)}</code></td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title ?? 'LLM spend report')}</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
.kpis{display:flex;gap:12px;flex-wrap:wrap}.kpi{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:150px}
.kpi .v{font-size:20px;font-weight:600}.kpi .l{color:#666;font-size:12px}
table{border-collapse:collapse;font-size:12px}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left}.n{text-align:right}
</style></head><body>
<h1>${esc(opts.title ?? 'LLM spend report')}</h1>
<p>${s.requests} requests from ${esc(s.byDay[0]?.[0] ?? '-')} to ${esc(s.byDay[s.byDay.length - 1]?.[0] ?? '-')}; generated ${esc(opts.generatedAt)} by llm-finops.</p>
<div class="kpis">${kpi('spend', usd(s.spendMicros), 'spend')}${kpi('on the baseline model', usd(s.baselineMicros), 'baseline')}${kpi(`saved (${share}%)`, usd(saved), 'saved')}${kpi('cache hits', String(s.cacheHits), 'hits')}${kpi('context savings', usd(s.contextSavedMicros), 'context')}${kpi('errors', String(s.errors), 'errors')}</div>
${columns('spend-by-day', 'Spend per day (UTC)', s.byDay)}
${bars('spend-by-tenant', 'Spend by tenant', s.byTenant)}
${bars('spend-by-feature', 'Spend by tenant and feature', s.byFeature)}
${bars('spend-by-model', 'Spend by model', s.byModel)}
<section><h2>Saved by lever</h2><table id="savings-by-lever"><thead><tr><th>lever</th><th>saved</th></tr></thead><tbody>${s.byLever.map(([k, v]) => `<tr><td>${esc(k.replace(/_/g, ' '))}</td><td class="n">${v < 0 ? '-' : ''}${usd(Math.abs(v))}</td></tr>`).join('')}</tbody></table>
<p>Against the baseline model on the untrimmed prompt (docs/savings.md); the levers add up to what was saved${s.withoutSavings ? `, but for ${s.withoutSavings} request(s) logged before the levers were recorded` : ''}.</p></section>
<section><h2>Costliest requests</h2><table id="costliest"><thead><tr><th>time</th><th>tenant</th><th>feature</th><th>model</th><th>in</th><th>out</th><th>cost</th><th>request</th></tr></thead><tbody>${rows}</tbody></table></section>
</body></html>
`;
}
