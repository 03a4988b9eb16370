import { MemoryBatchStore } from '../../../lambda/adapters/memory-batch-store';
import { MemoryQuotaStore } from '../../../lambda/adapters/memory-quota-store';
import { OpenAiBatchJobs, servesBatchApi } from '../../../lambda/adapters/openai-batch-jobs';
import { MemoryAlertSink, MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { BatchService } from '../../../lambda/core/batch/service';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { Gateway } from '../../../lambda/core/pipeline';
import { BatchApiUpstream } from '../../support/batch-upstream';
import { KEYS } from '../../support/config';
import { FakeClock, SeqIds, sha256, usage } from '../../support/fakes';

/**
 * Batches as OpenAI Batch API jobs. The upstream is a second gateway on loopback serving the Files and Batch APIs in
 * OpenAI's shape (the shape the real `openai` client is tested against in test/integration/batch-api.test.ts), its
 * batches run by its simulator on a scripted model: the gateway under test uploads the lines, creates the batch,
 * polls it and settles each line from the output and error files. Its model `gpt` lists $4 / $8 per 1M tokens, so
 * $2 / $4 in a batch: an answer of 1,000 in and 100 out costs 2,000 + 400 = 2,400 micro-dollars.
 */
describe('batches on an OpenAI Batch API upstream (a loopback server in its shape)', () => {
  let upstream: BatchApiUpstream;
  beforeEach(async () => {
    upstream = new BatchApiUpstream();
    await upstream.start();
  });
  afterEach(() => upstream.stop());

  function gatewayUnderTest() {
    const config = resolveConfig({
      providers: [{ type: 'openai-compatible', id: 'openai', baseUrl: `${upstream.origin}/v1`, batchApi: true, apiKeyEnv: 'TEST_KEY' }],
      models: [{ id: 'gpt', provider: 'openai', upstreamModel: 'small-a', price: { inputPerMTok: 4, outputPerMTok: 8 }, maxOutputTokens: 1000 }],
      tiers: [{ name: 't', models: ['gpt'] }],
      routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'gpt' },
      tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 5 } }],
    });
    const clock = new FakeClock();
    const records = new MemoryUsageSink();
    const gateway = new Gateway({
      config, providers: new Map(), quota: new MemoryQuotaStore(), usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds('a-'), sha256,
    });
    const jobs = new OpenAiBatchJobs(config, () => KEYS.acme);
    const service = new BatchService({ gateway, store: new MemoryBatchStore(), clock, ids: new SeqIds('ab-'), jobs, pollEveryMs: 0 });
    return { service, gateway, records };
  }
  const jsonl = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({
    custom_id: `c${i + 1}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt', max_tokens: 100, messages: [{ role: 'user', content: `Question ${i + 1}` }] },
  })).join('\n');
  const submit = async (service: BatchService, n: number) => {
    const f = await service.uploadFile('acme', { purpose: 'batch', filename: 'in.jsonl', content: jsonl(n) });
    return service.createBatch({ tenantId: 'acme' }, JSON.stringify({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
  };
  const day = async (gateway: Gateway) =>
    ((await gateway.usage('acme')).body as { windows: { window: string; reserved_usd: number; spend_usd: number }[] }).windows.find((w) => w.window === 'day')!;

  it('uploads the lines as one file, runs them as one batch there, and settles each line from its output and error files', async () => {
    const { service, gateway, records } = gatewayUnderTest();
    upstream.scripted.script('up-small-a', { ok: 'one', usage: usage(1000, 100) }, { fail: 'client', status: 400 }, { ok: 'three', usage: usage(1000, 100) });
    const batch = await submit(service, 3);
    expect(batch.status).toBe('in_progress');
    // What reached the upstream: its own batch of three lines, each the chat body the gateway sends live.
    const theirs = await upstream.service.listBatches('acme', {});
    const job = (theirs.data as { id: string; input_file_id: string; metadata: Record<string, string> }[])[0];
    expect(job.metadata).toEqual({ llm_finops_batch: batch.id, model: 'gpt' });
    const sent = (await upstream.service.fileContent('acme', job.input_file_id)).trim().split('\n').map((l) => JSON.parse(l));
    expect(sent[0]).toEqual({ custom_id: 'L0000000001', method: 'POST', url: '/v1/chat/completions', body: { model: 'small-a', messages: [{ role: 'user', content: 'Question 1' }], max_tokens: 100 } });
    await service.runDue(); // still validating there
    expect(records.records).toHaveLength(0);
    await upstream.service.runDue(); // the upstream runs it
    await service.runDue(); // completed: settle
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 3, completed: 2, failed: 1 } });
    expect(records.records.map((r) => [r.batch_custom_id, r.status, r.cost_micros, r.savings?.batch ?? null])).toEqual([['c1', 200, 2400, 2400], ['c2', 400, 0, 0], ['c3', 200, 2400, 2400]]);
    expect(records.records.every((r) => !r.usage_flags.includes('batch_simulated'))).toBe(true);
    const output = (await service.fileContent('acme', done.output_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(output.map((o) => o.response.body.choices[0].message.content)).toEqual(['one', 'three']);
    expect(await day(gateway)).toMatchObject({ reserved_usd: 0, spend_usd: 0.0048 });
  });

  it('cancels there too: the upstream batch is cancelled; lines it never ran are neither recorded nor charged, and go to the error file', async () => {
    const { service, gateway, records } = gatewayUnderTest();
    const batch = await submit(service, 4);
    await service.cancelBatch('acme', batch.id as string);
    await service.runDue(); // cancel sent upstream; the upstream had not started: it ends cancelled with nothing run
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'cancelled', request_counts: { total: 4, completed: 0, failed: 4 } });
    expect(records.records).toHaveLength(0);
    const theirs = (await upstream.service.listBatches('acme', {})).data as { status: string }[];
    expect(theirs.map((b) => b.status)).toEqual(['cancelled']);
    expect((await day(gateway)).reserved_usd).toBe(0);
  });

  it('uses the Batch API on api.openai.com by default and not on other servers unless batchApi says so', () => {
    const p = (baseUrl: string, batchApi?: boolean) => ({ type: 'openai-compatible' as const, id: 'x', baseUrl, timeoutMs: 1000, streamIdleMs: 1, streamTotalMs: 1, ...(batchApi === undefined ? {} : { batchApi }) }) as never;
    expect(servesBatchApi(p('https://api.openai.com/v1'))).toBe(true);
    expect(servesBatchApi(p('http://127.0.0.1:11434/v1'))).toBe(false);
    expect(servesBatchApi(p('http://127.0.0.1:11434/v1', true))).toBe(true);
  });
});
