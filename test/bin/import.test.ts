import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../bin/llm-finops';
import { sourceRows } from '../../lambda/core/finops/import';
import { usageRecord, writeUsage } from '../support/attribution-data';
import { captureOutput } from '../support/output';

const EXAMPLES = join(__dirname, '..', '..', 'examples', 'imports');
type Rec = Record<string, unknown> & { tenant: string; cost_micros: number; input_tokens: number; output_tokens: number; usage_flags: string[] };

/** Spend and tokens per tenant, the way a FinOps engineer checks an import against the tool's own dashboard. */
function byTenant(records: readonly Rec[]): Record<string, { micros: number; tokens: number }> {
  const out: Record<string, { micros: number; tokens: number }> = {};
  for (const r of records) {
    const t = (out[r.tenant] ??= { micros: 0, tokens: 0 });
    t.micros += r.cost_micros;
    t.tokens += r.input_tokens + (r.cache_read_tokens as number) + r.output_tokens;
  }
  return out;
}

describe('llm-finops import (other gateways\' logs as usage records)', () => {
  const output = captureOutput();
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-import-'));
  const run = async (from: string, file: string, ...extra: string[]) => {
    const out = join(dir, `${from}-${Math.random().toString(36).slice(2)}.jsonl`);
    const code = await runCli(['import', '--from', from, file, '--out', out, '--json', ...extra]);
    const summary = JSON.parse(output.out.trim().split('\n').at(-1)!);
    const records = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
    output.clear();
    return { code, summary, records, out };
  };

  it('LiteLLM spend logs: spend as logged, tenant and feature from tags, team from the key\'s team alias; a bad row is named and exits 1', async () => {
    const { code, summary, records } = await run('litellm', join(EXAMPLES, 'litellm-spend-logs.json'));
    expect(code).toBe(1);
    // Hand-checked against the file: 0.00024 + 0.0035 + 0 + 0 USD; 1000 + 2000 + 1000 + 0 input, 150 + 300 + 150 + 0 output.
    expect(summary.source).toEqual({ rows: 4, cost_usd: 0.00374, input_tokens: 4000, output_tokens: 600 });
    expect(summary.written).toMatchObject({ records: 4, cost_usd: 0.00374, input_tokens: 4000, output_tokens: 600 });
    expect(summary.problems).toEqual([{ where: `${join(EXAMPLES, 'litellm-spend-logs.json')} item 5`, message: 'prompt_tokens is negative (-5)' }]);
    expect(byTenant(records)).toEqual({ acme: { micros: 240, tokens: 2300 }, globex: { micros: 3500, tokens: 2300 } });
    expect(records[0]).toMatchObject({
      request_id: 'chatcmpl-9f1c2a', ts: '2026-11-30T09:15:02.125Z', tenant: 'acme', feature: 'support-bot', team: 'support',
      provider: 'openai', provider_type: 'openai-compatible', model: 'gpt-4o-mini', cache: 'miss', status: 200, latency_ms: 1775,
      source: 'litellm', source_id: 'chatcmpl-9f1c2a', source_requests: 1, route_reason: 'imported:litellm',
    });
    expect(records[0].end_user).toMatch(/^[0-9a-f]{16}$/);
    // Fields with no column are kept, metadata and tags as the tool wrote them.
    expect(records[0].source_fields).toMatchObject({ call_type: 'acompletion', session_id: 'sess-1', metadata: { user_api_key_alias: 'support-bot-prod' } });
    // Metadata and tags given as JSON strings (as some exports write them) read the same; a Bedrock call is AWS spend.
    expect(records[1]).toMatchObject({ tenant: 'globex', feature: 'search', team: 'search-team', provider_type: 'bedrock', cost_micros: 3500 });
    expect(records[2]).toMatchObject({ cache: 'hit-exact', cost_micros: 0 });
    expect(records[3]).toMatchObject({ status: 500, error_type: 'upstream_error' });
  });

  it('Cloudflare AI Gateway logs: the API\'s result list, metadata as a string or an object; a log without cost is flagged, not guessed', async () => {
    const { code, summary, records } = await run('cloudflare', join(EXAMPLES, 'cloudflare-logs.json'));
    expect(code).toBe(0);
    expect(summary.source).toEqual({ rows: 4, cost_usd: 0.009735, input_tokens: 2500, output_tokens: 680 });
    expect(summary.written).toMatchObject({ records: 4, cost_usd: 0.009735, unpriced: 1 });
    expect(byTenant(records)).toEqual({ acme: { micros: 135, tokens: 1580 }, globex: { micros: 9600, tokens: 1600 } });
    expect(records.map((r) => [r.feature, r.team, r.cache])).toEqual([
      ['summaries', 'platform', 'miss'], ['agent', null, 'miss'], ['summaries', 'platform', 'hit-exact'], ['classify', null, 'miss'],
    ]);
    expect(records[3]).toMatchObject({ provider: 'workers-ai', cost_micros: 0, usage_flags: ['imported_unpriced'] });
  });

  it('Portkey exports: cost in cents becomes dollars, semantic hits and streams kept, _user hashed; a blank line does not shift line numbers', async () => {
    const file = join(EXAMPLES, 'portkey-export.jsonl');
    const { code, summary, records } = await run('portkey', file);
    expect(code).toBe(1);
    // (0.45 + 0 + 0.65) cents = $0.011.
    expect(summary.source).toEqual({ rows: 3, cost_usd: 0.011, input_tokens: 6000, output_tokens: 900 });
    expect(summary.problems).toEqual([{ where: `${file}:5`, message: 'cost: expected a number, got "abc"' }]);
    expect(records.map((r) => [r.tenant, r.feature, r.cost_micros, r.cache, r.stream])).toEqual([
      ['acme', 'drafts', 4500, 'miss', false], ['acme', 'drafts', 0, 'hit-semantic', false], ['globex', 'agent', 6500, 'none', true],
    ]);
    expect(records[0].ts).toBe('2026-11-30T11:00:00.000Z');
    expect(records[0].end_user).not.toBe(records[1].end_user);
    expect(records[2].team).toBe('ml');
  });

  it('OpenAI Usage API buckets are priced from the catalog (snapshot names flagged) and agree with the Costs API export of the same day', async () => {
    const usage = await run('openai-usage', join(EXAMPLES, 'openai-usage-completions.json'));
    expect(usage.code).toBe(0);
    // gpt-4o-mini: 100k uncached x $0.15 + 20k cached x $0.075 + 30k x $0.60 per 1M = $0.0345; gpt-4o: 50k x $2.50 + 10k x $10 = $0.225.
    expect(usage.records.map((r) => [r.tenant, r.feature, r.cost_micros, r.cache_read_tokens, r.source_requests, r.usage_flags])).toEqual([
      ['proj_acme', 'key_support', 34_500, 20_000, 85, ['imported_catalog_price']],
      ['proj_globex', 'key_agent', 225_000, 0, 12, ['imported_catalog_price']],
    ]);
    expect(usage.records[0].ts).toBe('2026-11-30T00:00:00.000Z');
    const costs = await run('openai-usage', join(EXAMPLES, 'openai-costs.json'));
    expect(costs.summary.source.cost_usd).toBe(0.2595);
    expect(byTenant(costs.records)).toEqual({ proj_acme: { micros: 34_500, tokens: 0 }, proj_globex: { micros: 225_000, tokens: 0 } });

    // Both kinds in one import would count the same spend twice.
    const both = join(dir, 'both');
    mkdirSync(both);
    writeFileSync(join(both, 'a-usage.json'), readFileSync(join(EXAMPLES, 'openai-usage-completions.json')));
    writeFileSync(join(both, 'b-costs.json'), readFileSync(join(EXAMPLES, 'openai-costs.json')));
    const mixed = await run('openai-usage', both);
    expect(mixed.code).toBe(1);
    expect(mixed.summary.problems).toEqual([expect.objectContaining({ message: expect.stringContaining('both Usage API and Costs API results') })]);
  });

  it('refuses what it cannot read: a line that is not JSON, another currency, a wrong source, an empty folder', async () => {
    expect(() => sourceRows('{"a": 1}\nnot json\n', 'x.jsonl')).toThrow('x.jsonl:2');
    const eur = join(dir, 'eur.jsonl');
    writeFileSync(eur, `${JSON.stringify({ id: 'p', created_at: '2026-11-30 11:00:00', ai_model: 'gpt-4o', req_units: 1, res_units: 1, cost: 1, cost_currency: 'EUR' })}\n`);
    expect((await run('portkey', eur)).summary.problems).toEqual([{ where: `${eur}:1`, message: 'cost_currency EUR: only USD is converted' }]);
    const wrong = await run('openai-usage', join(EXAMPLES, 'portkey-export.jsonl'));
    expect(wrong.records).toEqual([]);
    expect(wrong.summary.problems[0].message).toContain('expected organization.usage.completions.result');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(await runCli(['import', '--from', 'litellm', empty, '--out', join(dir, 'x.jsonl')])).toBe(2);
    expect(output.err).toContain('no .json or .jsonl files');
    expect(await runCli(['import', '--from', 'helicone', empty, '--out', join(dir, 'x.jsonl')])).toBe(2);
  });

  it('report reads imported records beside the gateway\'s own: spend by tenant over both', async () => {
    const ours = join(dir, 'ours.jsonl');
    writeUsage(ours, [usageRecord({ tenant: 'acme', feature: 'support-bot', cost_usd: 0.001, cost_micros: 1000, input_tokens: 100, output_tokens: 10 })]);
    const imported = await run('cloudflare', join(EXAMPLES, 'cloudflare-logs.json'));
    expect(await runCli(['report', '--usage', ours, '--usage', imported.out, '--by', 'tenant', '--format', 'json'])).toBe(0);
    const rows = JSON.parse(output.out) as { tenant: string; requests: number; cost_usd: number }[];
    const acme = rows.find((r) => r.tenant === 'acme')!;
    // Ours: $0.001 (1 request); Cloudflare's acme rows: $0.000135 + $0 + $0 (3 requests).
    expect(acme).toMatchObject({ requests: 4, cost_usd: 0.001135 });
    expect(rows.find((r) => r.tenant === 'globex')).toMatchObject({ requests: 1, cost_usd: 0.0096 });
  });
});
