import { randomBytes } from 'node:crypto';
import { BedrockClient, CreateModelInvocationJobCommand, GetModelInvocationJobCommand } from '@aws-sdk/client-bedrock';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsBatchStore, ensureBatchTable } from '../../../lambda/adapters/aws-batch-store';
import { BedrockBatchJobs } from '../../../lambda/adapters/bedrock-batch-jobs';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { BatchService } from '../../../lambda/core/batch/service';
import type { BatchRecord } from '../../../lambda/core/batch/store';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { ScriptedBedrockBatch } from '../../support/bedrock-batch';
import { LocalDynamo } from '../../support/dynalite';
import { FakeClock, SeqIds } from '../../support/fakes';

/**
 * The batch API's AWS store (the BatchLane's table on dynalite, its bucket scripted at the S3 client's wire), alone
 * and under the batch service as the Lambda runs it: the router submits, a separate poller (another process, its own
 * clients) settles, and the router reads the result, all through the table and the bucket.
 */
jest.setTimeout(120_000);

const config = resolveConfig({
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [{ id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
  tiers: [{ name: 't', models: ['nova-lite'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-lite' },
  tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 5 } }, { id: 'globex', apiKeys: [], limits: { dailyUsd: 5 } }],
});

const batchRecord = (id: string, tenantId: string, status: BatchRecord['status'], createdAt: number): BatchRecord => ({
  id, tenantId, endpoint: '/v1/chat/completions', inputFileId: 'file-1', completionWindow: '24h', status, metadata: null,
  createdAt, inProgressAt: null, expiresAt: createdAt + 86_400, finalizingAt: null, completedAt: null, failedAt: null, expiredAt: null,
  cancellingAt: null, cancelledAt: null, outputFileId: null, errorFileId: null, requestCounts: { total: 1, completed: 0, failed: 0 },
  errors: null, hold: null, runAfterMs: 0,
  // A 50,000-line job's line list: 290 KB as JSON, over what an item holds uncompressed with the rest.
  jobs: [{ model: 'nova-lite', jobId: 'arn:job', lines: Array.from({ length: 50_000 }, (_, i) => i + 1), state: 'running' }],
});

describe('AwsBatchStore (dynalite + S3 at the wire)', () => {
  const dynamo = new LocalDynamo();
  let s3: ScriptedBedrockBatch;
  let table = 0;
  beforeAll(() => dynamo.start());
  afterAll(() => dynamo.stop());
  beforeEach(() => {
    s3 = new ScriptedBedrockBatch();
  });
  afterEach(() => s3.restore());

  async function store(now = () => Date.UTC(2026, 11, 7)): Promise<AwsBatchStore> {
    const name = `batch-${++table}`;
    await ensureBatchTable(dynamo.client, name);
    return new AwsBatchStore({ dynamo: dynamo.client, table: name, bucket: 'lane', retentionDays: 30, s3: new S3Client({ region: 'us-east-1' }), now });
  }

  it('keeps files per tenant: the content in the bucket, what the Files API reports in the table; delete removes both', async () => {
    const s = await store();
    await s.putFile({ id: 'file-1', tenantId: 'acme', purpose: 'batch', filename: 'in.jsonl', bytes: 3, createdAt: 10 }, 'abc');
    await s.putFile({ id: 'file-2', tenantId: 'globex', purpose: 'batch', filename: 'g.jsonl', bytes: 1, createdAt: 11 }, 'x');
    expect(s3.objects.get('lane/files/file-1.jsonl')).toBe('abc');
    expect(await s.readFile('file-1')).toBe('abc');
    expect(await s.getFile('file-1')).toMatchObject({ tenantId: 'acme', filename: 'in.jsonl' });
    expect((await s.listFiles('acme')).map((f) => f.id)).toEqual(['file-1']);
    expect((await s.listFiles('globex')).map((f) => f.id)).toEqual(['file-2']);
    expect(await s.deleteFile('file-1')).toBe(true);
    expect(await s.deleteFile('file-1')).toBe(false);
    expect(s3.objects.has('lane/files/file-1.jsonl')).toBe(false);
    expect(await s.getFile('file-1')).toBeUndefined();
    expect(await s.readFile('file-1')).toBeUndefined();
    // Ids the service never makes are no keys.
    expect(await s.getFile('../x')).toBeUndefined();
    await expect(s.putFile({ id: 'a/b', tenantId: 'acme', purpose: 'batch', filename: 'x', bytes: 0, createdAt: 1 }, '')).rejects.toThrow(/not a batch store id/);
  });

  it('keeps batches (a 50,000-line job list fits, gzipped), lists them per tenant, and finds the active ones through the sparse index', async () => {
    const s = await store();
    await s.putBatch(batchRecord('batch_a', 'acme', 'in_progress', 100));
    await s.putBatch(batchRecord('batch_b', 'acme', 'validating', 50));
    await s.putBatch(batchRecord('batch_c', 'globex', 'completed', 70));
    expect((await s.getBatch('batch_a'))!.jobs![0].lines).toHaveLength(50_000);
    expect((await s.listBatches('acme')).map((b) => b.id).sort()).toEqual(['batch_a', 'batch_b']);
    expect((await s.activeBatches()).map((b) => b.id)).toEqual(['batch_b', 'batch_a']);
    // Ending a batch takes it out of the index.
    await s.putBatch({ ...(await s.getBatch('batch_b'))!, status: 'cancelled' });
    expect((await s.activeBatches()).map((b) => b.id)).toEqual(['batch_a']);
    // The item expires with the table's TTL, the retention after the batch's own window.
    const item = await dynamo.client.send(new GetItemCommand({ TableName: `batch-${table}`, Key: { pk: { S: 'batch#batch_a' }, sk: { S: '#' } } }));
    expect(Number(item.Item!.ttl.N)).toBe(100 + 86_400 + 30 * 86_400);
  });

  it('keeps each line\'s result in line order; a result too large for an item goes to the bucket and reads back whole', async () => {
    const s = await store();
    const big = randomBytes(600_000).toString('base64');
    await s.appendResult('batch_a', { line: 12, ok: true, result: { id: 'r12', custom_id: 'c12', response: null, error: null } });
    await s.appendResult('batch_a', { line: 3, ok: false, result: { id: 'r3', custom_id: big, response: null, error: null } });
    await s.appendResult('batch_b', { line: 1, ok: true, result: { id: 'other', custom_id: 'x', response: null, error: null } });
    expect([...s3.blobs.keys()]).toEqual(['lane/results/batch_a/3.json.gz']);
    const results = await s.readResults('batch_a');
    expect(results.map((r) => r.line)).toEqual([3, 12]);
    expect(results[0].result.custom_id).toBe(big);
    expect(await s.readResults('batch_none')).toEqual([]);
  });

  it('leases the poller to one run at a time: another holder waits until the lease lapses or is released', async () => {
    let now = 1_000_000;
    const s = await store(() => now);
    expect(await s.lease('a', now + 900_000)).toBe(true);
    expect(await s.lease('b', now + 900_000)).toBe(false);
    // The holder may extend its own lease.
    expect(await s.lease('a', now + 950_000)).toBe(true);
    await s.release('b');
    expect(await s.lease('b', now + 900_000)).toBe(false);
    now += 950_001;
    expect(await s.lease('b', now + 900_000)).toBe(true);
    await s.release('b');
    expect(await s.lease('c', now + 1)).toBe(true);
  });

  it('runs a Bedrock batch as the Lambda does: the router submits, a poller elsewhere settles, the router serves the result; the hold is back to 0', async () => {
    const runtime = mockClient(BedrockRuntimeClient);
    const quotaTable = `quota-${table}`;
    await ensureQuotaTable(dynamo.client, quotaTable);
    const s = await store();
    const clock = new FakeClock();
    const jobsOf = () => new BedrockBatchJobs({
      bucket: 'lane', prefix: 'jobs/', roleArn: 'arn:aws:iam::000000000000:role/lane',
      bedrock: new BedrockClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }),
    });
    // Two processes: each its own gateway, quota client and store client, sharing the table, bucket and quota table.
    const usage = new MemoryUsageSink();
    const processOf = (ids: string) => {
      const gateway = buildGateway(config, { env: {}, usage, quota: new DynamoDbQuotaStore(dynamo.client, quotaTable) });
      const errors: unknown[] = [];
      const service = new BatchService({ gateway, store: s, clock, ids: new SeqIds(ids), jobs: jobsOf(), pollEveryMs: 0, onError: (_id, err) => errors.push(err) });
      return { gateway, service, errors };
    };
    const router = processOf('r-');
    const poller = processOf('p-');
    const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ custom_id: `c${i + 1}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'nova-lite', max_tokens: 100, messages: [{ role: 'user', content: `Summarise ticket ${i + 1}.` }] } })).join('\n');
    s3.statuses = ['Completed'];
    const f = await router.service.uploadFile('acme', { purpose: 'batch', filename: 'in.jsonl', content: lines });
    const batch = await router.service.createBatch({ tenantId: 'acme' }, JSON.stringify({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    expect(batch).toMatchObject({ status: 'in_progress', request_counts: { total: 120 } });
    expect(s3.bedrock.commandCalls(CreateModelInvocationJobCommand)).toHaveLength(1);
    const day = async () => ((await router.gateway.usage('acme')).body as { windows: { window: string; reserved_usd: number; spend_usd: number }[] }).windows.find((w) => w.window === 'day')!;
    expect((await day()).reserved_usd).toBeGreaterThan(0);
    await poller.service.runDue();
    expect(poller.errors).toEqual([]);
    expect(s3.bedrock.commandCalls(GetModelInvocationJobCommand).length).toBeGreaterThan(0);
    const done = await router.service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 120, completed: 120, failed: 0 } });
    const out = (await router.service.fileContent('acme', done.output_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(out).toHaveLength(120);
    expect(out[0]).toMatchObject({ custom_id: 'c1', response: { status_code: 200, body: { choices: [{ message: { content: 'answer L0000000001' } }] } } });
    expect(usage.records).toHaveLength(120);
    expect(usage.records.every((r) => r.api === 'batch' && r.cost_micros === 42)).toBe(true);
    expect(await day()).toMatchObject({ reserved_usd: 0, spend_usd: 0.00504 });
    // Nothing of the batch is active any more; a second poll does nothing.
    expect(await s.activeBatches()).toEqual([]);
    const puts = (await dynamo.client.send(new GetItemCommand({ TableName: `batch-${table}`, Key: { pk: { S: `batch#${batch.id}` }, sk: { S: 'line#0000001' } } }))).Item;
    expect(puts?.doc?.B).toBeDefined();
    expect(runtime.calls()).toHaveLength(0);
    runtime.restore();
  });
});
