import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { runCli } from '../../bin/llm-finops';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import { KEYS, testConfig } from '../support/config';
import { killGroup, startLocal } from '../support/local';
import { captureOutput } from '../support/output';
import { FakeUpstream } from '../support/upstream';

jest.setTimeout(120_000);

/**
 * The small-model path as a user runs it: `llm-finops local` with capture and a shadow test on the `tickets` feature,
 * the real `openai` client sending tickets (one streamed), then the CLI reading what the gateway wrote: the capture
 * folder (`distill export`) and the usage log with the shadow calls and their scores (`distill report`).
 */
describe('the small-model path on llm-finops local (openai client)', () => {
  const upstream = new FakeUpstream();
  const output = captureOutput();
  let proc: ChildProcess | undefined;
  beforeAll(() => upstream.start());
  afterAll(async () => {
    if (proc && proc.exitCode === null) await killGroup(proc);
    await upstream.stop();
  });

  it('captures the premium answers scrubbed, shadows them on the small model, and the CLI exports and reports them', async () => {
    // The premium model says "billing"; the small one "Billing." (the same label once normalised).
    upstream.setDefault('up-big', { kind: 'ok', content: 'billing', promptTokens: 40, completionTokens: 1 });
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'Billing.', promptTokens: 40, completionTokens: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-small-model-'));
    const base = testConfig(upstream.baseUrl);
    const config: GatewayConfigInput = {
      ...base,
      tenants: (base.tenants as { id: string }[]).map((t) => (t.id === 'acme' ? { ...t, captureConsent: true } : t)) as GatewayConfigInput['tenants'],
      cache: { exact: { enabled: false } },
      usage: { sink: 'jsonl', path: 'usage.jsonl' },
      capture: { features: [{ feature: 'tickets', sampleRate: 1 }], path: 'capture' },
      shadow: { policies: [{ feature: 'tickets', model: 'small-a', sampleRate: 1, scorer: 'exact' }] },
    };
    writeFileSync(join(dir, 'gateway.json'), JSON.stringify(config));
    const started = await startLocal(join(dir, 'gateway.json'), [], process.env, { group: true });
    proc = started.proc;
    const client = new OpenAI({ apiKey: KEYS.acme, baseURL: started.baseUrl, maxRetries: 0, defaultHeaders: { 'x-llm-feature': 'tickets' } });

    const tickets = ['I was charged twice for order 7731', 'Refund please, write to jane.doe@example.com', 'My card 4111 1111 1111 1111 was billed again'];
    for (const t of tickets) {
      const res = await client.chat.completions.create({ model: 'big', messages: [{ role: 'system', content: 'Label the ticket.' }, { role: 'user', content: t }] });
      expect(res.choices[0].message.content).toBe('billing');
    }
    const stream = await client.chat.completions.create({ model: 'big', stream: true, messages: [{ role: 'user', content: 'Charged for a plan I cancelled' }] });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed).toBe('billing');

    // Capture and shadow calls happen after the responses: wait for the four of each.
    const usagePath = join(dir, 'usage.jsonl');
    const lines = () => (existsSync(usagePath) ? readFileSync(usagePath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []);
    const captured = () => {
      const folder = join(dir, 'capture', 'tickets');
      return existsSync(folder) ? readdirSync(folder).flatMap((f) => readFileSync(join(folder, f), 'utf8').trim().split('\n').filter(Boolean)) : [];
    };
    for (let i = 0; i < 200 && (captured().length < 4 || lines().filter((l) => l.type === 'feedback').length < 4); i++) await new Promise((r) => setTimeout(r, 50));
    const examples = captured().map((l) => JSON.parse(l) as { messages: { role: string; content: string }[]; llm_finops: Record<string, unknown> });
    expect(examples).toHaveLength(4);
    const text = JSON.stringify(examples);
    expect(text).not.toContain('jane.doe@example.com');
    expect(text).not.toContain('4111 1111 1111 1111');
    expect(examples.every((e) => e.messages.at(-1)!.content === 'billing' && e.llm_finops.tenant === 'acme' && e.llm_finops.model === 'big')).toBe(true);
    // The shadow calls: recorded apart, each scored as agreeing; the client saw none of them.
    const usage = lines();
    expect(usage.filter((l) => l.feature === 'shadow.tickets').map((l) => [l.model, l.status])).toEqual(Array(4).fill(['small-a', 200]));
    expect(usage.filter((l) => l.type === 'feedback').map((l) => l.score)).toEqual([1, 1, 1, 1]);

    // The CLI on what the gateway wrote.
    output.clear();
    expect(await runCli(['distill', 'report', '--usage', usagePath, '--json'])).toBe(0);
    expect(JSON.parse(output.out)).toEqual([expect.objectContaining({ feature: 'tickets', candidates: ['small-a'], shadowCalls: 4, scored: 4, agreement: 1, fullAgreement: 1 })]);
    output.clear();
    const train = join(dir, 'train.jsonl');
    expect(await runCli(['distill', 'export', '--capture', join(dir, 'capture'), '--out', train, '--format', 'bedrock-conversation', '--feedback', usagePath])).toBe(0);
    const exported = readFileSync(train, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { messages: { role: string; content: { text: string }[] }[] });
    expect(exported).toHaveLength(4);
    expect(exported.map((e) => e.messages.at(-1))).toEqual(Array(4).fill({ role: 'assistant', content: [{ text: 'billing' }] }));
    expect(output.out).toMatch(/^4 examples \(bedrock-conversation\) to .*; by feature: tickets 4\n$/);
  });
});
