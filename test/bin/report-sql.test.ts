import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCsv, formatTable } from '../../bin/commands/report';
import { usageRecord, writeCur, writeParquet, writeUsage } from '../support/attribution-data';

const ROOT = join(__dirname, '..', '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), ...args], { encoding: 'utf8' });

/** `llm-finops report` on DuckDB, as a user runs it against a usage log and a synced CUR export. */
describe('llm-finops report (SQL on DuckDB)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'report-sql-'));
    writeUsage(join(dir, 'usage.jsonl'), [
      usageRecord({ tenant: 'acme', feature: 'chat', cost_micros: 1_500_000, baseline_cost_micros: 4_000_000 }),
      usageRecord({ tenant: 'acme', feature: 'search', cost_micros: 500_000 }),
      usageRecord({ tenant: 'globex', feature: 'chat', cost_micros: 2_000_000 }),
    ]);
    await writeCur(join(dir, 'cur'), { '2026-11': [{ line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-input-tokens', line_item_usage_amount: 1, line_item_unblended_cost: 5 }] });
  });

  it('groups spend --by the given dimensions as a table, JSON or CSV', () => {
    const table = cli('report', '--usage', join(dir, 'usage.jsonl'), '--by', 'tenant');
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/spend by tenant\ntenant\s+requests\s+tokens\s+cost_usd\s+saved_usd\n/);
    expect(table.stdout).toMatch(/acme\s+2\s+0\s+2\s+2\n/);
    const json = JSON.parse(cli('report', '--usage', join(dir, 'usage.jsonl'), '--by', 'tenant,feature', '--format', 'json').stdout);
    expect(json).toEqual([
      { tenant: 'globex', feature: 'chat', requests: 1, tokens: 0, cost_usd: 2, saved_usd: -2 },
      { tenant: 'acme', feature: 'chat', requests: 1, tokens: 0, cost_usd: 1.5, saved_usd: 2.5 },
      { tenant: 'acme', feature: 'search', requests: 1, tokens: 0, cost_usd: 0.5, saved_usd: -0.5 },
    ]);
    expect(cli('report', '--usage', join(dir, 'usage.jsonl'), '--by', 'tenant', '--format', 'csv').stdout).toBe('tenant,requests,tokens,cost_usd,saved_usd\nacme,2,0,2,2\nglobex,1,0,2,-2\n');
  });

  it('apportions committed capacity billed outside CUR (an Azure PTU in the --config) by tokens over the hours used, idle apart (hand-computed)', () => {
    const d = mkdtempSync(join(tmpdir(), 'report-ptu-'));
    const ptu = (ts: string, tenant: string, input: number) => usageRecord({ ts, tenant, feature: 'chat', provider: 'azure', provider_type: 'azure-openai', model: 'gpt-ptu', upstream_model: 'gpt-4o-ptu', cost_basis: 'commitment', cost_micros: 0, input_tokens: input });
    writeUsage(join(d, 'usage.jsonl'), [ptu('2026-11-15T10:05:00.000Z', 'acme', 2000), ptu('2026-11-15T10:50:00.000Z', 'acme', 1000), ptu('2026-11-15T11:20:00.000Z', 'globex', 1000)]);
    writeFileSync(join(d, 'gateway.json'), JSON.stringify({ models: [
      { id: 'gpt-ptu', provider: 'az', upstreamModel: 'gpt-4o-ptu', commitment: { type: 'azure-ptu', units: 15, usdPerUnitHour: 1, term: 'monthly' } },
      { id: 'sonnet-pt', provider: 'br', upstreamModel: 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/x', commitment: { type: 'bedrock-provisioned', units: 1, usdPerUnitHour: 40 } },
    ] }));
    const r = cli('report', '--usage', join(d, 'usage.jsonl'), '--config', join(d, 'gateway.json'), '--format', 'json');
    expect(r.status).toBe(0);
    // 15 PTU x $1 = $15/h, held all of November (720 h): $10,800. Used in 2 hours: $30 shared 3,000 : 1,000 tokens
    // ($22.50 acme, $7.50 globex); $10,770 idle. The Bedrock PT is left to the CUR reconciliation.
    expect(JSON.parse(r.stdout).commitments).toEqual([
      { billing_period: '2026-11', resource: 'gpt-ptu', tenant: '(idle)', allocated_usd: 10_770, basis: 'hours held and not used' },
      { billing_period: '2026-11', resource: 'gpt-ptu', tenant: 'acme', allocated_usd: 22.5, basis: 'token share of the hours it was used' },
      { billing_period: '2026-11', resource: 'gpt-ptu', tenant: 'globex', allocated_usd: 7.5, basis: 'token share of the hours it was used' },
    ]);
  });

  it('allocates the CUR bill to tenants with --cur (default sections) and runs a named --query', () => {
    const r = cli('report', '--usage', join(dir, 'usage.jsonl'), '--cur', join(dir, 'cur'), '--format', 'json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['spend by tenant, feature', 'savings', 'reconciliation']);
    // $5 of Bedrock on the bill, $4 seen by the gateway: acme 2, globex 2, $1 unattributed.
    expect(out.reconciliation.map((x: Record<string, unknown>) => [x.tenant, x.allocated_usd])).toEqual([['(unattributed)', 1], ['acme', 2], ['globex', 2]]);
    const q = cli('report', '--cur', join(dir, 'cur'), '--query', 'bedrock-spend', '--format', 'json');
    expect(JSON.parse(q.stdout)).toEqual([{ billing_period: '2026-11', model: 'NovaLite', token_type: 'input', tenant_tag: '', tokens: 1, cost_usd: 5, model_total_usd: 5 }]);
  });

  it('reads usage Parquet written before a column existed, the missing columns as NULL', async () => {
    const older = [{ name: 'ts', type: 'string' }, { name: 'request_id', type: 'string' }, { name: 'tenant', type: 'string' }, { name: 'feature', type: 'string' }, { name: 'cost_usd', type: 'double' }, { name: 'cost_micros', type: 'double' }];
    const file = join(dir, 'old-usage', 'part-0.parquet');
    await writeParquet(file, older, [{ ts: '2026-11-20T08:00:00.000Z', request_id: 'r1', tenant: 'acme', feature: 'chat', cost_usd: 1.25, cost_micros: 1_250_000 }]);
    const r = cli('report', '--usage', join(dir, 'old-usage'), '--by', 'tenant', '--format', 'json');
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject([{ tenant: 'acme', requests: 1, cost_usd: 1.25 }]);
  });

  it('says what each lever saved with --savings, as CSV too, and refuses --savings with --by', () => {
    const d = mkdtempSync(join(tmpdir(), 'report-savings-'));
    const zero = { cache: 0, routing: 0, cascade: 0, context: 0, prompt_cache: 0, commitment: 0, batch: 0, failed_attempts: 0 };
    writeUsage(join(d, 'usage.jsonl'), [
      usageRecord({ tenant: 'acme', cost_micros: 2000, baseline_cost_micros: 25_000, savings: { ...zero, routing: 23_000 } }),
      usageRecord({ tenant: 'acme', cache: 'hit-exact', cost_micros: 0, baseline_cost_micros: 25_000, savings: { ...zero, routing: 23_000, cache: 2000 } }),
    ]);
    const csv = cli('report', '--usage', join(d, 'usage.jsonl'), '--savings', '--format', 'csv');
    expect(csv.status).toBe(0);
    expect(csv.stdout).toBe(
      'day,tenant,feature,team,model,requests,requests_without_savings,baseline_usd,actual_usd,cache_usd,routing_usd,cascade_usd,context_usd,prompt_cache_usd,commitment_usd,batch_usd,failed_attempts_usd,saved_usd\n' +
        '2026-11-15,acme,chat,,nova-lite,2,0,0.05,0.002,0.002,0.046,0,0,0,0,0,0,0.048\n',
    );
    expect(cli('report', '--usage', join(d, 'usage.jsonl'), '--savings', '--by', 'tenant').status).toBe(2);
  });

  it('names what is wrong and exits 2', () => {
    const cases: [string[], string][] = [
      [[], 'report needs --usage FILE.jsonl|DIR (and/or --cur DIR)'],
      [['--usage', join(dir, 'usage.jsonl'), '--by', 'planet'], '--by: unknown dimension(s) planet'],
      [['--usage', join(dir, 'usage.jsonl'), '--query', 'everything'], "option '--query <name>' argument 'everything' is invalid. Allowed choices are spend-by-dimension"],
      [['--usage', join(dir, 'usage.jsonl'), '--query', 'reconciliation'], "query 'reconciliation' needs --cur"],
      [['--usage', join(dir, 'nope.jsonl')], 'no such file or directory'],
      [['--usage', join(dir, 'usage.jsonl'), '--format', 'xml'], "option '--format <format>' argument 'xml' is invalid. Allowed choices are table, json, csv."],
      [['--usage', join(dir, 'usage.jsonl'), '--cur', join(dir, 'cur'), '--format', 'csv'], '--format csv writes one table'],
      [['--cur', mkdtempSync(join(tmpdir(), 'empty-cur-'))], 'no Parquet files'],
    ];
    for (const [args, message] of cases) {
      const r = cli('report', ...args);
      expect({ args, status: r.status, stderr: r.stderr.includes(message) }).toEqual({ args, status: 2, stderr: true });
    }
  });

  it('formats tables and CSV', () => {
    expect(formatTable([{ a: 'x', n: 1.25 }, { a: 'long', n: 10 }])).toBe('a        n\n----  ----\nx     1.25\nlong    10\n');
    expect(formatCsv([{ a: 'x,y', b: 'q"' }])).toBe('a,b\n"x,y","q"""\n');
    expect(formatTable([])).toBe('(no rows)\n');
  });
});
