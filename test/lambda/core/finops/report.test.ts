import { renderReport, summarise, type ReportRecord } from '../../../../lambda/core/finops/report';

const rec = (ts: string, tenant: string, feature: string, model: string, cost: number, baseline: number, extra: Partial<ReportRecord> = {}): ReportRecord => ({
  ts, request_id: `r-${ts}-${cost}`, tenant, feature, model, status: 200, cost_micros: cost, baseline_cost_micros: baseline, ...extra,
});

const records = [
  rec('2026-11-27T10:00:00Z', 'acme', 'chat', 'small', 1000, 5000),
  rec('2026-11-27T11:00:00Z', 'acme', 'rag', 'big', 9000, 9000, { context_saved_usd: 0.002 }),
  rec('2026-11-28T09:00:00Z', 'globex', 'chat', 'small', 0, 4000, { cache: 'hit-exact' }),
  rec('2026-11-28T09:30:00Z', 'globex', 'chat', 'small', 0, 0, { status: 502 }),
];

describe('summarise', () => {
  it('totals spend, baseline, savings and groups them (hand-computed)', () => {
    const s = summarise(records);
    expect(s).toMatchObject({ requests: 4, errors: 1, spendMicros: 10_000, baselineMicros: 18_000, cacheHits: 1, contextSavedMicros: 2000 });
    expect(s.byDay).toEqual([['2026-11-27', 10_000], ['2026-11-28', 0]]);
    expect(s.byTenant).toEqual([['acme', 10_000], ['globex', 0]]);
    expect(s.byModel).toEqual([['big', 9000], ['small', 1000]]);
    expect(s.costliest[0].cost_micros).toBe(9000);
  });
});

describe('renderReport', () => {
  it('spreads the daily columns over the chart\'s full width, however few the days', () => {
    const html = renderReport(records, { generatedAt: '2026-11-29T00:00:00Z' });
    const chart = /<svg id="spend-by-day"[\s\S]*?<\/svg>/.exec(html)![0];
    const rects = [...chart.matchAll(/<rect x="([\d.]+)" y="\d+" width="([\d.]+)" height="(\d+)"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]), h: Number(m[3]) }));
    expect(rects).toHaveLength(2);
    expect(rects[0].x).toBe(50);
    expect(rects[1].x + rects[1].w).toBeCloseTo(718, 0); // 720 wide, a 2 px gap after each column
    expect(rects[0].h).toBe(170); // the dearest day fills the plot height (220 - 50)
  });

  it('renders a self-contained page: inline SVG charts, no scripts, no external assets, escaped text', () => {
    const html = renderReport([...records, rec('2026-11-28T10:00:00Z', '<script>x</script>', 'f', 'm', 1, 1)], { generatedAt: '2026-11-29T00:00:00Z' });
    for (const id of ['spend-by-day', 'spend-by-tenant', 'spend-by-feature', 'spend-by-model', 'costliest']) expect(html).toContain(`id="${id}"`);
    expect(html).toContain('$0.008000'); // saved: baseline 18,001 - spend 10,001 micros
    expect(html).not.toMatch(/<script|src=|href=|@import|url\(/);
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
  });
});

describe('renderReport: saved by lever', () => {
  it('sums each lever over the records that carry savings, negatives shown as such, and names the records without', () => {
    const zero = { cache: 0, routing: 0, cascade: 0, context: 0, prompt_cache: 0, commitment: 0, batch: 0, failed_attempts: 0 };
    const withLevers = [
      rec('2026-11-27T10:00:00Z', 'acme', 'chat', 'small', 2000, 25_000, { savings: { ...zero, routing: 23_000 } }),
      rec('2026-11-27T10:01:00Z', 'acme', 'chat', 'small', 0, 25_000, { cache: 'hit-exact', savings: { ...zero, routing: 23_000, cache: 2000 } }),
      rec('2026-11-27T10:02:00Z', 'acme', 'chat', 'small', 2040, 2000, { savings: { ...zero, cache: -40 } }),
      rec('2026-11-27T10:03:00Z', 'acme', 'chat', 'small', 1000, 4000),
    ];
    const s = summarise(withLevers);
    expect(Object.fromEntries(s.byLever)).toEqual({ ...zero, routing: 46_000, cache: 1960 });
    expect(s.withoutSavings).toBe(1);
    const table = /<table id="savings-by-lever">[\s\S]*?<\/table>/.exec(renderReport(withLevers, { generatedAt: '2026-11-29T00:00:00Z' }))![0];
    expect(table).toContain('<tr><td>routing</td><td class="n">$0.046000</td></tr>');
    expect(table).toContain('<tr><td>cache</td><td class="n">$0.001960</td></tr>');
    expect(renderReport(withLevers, { generatedAt: 'x' })).toContain('but for 1 request(s) logged before the levers were recorded');
    const loss = renderReport([rec('2026-11-27T10:00:00Z', 'a', 'f', 'm', 40, 0, { status: 502, savings: { ...zero, failed_attempts: -40 } })], { generatedAt: 'x' });
    expect(loss).toContain('<tr><td>failed attempts</td><td class="n">-$0.000040</td></tr>');
  });
});
