import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startLocal } from '../support/local';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';
import { outcomesFromLogs } from '../../bin/commands/router';



const SECOND_KEY = 'sk-test-acme-laptop';
const hash = (key: string) => createHash('sha256').update(key).digest('hex');

describe('llm-finops local (integration, real openai client over loopback)', () => {
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let usagePath: string;
  const client = (key: string = KEYS.acme, feature?: string) =>
    new OpenAI({ apiKey: key, baseURL: baseUrl, maxRetries: 0, defaultHeaders: feature ? { 'x-llm-feature': feature } : undefined });

  beforeAll(async () => {
    await upstream.start();
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-it-'));
    usagePath = join(dir, 'usage.jsonl');
    const configPath = join(dir, 'gateway.json');
    const config = testConfig(upstream.baseUrl, { usage: { sink: 'jsonl', path: 'usage.jsonl' } });
    // A second key for acme with a budget of its own (a developer's key): one request a minute.
    config.tenants![0].apiKeys!.push({ sha256: hash(SECOND_KEY), label: 'dev laptop' });
    config.quota = { ...config.quota, policies: [{ id: 'laptop-rpm', per: 'apiKey', match: { apiKey: hash(SECOND_KEY).slice(0, 16) }, limits: [{ window: 'minute', requests: 1 }] }] };
    writeFileSync(configPath, JSON.stringify(config));
    ({ proc, baseUrl } = await startLocal(configPath));
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
  });

  beforeEach(() => upstream.reset());

  const records = (): Record<string, unknown>[] =>
    readFileSync(usagePath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

  it('completes a non-streaming request with exact usage and cost headers', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'Paris.', promptTokens: 1200, completionTokens: 300 });
    const { data, response } = await client()
      .chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: 'Capital of France?' }], temperature: 0 })
      .withResponse();
    expect(data.choices[0].message.content).toBe('Paris.');
    expect(data.model).toBe('small-a');
    expect(data.usage).toMatchObject({ prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500 });
    // 1200 x $1/M + 300 x $2/M = $0.0012 + $0.0006
    expect(response.headers.get('x-llm-cost-usd')).toBe('0.001800');
    // baseline `big`: 1200 x $10/M + 300 x $30/M = $0.021
    expect(response.headers.get('x-llm-baseline-cost-usd')).toBe('0.021000');
    expect(response.headers.get('x-llm-model')).toBe('small-a');
    expect(response.headers.get('x-llm-tier')).toBe('small');
    expect(response.headers.get('x-llm-cache')).toBe('miss');
    expect(Number(response.headers.get('x-llm-overhead-ms'))).toBeGreaterThanOrEqual(0);
    expect(response.headers.get('x-llm-quota-remaining-usd')).toMatch(/^\d+\.\d{6}$/);
    expect(upstream.received[0].body).toMatchObject({ model: 'up-small-a', temperature: 0 });
  });

  it('streams a completion and reports the final usage and cost', async () => {
    upstream.setDefault('up-big', { kind: 'ok', content: 'one two three four', promptTokens: 1000, completionTokens: 100, cachedTokens: 400 });
    const stream = await client().chat.completions.create({
      model: 'big',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finops: Record<string, unknown> | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) {
        usage = chunk.usage;
        finops = (chunk as unknown as { llm_finops: Record<string, unknown> }).llm_finops;
      }
    }
    expect(text).toBe('one two three four');
    expect(usage).toMatchObject({ prompt_tokens: 1000, completion_tokens: 100, prompt_tokens_details: { cached_tokens: 400 } });
    // 600 input x $10/M + 400 cache-read x $1/M + 100 output x $30/M = 0.006 + 0.0004 + 0.003
    expect(finops).toMatchObject({ cost_usd: 0.0094, model: 'big', usage_estimated: false });
    expect(upstream.received[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('costs a stream from the upstream usage even when the client did not ask for usage', async () => {
    upstream.setDefault('up-small-b', { kind: 'ok', content: 'a b', promptTokens: 500, completionTokens: 50 });
    const before = records().length;
    const stream = await client().chat.completions.create({ model: 'small-b', messages: [{ role: 'user', content: 'hi there friend' }], stream: true });
    for await (const chunk of stream) expect(chunk.usage ?? undefined).toBeUndefined();
    const rec = records().slice(before);
    expect(rec).toHaveLength(1);
    // 500 x $2/M + 50 x $4/M
    expect(rec[0]).toMatchObject({ model: 'small-b', stream: true, input_tokens: 500, output_tokens: 50, cost_micros: 1200, usage_estimated: false });
  });

  it.each([429, 500])('falls back to the next model of the tier when the first answers %i', async (status) => {
    upstream.setDefault('up-small-a', { kind: 'status', status });
    upstream.setDefault('up-small-b', { kind: 'ok', content: 'from b', promptTokens: 10, completionTokens: 5 });
    const messages = [{ role: 'user' as const, content: `fallback after ${status}` }];
    const { data, response } = await client().chat.completions.create({ model: 'small', messages }).withResponse();
    expect(data.choices[0].message.content).toBe('from b');
    expect(response.headers.get('x-llm-model')).toBe('small-b');
    const tried = upstream.received.map((r) => r.body.model);
    // 429 moves on at once; 500 is retried once on the same model first.
    expect(tried).toEqual(status === 429 ? ['up-small-a', 'up-small-b'] : ['up-small-a', 'up-small-a', 'up-small-b']);
    const rec = records().at(-1)!;
    expect(rec).toMatchObject({ model: 'small-b', attempts: tried.length, status: 200, cost_micros: 40 });
  });

  it('answers 502 with an OpenAI error when every model fails, charging nothing', async () => {
    upstream.setDefault('up-small-a', { kind: 'status', status: 503 });
    upstream.setDefault('up-small-b', { kind: 'status', status: 503 });
    await expect(client().chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'all fail' }] })).rejects.toMatchObject({
      status: 502,
      error: { type: 'upstream_error' },
    });
    expect(records().at(-1)).toMatchObject({ status: 502, error_type: 'upstream_error', cost_micros: 0, attempts: 4 });
  });

  it('serves a repeated request from the exact cache at zero cost, per tenant only', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'cached answer', promptTokens: 100, completionTokens: 10 });
    const body = { model: 'small-a', messages: [{ role: 'user' as const, content: 'cache me please' }], temperature: 0 };
    await client().chat.completions.create(body);
    const { response } = await client().chat.completions.create(body).withResponse();
    expect(response.headers.get('x-llm-cache')).toBe('hit-exact');
    expect(response.headers.get('x-llm-cost-usd')).toBe('0.000000');
    const other = await client(KEYS.globex).chat.completions.create(body).withResponse();
    expect(other.response.headers.get('x-llm-cache')).toBe('miss');
    expect(upstream.received).toHaveLength(2);
  });

  it('records feedback for an answer, and turns it into outcome rows for router training', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: '42', promptTokens: 20, completionTokens: 2 });
    const prompt = 'What is six times seven?';
    const { response } = await client().chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: prompt }] }).withResponse();
    const requestId = response.headers.get('x-request-id')!;
    const post = (key: string, body: unknown) => fetch(`${baseUrl}/feedback`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const ok = await post(KEYS.acme, { request_id: requestId, score: 1, prompt });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ object: 'feedback', request_id: requestId, score: 1, recorded: true });
    // Another tenant may file feedback, but it is recorded under its own name and never joins acme's request.
    expect((await post(KEYS.globex, { request_id: requestId, score: 0, prompt })).status).toBe(200);
    const bad = await post(KEYS.acme, { request_id: requestId, score: 7 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: 'score', code: 'invalid_value' } });
    expect((await post('sk-wrong', { request_id: requestId, score: 1 })).status).toBe(401);

    const feedback = records().filter((r) => r.type === 'feedback');
    expect(feedback.slice(-2)).toEqual([
      { type: 'feedback', ts: expect.any(String), tenant: 'acme', request_id: requestId, score: 1, model: null, prompt },
      { type: 'feedback', ts: expect.any(String), tenant: 'globex', request_id: requestId, score: 0, model: null, prompt },
    ]);
    // The same prompt asked under a feature tag is its own row, tagged, for a router that learns per-feature priors.
    const tagged = await client(KEYS.acme, 'support-bot').chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: prompt }] }).withResponse();
    expect((await post(KEYS.acme, { request_id: tagged.response.headers.get('x-request-id'), score: 0, prompt })).status).toBe(200);
    const out = outcomesFromLogs(readFileSync(usagePath, 'utf8').split('\n'));
    expect(out.rows.filter((r) => r.prompt === prompt)).toEqual([
      { prompt, outcomes: { 'small-a': 1 } },
      { prompt, feature: 'support-bot', outcomes: { 'small-a': 0 } },
    ]);
    expect(out.skipped.unknown_request).toBeGreaterThanOrEqual(1);
  });

  it('reflects calls in /v1/usage and writes exactly one record per request', async () => {
    const before = records().length;
    const usageBefore = (await (await fetch(`${baseUrl}/usage`, { headers: { authorization: `Bearer ${KEYS.acme}` } })).json()) as {
      windows: { window: string; spend_usd: number; tokens: number }[];
    };
    upstream.setDefault('up-small-a', { kind: 'ok', promptTokens: 2000, completionTokens: 1000 });
    await client(KEYS.acme, 'support-bot').chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: 'usage check' }] });
    await expect(client().chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 });
    const res = await fetch(`${baseUrl}/usage`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    const usage = (await res.json()) as { tenant: string; windows: { window: string; spend_usd: number; tokens: number; limit_usd: number }[] };
    expect(usage.tenant).toBe('acme');
    const day = usage.windows.find((w) => w.window === 'day')!;
    const dayBefore = usageBefore.windows.find((w) => w.window === 'day')!;
    // 2000 x $1/M + 1000 x $2/M = $0.004; 3000 tokens
    expect(Math.round((day.spend_usd - dayBefore.spend_usd) * 1e6)).toBe(4000);
    expect(day.tokens - dayBefore.tokens).toBe(3000);
    expect(day.limit_usd).toBe(10);
    const rec = records().slice(before);
    expect(rec).toHaveLength(2);
    expect(rec[0]).toMatchObject({ tenant: 'acme', feature: 'support-bot', team: 'platform', cost_micros: 4000, status: 200 });
    expect(rec[1]).toMatchObject({ tenant: 'acme', status: 404, error_type: 'not_found_error', cost_micros: 0 });
    for (const r of rec) expect(typeof r.request_id).toBe('string');
  });

  it('counts a policy per API key: a second key of the tenant has its own budget, the first is untouched', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'ok', promptTokens: 10, completionTokens: 5 });
    const ask = (key: string) => client(key).chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: `k ${Math.random()}` }] });
    await ask(SECOND_KEY);
    await expect(ask(SECOND_KEY)).rejects.toMatchObject({
      status: 429, error: { code: 'rate_limit_exceeded', message: expect.stringContaining(`policy 'laptop-rpm' (apiKey '${hash(SECOND_KEY).slice(0, 16)}')`) },
    });
    expect((await ask(KEYS.acme)).choices[0].message.content).toBe('ok');
  });

  it('lists the models and tiers a tenant may use', async () => {
    const list = await client(KEYS.globex).models.list();
    const ids = list.data.map((m) => m.id).sort();
    expect(ids).toEqual(['auto', 'small', 'small-a', 'small-b']);
  });

  it('rejects a missing or wrong key with 401 and a tenant over quota with 429 and Retry-After', async () => {
    await expect(client('sk-wrong').chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 401,
      error: { type: 'authentication_error' },
    });
    const res = await fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.initech}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'expensive question' }] }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'quota_exceeded' } });
    expect(upstream.received).toHaveLength(0);
  });
});
