import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { MemoryBatchStore } from '../../lambda/adapters/memory-batch-store';
import { MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../lambda/adapters/wiring';
import { systemClock, systemIds } from '../../lambda/adapters/system-runtime';
import { BatchService } from '../../lambda/core/batch/service';
import { resolveConfig } from '../../lambda/core/config/resolve';
import { createGatewayServer } from '../../lambda/local/http-server';
import { KEYS, testConfig } from '../support/config';
import { FakeUpstream } from '../support/upstream';

/**
 * Anthropic's Message Batches API on the gateway, driven by the real `@anthropic-ai/sdk` client: create, retrieve,
 * list, results (JSONL through the SDK's decoder) and cancel, over the same batch service as /v1/batches, each
 * Messages request translated to the OpenAI-compatible upstream on loopback. small-a lists $1 / $2 per 1M, so $0.50 /
 * $1 in a batch: 1,000 in and 40 out cost 540 micro-dollars.
 */
describe('Message Batches (the Anthropic SDK) on the gateway', () => {
  const upstream = new FakeUpstream();
  let server: Server;
  let service: BatchService;
  let usage: MemoryUsageSink;
  let client: Anthropic;

  beforeAll(() => upstream.start());
  afterAll(() => upstream.stop());
  beforeEach(async () => {
    upstream.reset();
    usage = new MemoryUsageSink();
    const gateway = buildGateway(resolveConfig(testConfig(upstream.baseUrl)), { env: {}, usage });
    service = new BatchService({ gateway, store: new MemoryBatchStore(), clock: systemClock, ids: systemIds });
    server = createGatewayServer(gateway, { batches: service });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    client = new Anthropic({ apiKey: KEYS.acme, baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxRetries: 0 });
  });
  afterEach(() => new Promise<void>((ok) => server.close(() => ok())));

  const request = (id: string, content = `Question ${id}`) => ({ custom_id: id, params: { model: 'small-a', max_tokens: 64, messages: [{ role: 'user' as const, content }] } });

  it('runs a batch of Messages requests at the batch price and returns each result as Anthropic does', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'answer', promptTokens: 1000, completionTokens: 40 });
    upstream.script('up-small-a', { kind: 'ok', content: 'first', promptTokens: 1000, completionTokens: 40 }, { kind: 'status', status: 400 });
    const batch = await client.messages.batches.create({ requests: [request('a'), request('b'), request('c')] });
    expect(batch).toMatchObject({ type: 'message_batch', processing_status: 'in_progress', request_counts: { processing: 3, succeeded: 0 }, results_url: null });
    await service.runDue();
    const ended = await client.messages.batches.retrieve(batch.id);
    expect(ended).toMatchObject({ processing_status: 'ended', request_counts: { processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 } });
    expect(ended.results_url).toBe(`/v1/messages/batches/${batch.id}/results`);
    const results: Anthropic.Messages.Batches.MessageBatchIndividualResponse[] = [];
    for await (const r of await client.messages.batches.results(batch.id)) results.push(r);
    expect(results.map((r) => [r.custom_id, r.result.type])).toEqual([['a', 'succeeded'], ['c', 'succeeded'], ['b', 'errored']]);
    const first = results[0].result as Anthropic.Messages.Batches.MessageBatchSucceededResult;
    expect(first.message).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'first' }], usage: { input_tokens: 1000, output_tokens: 40 } });
    expect((results[2].result as Anthropic.Messages.Batches.MessageBatchErroredResult).error).toMatchObject({ type: 'error', error: { type: expect.any(String) } });
    expect(usage.records.map((r) => [r.api, r.batch_custom_id, r.status, r.cost_micros])).toEqual([['batch', 'a', 200, 540], ['batch', 'b', 400, 0], ['batch', 'c', 200, 540]]);
    const listed = [];
    for await (const b of client.messages.batches.list()) listed.push(b.id);
    expect(listed).toEqual([batch.id]);
  });

  it('refuses a request the live path would refuse with a 400 naming it, in Anthropic\'s error shape; nothing runs', async () => {
    const err = await client.messages.batches.create({ requests: [request('a'), { custom_id: 'b', params: { model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] } }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).message).toMatch(/requests\.1: .*no-such-model/);
    const dup = await client.messages.batches.create({ requests: [request('a'), request('a')] }).catch((e: unknown) => e);
    expect((dup as InstanceType<typeof Anthropic.BadRequestError>).message).toMatch(/requests\.1: custom_id 'a' is also on line 1/);
    expect(upstream.received).toHaveLength(0);
    await expect(client.messages.batches.retrieve('msgbatch_none')).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  it('cancels a batch before it runs: every request canceled, nothing recorded', async () => {
    const batch = await client.messages.batches.create({ requests: [request('a'), request('b')] });
    const cancelled = await client.messages.batches.cancel(batch.id);
    expect(cancelled).toMatchObject({ processing_status: 'ended', request_counts: { canceled: 2, succeeded: 0 } });
    expect(cancelled.cancel_initiated_at).not.toBeNull();
    const results = [];
    for await (const r of await client.messages.batches.results(batch.id)) results.push(r.result.type);
    expect(results).toEqual(['canceled', 'canceled']);
    expect(usage.records).toHaveLength(0);
  });
});
