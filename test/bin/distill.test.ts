import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../bin/llm-finops';
import { captureOutput } from '../support/output';

/**
 * `llm-finops distill plan` on a usage log and a capture directory as the gateway writes them: a ticket classifier
 * and an extractor on the premium model among other traffic (the plan's sums are hand-checked in
 * test/lambda/core/finops/distill.test.ts; here the command's files, flags and errors).
 */
describe('llm-finops distill plan', () => {
  const output = captureOutput();
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-distill-'));
  const t0 = Date.UTC(2026, 10, 1);
  const rows: Record<string, unknown>[] = [];
  const add = (feature: string, n: number, output_tokens: (i: number) => number, micros: number) => {
    for (let i = 0; i < n; i++) rows.push({ ts: new Date(t0 + (i / (n - 1)) * 30.42 * 86_400_000).toISOString(), request_id: `${feature}-${i}`, feature, model: 'big', status: 200, cache: 'miss', cost_micros: micros, input_tokens: 400, output_tokens: output_tokens(i) });
  };
  add('tickets', 3000, () => 4, 1300);
  add('extract', 2000, (i) => (i % 2 ? 90 : 110), 6000);
  add('chat', 1500, (i) => (i % 2 ? 5 : 1500), 9000);
  // A feedback line shares the log; it is not a request.
  rows.push({ type: 'feedback', request_id: 'tickets-1', score: 1 });
  writeFileSync(join(dir, 'usage.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const capture = join(dir, 'capture');
  for (const [folder, feature, n] of [['tickets', 'tickets', 700], ['extract', 'extract', 650], ['chat', 'chat', 900]] as const) {
    mkdirSync(join(capture, folder), { recursive: true });
    writeFileSync(join(capture, folder, '2026-11-30.jsonl'), `${Array.from({ length: n }, () => JSON.stringify({ messages: [], llm_finops: { feature } })).join('\n')}\n`);
  }
  writeFileSync(join(dir, 'gateway.json'), JSON.stringify({
    providers: [{ type: 'openai-compatible', id: 'up', baseUrl: 'http://127.0.0.1:1/v1' }],
    models: [{ id: 'big', provider: 'up', upstreamModel: 'big', price: { inputPerMTok: 3, outputPerMTok: 15 } }],
    tiers: [{ name: 't', models: ['big'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'big' },
  }));

  it('ranks the stable features with examples first, prices each option, says why the others are not candidates', async () => {
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--config', join(dir, 'gateway.json'), '--capture', capture, '--small-model', 'amazon.nova-micro-v1:0', '--json'])).toBe(0);
    const plan = JSON.parse(output.out);
    expect(plan.features.map((f: { feature: string; blockers: string[] }) => [f.feature, f.blockers.length])).toEqual([['extract', 0], ['tickets', 0], ['chat', 1]]);
    expect(plan.features[0]).toMatchObject({ premiumRequestsPerMonth: 2000, premiumUsdPerMonth: 12, examples: 650 });
    expect(plan.features[0].options.map((o: { label: string }) => o.label)).toEqual([expect.stringMatching(/^amazon\.nova-micro-v1:0 per token/), expect.stringMatching(/^ml\.inf2\.xlarge at 500 tokens\/s/)]);
    output.clear();
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--capture', capture])).toBe(0);
    expect(output.out).toMatch(/\* extract: 2,000 premium requests\/month, \$12\.00\/month/);
    expect(output.out).toMatch(/chat: .*\n {4}not a candidate: answer lengths vary too much/);
  });

  it('takes the hosting options from a file, and refuses what it cannot use with exit 2', async () => {
    writeFileSync(join(dir, 'hosting.json'), JSON.stringify([{ label: 'custom', usdPerMTok: { input: 0.05, output: 0.2 } }]));
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--hosting', join(dir, 'hosting.json'), '--json'])).toBe(0);
    // No capture directory: no examples, so no candidates; the options are still priced.
    const plan = JSON.parse(output.out);
    expect(plan.features.every((f: { blockers: string[] }) => f.blockers.some((b) => b.startsWith('0 captured examples')))).toBe(true);
    expect(plan.features.find((f: { feature: string }) => f.feature === 'tickets').options[0]).toMatchObject({ label: 'custom', usdPerMonth: 0.0624 });
    writeFileSync(join(dir, 'bad.json'), JSON.stringify([{ label: 'x', instance: { usdPerHour: 1, minInstances: 0, tokensPerSecond: 10, utilisation: 0.5 } }]));
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--hosting', join(dir, 'bad.json')])).toBe(2);
    expect(output.err).toMatch(/option 0: needs usdPerMTok/);
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl')])).toBe(2);
    expect(output.err).toMatch(/name the premium models/);
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--small-model', 'no-such-model'])).toBe(2);
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--capture', join(dir, 'none')])).toBe(2);
  });

  it('writes the crossover chart of the first candidate or a named feature, and says when it cannot', async () => {
    const svg = join(dir, 'plan.svg');
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--capture', capture, '--svg', svg])).toBe(0);
    expect(output.out).toMatch(/chart: .*plan\.svg\n$/);
    expect(readFileSync(svg, 'utf8')).toContain('Monthly cost: extract on big vs ml.inf2.xlarge at 500 tokens/s');
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--svg', svg, '--chart-feature', 'chat', '--json'])).toBe(0);
    expect(readFileSync(svg, 'utf8')).toContain('Monthly cost: chat on big');
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--svg', svg, '--chart-feature', 'nope'])).toBe(2);
    expect(output.err).toMatch(/--chart-feature: no feature 'nope' in the usage log \(features: chat, extract, tickets\)/);
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--chart-feature', 'chat'])).toBe(2);
    expect(output.err).toMatch(/--chart-feature names the feature --svg draws/);
    writeFileSync(join(dir, 'per-token.json'), JSON.stringify([{ label: 'custom', usdPerMTok: { input: 0.05, output: 0.2 } }]));
    expect(await runCli(['distill', 'plan', '--usage', join(dir, 'usage.jsonl'), '--teachers', 'big', '--hosting', join(dir, 'per-token.json'), '--svg', svg])).toBe(2);
    expect(output.err).toMatch(/has no self-hosted option to draw/);
  });

  it('exports the captured examples for fine-tuning, scored by the feedback lines, with a stable validation split', async () => {
    const cap = join(dir, 'export-capture');
    mkdirSync(join(cap, 'tickets'), { recursive: true });
    mkdirSync(join(cap, 'chat'), { recursive: true });
    const ex = (i: number, feature: string) => JSON.stringify({
      messages: [{ role: 'system', content: 'Label it.' }, { role: 'user', content: `ticket ${i}` }, { role: 'assistant', content: i % 2 ? 'bug' : 'billing', refusal: null }],
      llm_finops: { ts: '2026-12-07T09:00:00.000Z', request_id: `${feature}-${i}`, tenant: 'acme', feature, model: 'big', upstream_model: 'big', scrubbed: {} },
    });
    writeFileSync(join(cap, 'tickets', '2026-12-07.jsonl'), `${Array.from({ length: 200 }, (_, i) => ex(i, 'tickets')).join('\n')}\n`);
    writeFileSync(join(cap, 'chat', '2026-12-07.jsonl'), `${ex(0, 'chat')}\n`);
    // Ticket 3 was scored bad, ticket 4 good.
    writeFileSync(join(dir, 'feedback.jsonl'), `${[{ type: 'feedback', request_id: 'tickets-3', score: 0 }, { type: 'feedback', request_id: 'tickets-4', score: 1 }].map((l) => JSON.stringify(l)).join('\n')}\n`);
    const train = join(dir, 'train.jsonl');
    const val = join(dir, 'val.jsonl');
    expect(await runCli(['distill', 'export', '--capture', cap, '--out', train, '--format', 'bedrock-conversation', '--feature', 'tickets', '--feedback', join(dir, 'feedback.jsonl'), '--min-score', '0.5', '--validation-out', val])).toBe(0);
    const lines = (f: string) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const [t, v] = [lines(train), lines(val)];
    expect(t.length + v.length).toBe(199);
    expect(v.length).toBeGreaterThan(5);
    expect(v.length).toBeLessThan(40);
    expect(t[0]).toEqual({ schemaVersion: 'bedrock-conversation-2024', system: [{ text: 'Label it.' }], messages: [{ role: 'user', content: [{ text: expect.stringMatching(/^ticket \d+$/) }] }, { role: 'assistant', content: [{ text: expect.stringMatching(/^(bug|billing)$/) }] }] });
    expect(output.out).toMatch(new RegExp(`^${t.length} examples \\(bedrock-conversation\\) to .*train\\.jsonl, ${v.length} to .*val\\.jsonl; by feature: tickets 199\n  left out 1: scored under 0\\.5\n$`));
    // The split is stable: the same examples land on the same side again.
    output.clear();
    expect(await runCli(['distill', 'export', '--capture', cap, '--out', train, '--format', 'bedrock-conversation', '--feature', 'tickets', '--feedback', join(dir, 'feedback.jsonl'), '--min-score', '0.5', '--validation-out', val])).toBe(0);
    expect(lines(val)).toEqual(v);
    // The OpenAI shape drops our block and the answer's refusal field.
    expect(await runCli(['distill', 'export', '--capture', cap, '--out', train])).toBe(0);
    expect(lines(train)[0]).toEqual({ messages: [{ role: 'system', content: 'Label it.' }, { role: 'user', content: expect.any(String) }, { role: 'assistant', content: expect.any(String) }] });
    expect(lines(train)).toHaveLength(201);
    // Bad input: exit 2 with the reason.
    expect(await runCli(['distill', 'export', '--capture', cap, '--out', train, '--format', 'alpaca'])).toBe(2);
    expect(output.err).toMatch(/--format: one of openai, bedrock-conversation, prompt-completion, got 'alpaca'/);
    expect(await runCli(['distill', 'export', '--capture', cap, '--out', train, '--min-score', '0.5'])).toBe(2);
    expect(output.err).toMatch(/--min-score and --scored-only read the scores of --feedback/);
    expect(await runCli(['distill', 'export', '--capture', cap, '--out', train, '--validation-share', '0.2'])).toBe(2);
    expect(output.err).toMatch(/--validation-share splits off --validation-out/);
    expect(await runCli(['distill', 'export', '--capture', join(dir, 'nope'), '--out', train])).toBe(2);
  });

  it('reports the shadow tests of a log: agreement from the scores, cost and latency against the premium model', async () => {
    const lines = [
      ...[0, 1, 2, 3].map((i) => ({ request_id: `s${i}`, feature: 'shadow.tickets', model: 'small', status: 200, cache: 'bypass', cost_micros: 100, latency_ms: 200 + i })),
      ...[0, 1, 2, 3].map((i) => ({ type: 'feedback', request_id: `s${i}`, tenant: 'acme', score: i === 3 ? 0 : 1, model: 'small' })),
      ...[0, 1].map((i) => ({ request_id: `p${i}`, feature: 'tickets', model: 'big', status: 200, cache: 'miss', cost_micros: 1000, latency_ms: 900 })),
    ];
    writeFileSync(join(dir, 'shadow.jsonl'), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect(await runCli(['distill', 'report', '--usage', join(dir, 'shadow.jsonl')])).toBe(0);
    expect(output.out).toBe('tickets (candidate small): 4 shadow calls, 4 scored; agreement 75.0% (full 75.0%); cost $0.000100 vs $0.001000 a request (90.0% cheaper; switched behind a guard, at least 65.0%); median latency 202 ms vs 900 ms\n');
    output.clear();
    expect(await runCli(['distill', 'report', '--usage', join(dir, 'usage.jsonl')])).toBe(0);
    expect(output.out).toMatch(/^No shadow calls/);
  });
});
