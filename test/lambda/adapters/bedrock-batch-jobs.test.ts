import { BedrockClient, CreateModelInvocationJobCommand, GetModelInvocationJobCommand, StopModelInvocationJobCommand } from '@aws-sdk/client-bedrock';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { BedrockBatchJobs } from '../../../lambda/adapters/bedrock-batch-jobs';
import { MemoryBatchStore } from '../../../lambda/adapters/memory-batch-store';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { BatchService } from '../../../lambda/core/batch/service';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import type { Gateway } from '../../../lambda/core/pipeline';
import { ScriptedBedrockBatch } from '../../support/bedrock-batch';
import { FakeClock, SeqIds } from '../../support/fakes';

/**
 * Batches on Bedrock batch inference, through the gateway, the batch service and the real BedrockBatchJobs adapter,
 * with S3 and the job API scripted at the SDK's wire. Nova Lite lists $0.06 / $0.24 per 1M tokens (catalog, verified
 * 2026-11-29), so its batch price is $0.03 / $0.12: an answer of 1,000 tokens in and 100 out costs 30 + 12 = 42
 * micro-dollars, against 84 at the on-demand price.
 */
const config = resolveConfig({
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }, { type: 'openai-compatible', id: 'up', baseUrl: 'http://127.0.0.1:1/v1' }],
  models: [
    { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' },
    { id: 'local', provider: 'up', upstreamModel: 'llama', price: { inputPerMTok: 0.1, outputPerMTok: 0.1 } },
  ],
  tiers: [{ name: 't', models: ['nova-lite'] }, { name: 'self-hosted', models: ['local'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-lite' },
  tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 5 } }, { id: 'poor', apiKeys: [], limits: { dailyUsd: 0.001 } }],
});

