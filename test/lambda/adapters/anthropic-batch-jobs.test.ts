import { MemoryBatchStore } from '../../../lambda/adapters/memory-batch-store';
import { MemoryQuotaStore } from '../../../lambda/adapters/memory-quota-store';
import { AnthropicBatchJobs, servesMessageBatches } from '../../../lambda/adapters/anthropic-batch-jobs';
import { MemoryAlertSink, MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { BatchService } from '../../../lambda/core/batch/service';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { Gateway } from '../../../lambda/core/pipeline';
import { messagesCodec, responsesCodec } from '../../../lambda/adapters/lazy';
import { BatchApiUpstream } from '../../support/batch-upstream';
import { KEYS } from '../../support/config';
import { FakeClock, SeqIds, sha256, usage } from '../../support/fakes';

/**
 * Batches as Anthropic Message Batches. The upstream is a second gateway on loopback serving the Message Batches API
 * in Anthropic's shape (the shape the real `@anthropic-ai/sdk` client is tested against in
 * test/integration/message-batches.test.ts), its batches run by its simulator on a scripted model: the gateway under
 * test creates one Message Batch per model, polls it, and settles each line from its results. Its model `claude`
 * lists $4 / $8 per 1M tokens, so $2 / $4 in a batch: 1,000 in and 100 out cost 2,000 + 400 = 2,400 micro-dollars.
 */
describe('batches on an Anthropic Message Batches upstream (a loopback server in its shape)', () => {
  let upstream: BatchApiUpstream;
  beforeEach(async () => {
    upstream = new BatchApiUpstream();
    await upstream.start();
  });
  afterEach(() => upstream.stop());

  function gatewayUnderTest() {
    const config = resolveConfig({
      providers: [{ type: 'anthropic', id: 'anthropic', baseUrl: upstream.origin, batchApi: true, apiKeyEnv: 'TEST_KEY' }],
      models: [{ id: 'claude', provider: 'anthropic', upstreamModel: 'small-a', price: { inputPerMTok: 4, outputPerMTok: 8 }, maxOutputTokens: 1000 }],
      tiers: [{ name: 't', models: ['claude'] }],
      routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'claude' },
      tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 5 } }],
    });
    const clock = new FakeClock();
    const records = new MemoryUsageSink();
    const gateway = new Gateway({
      config, providers: new Map(), quota: new MemoryQuotaStore(), usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds('a-'), sha256,
      codecs: { messages: messagesCodec, responses: responsesCodec },
    });
    const jobs = new AnthropicBatchJobs(config, () => KEYS.acme);
    const service = new BatchService({ gateway, store: new MemoryBatchStore(), clock, ids: new SeqIds('ab-'), jobs, pollEveryMs: 0 });
    return { service, gateway, records };
  }
  const line = (i: number, url: '/v1/chat/completions' | '/v1/messages') => JSON.stringify({
    custom_id: `c${i}`, method: 'POST', url, body: { model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: `Question ${i}` }] },
  });
  const submit = async (service: BatchService, lines: string[], endpoint: string) => {
    const f = await service.uploadFile('acme', { purpose: 'batch', filename: 'in.jsonl', content: lines.join('\n') });
    return service.createBatch({ tenantId: 'acme' }, JSON.stringify({ input_file_id: f.id, endpoint, completion_window: '24h' }));
  };
  const day = async (gateway: Gateway) =>
    ((await gateway.usage('acme')).body as { windows: { window: string; reserved_usd: number; spend_usd: number }[] }).windows.find((w) => w.window === 'day')!;

  it('sends chat lines as one Message Batch, translated; settles each from its results, a 400 there a 400 here at no cost', async () => {
    const { service, gateway, records } = gatewayUnderTest();
    upstream.scripted.script('up-small-a', { ok: 'one', usage: usage(1000, 100) }, { fail: 'client', status: 400 }, { ok: 'three', usage: usage(1000, 100) });
    const batch = await submit(service, [1, 2, 3].map((i) => line(i, '/v1/chat/completions')), '/v1/chat/completions');
    expect(batch.status).toBe('in_progress');
    // What reached the upstream: one Message Batch whose requests are the Messages bodies the gateway sends live.
    const theirs = (await upstream.service.listBatches('acme', {})).data as { id: string; endpoint: string; input_file_id: string }[];
    expect(theirs.map((b) => b.endpoint)).toEqual(['/v1/messages']);
    const sent = (await upstream.service.fileContent('acme', theirs[0].input_file_id)).trim().split('\n').map((l) => JSON.parse(l));
    expect(sent[0]).toEqual({ custom_id: 'L0000000001', method: 'POST', url: '/v1/messages', body: { model: 'small-a', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'Question 1' }] }] } });
    await service.runDue(); // in_progress there
    expect(records.records).toHaveLength(0);
    await upstream.service.runDue(); // the upstream runs it
    await service.runDue(); // ended: settle
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 3, completed: 2, failed: 1 } });
    expect(records.records.map((r) => [r.batch_custom_id, r.status, r.cost_micros, r.savings?.batch ?? null])).toEqual([['c1', 200, 2400, 2400], ['c2', 400, 0, 0], ['c3', 200, 2400, 2400]]);
    const output = (await service.fileContent('acme', done.output_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(output.map((o) => [o.response.body.object, o.response.body.choices[0].message.content])).toEqual([['chat.completion', 'one'], ['chat.completion', 'three']]);
    expect(await day(gateway)).toMatchObject({ reserved_usd: 0, spend_usd: 0.0048 });
  });

  it('answers Messages lines with the upstream\'s own Message, and cancels there too: what never ran is not recorded or charged', async () => {
    const { service, gateway, records } = gatewayUnderTest();
    upstream.scripted.script('up-small-a', { ok: 'native', usage: usage(1000, 100) });
    const batch = await submit(service, [line(1, '/v1/messages')], '/v1/messages');
    await upstream.service.runDue();
    await service.runDue();
    const done = await service.getBatch('acme', batch.id as string);
    const output = (await service.fileContent('acme', done.output_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(output[0].response.body).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'native' }] });
    expect(records.records.map((r) => r.cost_micros)).toEqual([2400]);
    const second = await submit(service, [2, 3].map((i) => line(i, '/v1/chat/completions')), '/v1/chat/completions');
    await service.cancelBatch('acme', second.id as string);
    await service.runDue(); // cancel sent upstream, which had not started: it ends with nothing run
    expect(await service.getBatch('acme', second.id as string)).toMatchObject({ status: 'cancelled', request_counts: { total: 2, completed: 0, failed: 2 } });
    expect(records.records).toHaveLength(1);
    expect((await day(gateway)).reserved_usd).toBe(0);
  });

  it('uses Message Batches on api.anthropic.com by default and not on other servers unless batchApi says so', () => {
    const p = (url: string, batchApi?: boolean) => ({ type: 'anthropic' as const, id: 'x', baseUrl: url, timeoutMs: 1000, ...(batchApi === undefined ? {} : { batchApi }) }) as never;
    expect(servesMessageBatches(p('https://api.anthropic.com'))).toBe(true);
    expect(servesMessageBatches(p('http://127.0.0.1:8787'))).toBe(false);
    expect(servesMessageBatches(p('http://127.0.0.1:8787', true))).toBe(true);
  });
});
