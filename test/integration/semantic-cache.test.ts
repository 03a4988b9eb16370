import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startLocal } from '../support/local';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';



async function stop(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

describe('semantic cache through llm-finops local (real openai client, embedded index on disk)', () => {
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let dir: string;
  let configPath: string;
  const client = (key: string) => new OpenAI({ apiKey: key, baseURL: baseUrl, maxRetries: 0 });
  const ask = (content: string) => ({ model: 'small-a', messages: [{ role: 'user' as const, content }], temperature: 0 });
  const records = (): Record<string, unknown>[] =>
    readFileSync(join(dir, 'usage.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

  beforeAll(async () => {
    await upstream.start();
    dir = mkdtempSync(join(tmpdir(), 'llm-finops-semantic-'));
    configPath = join(dir, 'gateway.json');
    writeFileSync(configPath, JSON.stringify(testConfig(upstream.baseUrl, {
      usage: { sink: 'jsonl', path: 'usage.jsonl' },
      // Every tenant and context on its HNSW graph from the first entry: the suite runs through the graph search.
      cache: { exact: { enabled: true }, semantic: { enabled: true, index: { type: 'embedded', path: 'semantic-index', annMinEntries: 1 } } },
    })));
    ({ proc, baseUrl } = await startLocal(configPath));
  });

  afterAll(async () => {
    if (proc) await stop(proc);
    await upstream.stop();
  });

  beforeEach(() => upstream.reset());

  it('uses the offline sentence encoder when the config names no embedder: a rewording in other words hits, within the tenant only', async () => {
    upstream.script('up-small-a',
      { kind: 'ok', content: 'Acme diet advice.', promptTokens: 30, completionTokens: 4 },
      { kind: 'ok', content: 'Globex diet advice.', promptTokens: 30, completionTokens: 4 },
      { kind: 'ok', content: 'Rice: 1 cup to 2 cups of water.', promptTokens: 30, completionTokens: 9 });
    /** [x-llm-cache, answer] for one question from one tenant. */
    const served = async (key: string, content: string) => {
      const r = await client(key).chat.completions.create(ask(content)).withResponse();
      return [r.response.headers.get('x-llm-cache'), r.data.choices[0].message.content];
    };
    expect(await served(KEYS.acme, 'How can I lose weight fast?')).toEqual(['miss', 'Acme diet advice.']);
    // The lexical embedder scores this pair 0.33 (its threshold is 0.65); the encoder 0.93.
    expect(await served(KEYS.acme, "What's the fastest way to lose weight?")).toEqual(['hit-semantic', 'Acme diet advice.']);
    expect(await served(KEYS.globex, "What's the fastest way to lose weight?")).toEqual(['miss', 'Globex diet advice.']);
    expect((await served(KEYS.acme, 'How do I cook rice?'))[0]).toBe('miss');
    expect(upstream.received).toHaveLength(3);
  });

  it('serves a paraphrase to the same tenant and never to another, for identical or paraphrased prompts', async () => {
    upstream.script('up-small-a',
      { kind: 'ok', content: 'Acme: use Settings > Security.', promptTokens: 50, completionTokens: 8 },
      { kind: 'ok', content: 'Globex: call the help desk.', promptTokens: 50, completionTokens: 8 });
    await client(KEYS.acme).chat.completions.create(ask('How can I reset my password?'));
    const para = await client(KEYS.acme).chat.completions.create(ask('how do I reset my password')).withResponse();
    expect(para.response.headers.get('x-llm-cache')).toBe('hit-semantic');
    expect(para.data.choices[0].message.content).toBe('Acme: use Settings > Security.');

    const identical = await client(KEYS.globex).chat.completions.create(ask('How can I reset my password?')).withResponse();
    expect(identical.response.headers.get('x-llm-cache')).toBe('miss');
    expect(identical.data.choices[0].message.content).toBe('Globex: call the help desk.');
    const globexPara = await client(KEYS.globex).chat.completions.create(ask('how do I reset my password')).withResponse();
    // Globex's own entry now serves Globex; Acme's never does.
    expect(globexPara.data.choices[0].message.content).toBe('Globex: call the help desk.');
    expect(upstream.received).toHaveLength(2);
    const byTenant = records().slice(-4).map((r) => [r.tenant, r.cache]);
    expect(byTenant).toEqual([['acme', 'miss'], ['acme', 'hit-semantic'], ['globex', 'miss'], ['globex', 'hit-semantic']]);
  });

  it('replays a cached answer as SSE with usage when the request streams', async () => {
    upstream.script('up-small-a', { kind: 'ok', content: 'Invoices are under Billing.', promptTokens: 40, completionTokens: 6 });
    await client(KEYS.acme).chat.completions.create(ask('Where can I find my invoices?'));
    const stream = await client(KEYS.acme).chat.completions.create({ ...ask('where do I find my invoices'), stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Invoices are under Billing.');
    expect(usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 6 });
    expect(records().at(-1)).toMatchObject({ cache: 'hit-semantic', stream: true, cost_micros: 0, baseline_cost_micros: 40 * 10 + 6 * 30 });
    expect(upstream.received).toHaveLength(1);
  });

  it('keeps entries across a restart of the gateway, its graphs saved on SIGTERM', async () => {
    upstream.script('up-small-a', { kind: 'ok', content: 'Ship within 3 days.', promptTokens: 30, completionTokens: 5 });
    await client(KEYS.acme).chat.completions.create(ask('How fast do you ship orders?'));
    await stop(proc);
    const saved = readdirSync(join(dir, 'semantic-index', 'ann'));
    expect(saved.filter((f) => f.endsWith('.usearch')).length).toBeGreaterThanOrEqual(2); // acme's and globex's at least
    expect(saved.filter((f) => f.endsWith('.usearch.json'))).toHaveLength(saved.filter((f) => f.endsWith('.usearch')).length);
    ({ proc, baseUrl } = await startLocal(configPath));
    const again = await client(KEYS.acme).chat.completions.create(ask('how fast do you ship orders')).withResponse();
    expect(again.response.headers.get('x-llm-cache')).toBe('hit-semantic');
    expect(upstream.received).toHaveLength(1);
  });

  it('skips both tiers with x-llm-cache: bypass', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'fresh', promptTokens: 10, completionTokens: 2 });
    await client(KEYS.acme).chat.completions.create(ask('What is the status page URL?'));
    const r = await client(KEYS.acme).chat.completions.create(ask('What is the status page URL?'), { headers: { 'x-llm-cache': 'bypass' } }).withResponse();
    expect(r.response.headers.get('x-llm-cache')).toBe('bypass');
    expect(upstream.received).toHaveLength(2);
  });
});