describe('batches on Bedrock batch inference (S3 and the job API scripted at the wire)', () => {
  let bedrock: ScriptedBedrockBatch;
  const runtime = mockClient(BedrockRuntimeClient);
  beforeEach(() => {
    bedrock = new ScriptedBedrockBatch();
    runtime.reset();
  });
  afterEach(() => bedrock.restore());

  function setup() {
    const usage = new MemoryUsageSink();
    const gateway = buildGateway(config, { env: {}, usage });
    const clock = new FakeClock();
    const jobs = new BedrockBatchJobs({
      bucket: 'lane-bucket', prefix: 'batches/', roleArn: 'arn:aws:iam::000000000000:role/lane',
      bedrock: new BedrockClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }),
    });
    const errors: string[] = [];
    const service = new BatchService({
      gateway, store: new MemoryBatchStore(), clock, ids: new SeqIds('b-'), jobs, pollEveryMs: 0, holdEvery: 50,
      onError: (id, err) => errors.push(`${id}: ${(err as Error).message}`),
    });
    return { gateway, service, usage, errors };
  }
  const jsonl = (n: number, model = 'nova-lite') => Array.from({ length: n }, (_, i) => JSON.stringify({
    custom_id: `c${i + 1}`, method: 'POST', url: '/v1/chat/completions', body: { model, max_tokens: 100, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Summarise ticket ${i + 1}.` }] },
  })).join('\n');
  const submit = async (service: BatchService, text: string, tenant = 'acme') => {
    const f = await service.uploadFile(tenant, { purpose: 'batch', filename: 'in.jsonl', content: text });
    return service.createBatch({ tenantId: tenant, feature: 'nightly' }, JSON.stringify({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
  };
  const day = async (gateway: Gateway, tenant = 'acme') =>
    ((await gateway.usage(tenant)).body as { windows: { window: string; reserved_usd: number; spend_usd: number }[] }).windows.find((w) => w.window === 'day')!;

  it('submits one Converse job, polls it, and settles every line from its output at the batch price; no live call, no call per line', async () => {
    const { service, gateway, usage } = setup();
    bedrock.statuses = ['Submitted', 'InProgress', 'Completed'];
    bedrock.outcome = (id, i) => (i === 3 ? 'error' : i === 7 ? 'garbage' : i === 9 ? 'missing' : i === 11 ? 'torn' : { answer: `answer ${id}`, inputTokens: 1000, outputTokens: 100 });
    const batch = await submit(service, jsonl(150));
    expect(batch).toMatchObject({ status: 'in_progress', request_counts: { total: 150 } });
    const create = bedrock.bedrock.commandCalls(CreateModelInvocationJobCommand).map((c) => c.args[0].input);
    expect(create).toEqual([expect.objectContaining({
      modelId: 'us.amazon.nova-lite-v1:0', modelInvocationType: 'Converse', roleArn: 'arn:aws:iam::000000000000:role/lane', timeoutDurationInHours: 24,
      inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://lane-bucket/batches/${batch.id}/nova-lite/input.jsonl`, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://lane-bucket/batches/${batch.id}/nova-lite/output/` } },
    })]);
    expect(create[0].jobName).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*$/);
    const input = bedrock.inputOf(0);
    expect(input).toHaveLength(150);
    expect(input[0]).toEqual({
      recordId: 'L0000000001',
      modelInput: { messages: [{ role: 'user', content: [{ text: 'Summarise ticket 1.' }] }], system: [{ text: 'Be brief.' }], inferenceConfig: { maxTokens: 100 } },
    });
    // Held at submit: 150 lines at their estimate and 100-token cap, at the batch price.
    expect((await day(gateway)).reserved_usd).toBeGreaterThan(0.0018);
    await service.runDue(); // Submitted -> still running: nothing settled
    await service.runDue(); // InProgress
    expect(usage.records).toHaveLength(0);
    await service.runDue(); // Completed: settle
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 150, completed: 146, failed: 4 } });
    // A record per line the job answered or refused; the two it wrote nothing readable for ran nowhere and cost nothing.
    expect(usage.records).toHaveLength(148);
    const answered = usage.records.filter((r) => r.status === 200);
    expect(answered).toHaveLength(146);
    expect(answered.every((r) => r.api === 'batch' && r.cost_micros === 42 && r.savings?.batch === 42 && r.model === 'nova-lite' && !r.usage_flags.includes('batch_simulated'))).toBe(true);
    expect(usage.records.filter((r) => r.status !== 200).map((r) => [r.batch_custom_id, r.status, r.cost_micros])).toEqual([['c4', 400, 0], ['c8', 400, 0]]);
    const errors = (await service.fileContent('acme', done.error_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.map((e) => [e.custom_id, e.response?.status_code ?? null, e.error?.code ?? null])).toEqual([['c4', 400, null], ['c8', 400, null], ['c10', null, 'batch_job_failed'], ['c12', null, 'batch_job_failed']]);
    // Each error line says what Bedrock (or the check of its output) said about the record.
    expect(errors[0].response.body.error.message).toContain('bedrock_400: Malformed input request');
    expect(errors[1].response.body.error.message).toContain('invalid_result');
    expect(await day(gateway)).toMatchObject({ reserved_usd: 0, spend_usd: 0.006132 });
    // One job: created once, its state read three times and once more for the output location, one list, one read.
    expect(runtime.calls()).toHaveLength(0);
    expect(bedrock.bedrock.commandCalls(GetModelInvocationJobCommand)).toHaveLength(4);
    expect(bedrock.s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(bedrock.s3.commandCalls(ListObjectsV2Command)).toHaveLength(1);
    expect(bedrock.s3.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it('refuses before anything is held: fewer lines than the model\'s minimum, a model with no batch API, a batch over the budget', async () => {
    const { service, gateway } = setup();
    const small = await submit(service, jsonl(99));
    expect(small.status).toBe('failed');
    expect((small.errors as { data: { code: string; message: string }[] }).data).toEqual([
      expect.objectContaining({ code: 'batch_too_small', message: expect.stringContaining("99 lines go to model 'nova-lite', whose batch jobs take at least 100 records") }),
    ]);
    const local = await submit(service, `${jsonl(100)}\n${JSON.stringify({ custom_id: 'x', method: 'POST', url: '/v1/chat/completions', body: { model: 'local', messages: [{ role: 'user', content: 'hi' }] } })}`);
    expect((local.errors as { data: { code: string; line: number }[] }).data.map((e) => [e.code, e.line])).toEqual([['model_not_batchable', 101]]);
    await expect(submit(service, jsonl(150), 'poor')).rejects.toMatchObject({ status: 429, message: expect.stringContaining('this batch of 150 requests') });
    expect(bedrock.bedrock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(0);
    expect((await day(gateway)).reserved_usd).toBe(0);
    expect((await day(gateway, 'poor')).reserved_usd).toBe(0);
  });

  it('cancels: the job is stopped, the records it had processed are settled and billed, the rest go to the error file, the hold released', async () => {
    const { service, gateway, usage } = setup();
    bedrock.statuses = ['InProgress'];
    bedrock.processedOnStop = 60;
    const batch = await submit(service, jsonl(200));
    await service.runDue();
    const cancelling = await service.cancelBatch('acme', batch.id as string);
    expect(cancelling.status).toBe('cancelling');
    await service.runDue();
    expect(bedrock.bedrock.commandCalls(StopModelInvocationJobCommand).map((c) => c.args[0].input)).toEqual([{ jobIdentifier: bedrock.jobs[0].arn }]);
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'cancelled', request_counts: { total: 200, completed: 60, failed: 140 } });
    expect(usage.records).toHaveLength(60);
    const errors = (await service.fileContent('acme', done.error_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors[0]).toMatchObject({ custom_id: 'c61', response: null, error: { code: 'batch_cancelled', message: expect.stringContaining('ended stopped (Stopped by the user)') } });
    expect(await day(gateway)).toMatchObject({ reserved_usd: 0, spend_usd: 0.00252 });
  });

  it('does not settle without the output it could not read: the read is retried at the next poll, nothing recorded meanwhile', async () => {
    const { service, gateway, usage, errors } = setup();
    bedrock.statuses = ['Completed'];
    const batch = await submit(service, jsonl(120));
    bedrock.failReads = 1;
    await service.runDue();
    expect(errors).toEqual([`${batch.id}: We encountered an internal error. Please try again.`]);
    expect(usage.records).toHaveLength(0);
    expect((await service.getBatch('acme', batch.id as string)).status).toBe('in_progress');
    expect((await day(gateway)).reserved_usd).toBeGreaterThan(0);
    await service.runDue();
    expect(errors).toHaveLength(1);
    expect(await service.getBatch('acme', batch.id as string)).toMatchObject({ status: 'completed', request_counts: { completed: 120, failed: 0 } });
    expect(usage.records).toHaveLength(120);
    expect((await day(gateway)).reserved_usd).toBe(0);
  });
});
