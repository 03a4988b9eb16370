import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { DynamoDbQuotaStore } from '../../lambda/adapters/dynamodb-quota-store';
import { KEYS, testConfig } from '../support/config';
import { LocalDynamo } from '../support/dynalite';
import { killGroup, startLocal } from '../support/local';
import { FakeUpstream } from '../support/upstream';

jest.setTimeout(120_000);

/**
 * The Batch API end to end, as a user runs it: `llm-finops local` on the deployed quota table's engine (dynalite),
 * its batches in a directory, the real `openai` client uploading, creating, polling and downloading, and a process
 * killed mid-batch and started again.
 */
describe('the batch API on llm-finops local (openai client, dynalite quota table, batch directory)', () => {
  const upstream = new FakeUpstream();
  const dynamo = new LocalDynamo();
  let dir: string;
  let configPath: string;
  let proc: ChildProcess | undefined;
  let table = 0;

  beforeAll(async () => {
    await Promise.all([upstream.start(), dynamo.start()]);
  });
  afterAll(async () => {
    if (proc && proc.exitCode === null) await killGroup(proc);
    await Promise.all([upstream.stop(), dynamo.stop()]);
  });
  beforeEach(() => {
    upstream.reset();
    dir = mkdtempSync(join(tmpdir(), 'llm-finops-batch-'));
    configPath = join(dir, 'gateway.json');
    // A short reservation TTL, so the sweep of a killed process's line can be shown without waiting 15 minutes.
    writeFileSync(configPath, JSON.stringify(testConfig(upstream.baseUrl, { usage: { sink: 'jsonl', path: 'usage.jsonl' }, quota: { reservationTtlSeconds: 2 } })));
    table++;
  });
  afterEach(async () => {
    if (proc && proc.exitCode === null) await killGroup(proc);
    proc = undefined;
  });

  const start = async () => {
    const started = await startLocal(configPath, [
      '--store', 'dynamodb', '--dynamodb-endpoint', dynamo.endpoint, '--dynamodb-table', `batch-${table}`, '--batch-dir', join(dir, 'batches'), '--batch-delay', '0',
    ], process.env, { group: true });
    proc = started.proc;
    return new OpenAI({ apiKey: KEYS.acme, baseURL: started.baseUrl, maxRetries: 0 });
  };
  const records = () => readFileSync(join(dir, 'usage.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.request_id);
  const input = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({
    custom_id: `q${i + 1}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'small-a', max_tokens: 50, messages: [{ role: 'user', content: `Question ${i + 1}` }] },
  })).join('\n');
  const settled = async (client: OpenAI, id: string) => {
    for (;;) {
      const b = await client.batches.retrieve(id);
      if (['completed', 'failed', 'cancelled', 'expired'].includes(b.status)) return b;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const reserved = async (client: OpenAI) => {
    const usage = (await client.get('/usage')) as { windows: { window: string; reserved_usd: number; spend_usd: number }[] };
    return usage.windows.find((w) => w.window === 'day')!;
  };

  it('uploads a file, runs the batch at half price, and serves the output file; one record per line, nothing left reserved', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'answer', promptTokens: 1000, completionTokens: 40 });
    const client = await start();
    const file = await client.files.create({ file: await toFile(Buffer.from(input(12)), 'questions.jsonl'), purpose: 'batch' });
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'questions.jsonl', status: 'processed' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { job: 'nightly' } });
    expect(batch).toMatchObject({ status: 'validating', request_counts: { total: 12 }, metadata: { job: 'nightly' } });
    const done = await settled(client, batch.id);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 12, completed: 12, failed: 0 }, error_file_id: null });
    const output = (await (await client.files.content(done.output_file_id!)).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(output.map((o) => o.custom_id)).toEqual(Array.from({ length: 12 }, (_, i) => `q${i + 1}`));
    expect(output[0]).toMatchObject({ id: `${batch.id}_req_1`, response: { status_code: 200, body: { object: 'chat.completion', choices: [{ message: { content: 'answer' } }] } }, error: null });
    // small-a: $1/$2 per 1M standard, so $0.50/$1 in a batch: 1,000 x 0.5 + 40 x 1 = 540 micro-dollars a line.
    const lines = records().filter((r) => r.api === 'batch');
    expect(lines.map((r) => [r.batch_id, r.cost_micros, r.savings.batch])).toEqual(Array.from({ length: 12 }, () => [batch.id, 540, 540]));
    expect(await reserved(client)).toMatchObject({ reserved_usd: 0, spend_usd: 0.00648 });
    const listed = await client.batches.list({ limit: 5 });
    expect(listed.data.map((b) => b.id)).toEqual([batch.id]);
    // Another tenant sees none of it.
    const other = new OpenAI({ apiKey: KEYS.globex, baseURL: client.baseURL, maxRetries: 0 });
    await expect(other.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.files.content(file.id)).rejects.toMatchObject({ status: 404 });
  });

  it('refuses at submit a batch that would break the daily budget, naming the tenant; a bad file fails with every line', async () => {
    const client = await start();
    const poor = new OpenAI({ apiKey: KEYS.initech, baseURL: client.baseURL, maxRetries: 0 });
    const file = await poor.files.create({ file: await toFile(Buffer.from(input(4)), 'q.jsonl'), purpose: 'batch' });
    const refused = await poor.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    expect((refused as InstanceType<typeof OpenAI.APIError>).message).toMatch(/Quota exceeded for 'initech'.*this batch of 4 requests/);
    const bad = await client.files.create({ file: await toFile(Buffer.from(`${input(2)}\n${input(1)}\n{oops`), 'bad.jsonl'), purpose: 'batch' });
    const failed = await client.batches.create({ input_file_id: bad.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    expect(failed.status).toBe('failed');
    expect(failed.errors?.data?.map((e) => [e.line, e.code])).toEqual([[3, 'duplicate_custom_id'], [4, 'invalid_json_line']]);
    expect(await reserved(client)).toMatchObject({ reserved_usd: 0 });
    expect(upstream.received).toHaveLength(0);
  });

  it('finishes a batch after the gateway is killed mid-line and started again: every line recorded once, nothing reserved after the sweep', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'ok', promptTokens: 100, completionTokens: 10 });
    // The fourth call never answers: the process is killed while it waits.
    upstream.script('up-small-a', { kind: 'ok' }, { kind: 'ok' }, { kind: 'ok' }, { kind: 'hang' });
    let client = await start();
    const file = await client.files.create({ file: await toFile(Buffer.from(input(8)), 'q.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    while (upstream.received.length < 4) await new Promise((r) => setTimeout(r, 50));
    await killGroup(proc!);
    expect(records().map((r) => r.batch_custom_id)).toEqual(['q1', 'q2', 'q3']);
    client = await start();
    // One process per batch directory: a second gateway on it stops at start-up.
    await expect(startLocal(configPath, ['--batch-dir', join(dir, 'batches')])).rejects.toThrow(/--batch-dir: .* is in use by another gateway \(pid \d+\)/);
    const done = await settled(client, batch.id);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 8, completed: 8, failed: 0 } });
    expect(records().map((r) => r.batch_custom_id)).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7', 'q8']);
    // The killed process's fourth line held its reservation; any process's sweep frees it once it expires.
    await new Promise((r) => setTimeout(r, 2100));
    await new DynamoDbQuotaStore(dynamo.client, `batch-${table}`).sweepExpired(Date.now());
    expect(await reserved(client)).toMatchObject({ reserved_usd: 0 });
  });
});
