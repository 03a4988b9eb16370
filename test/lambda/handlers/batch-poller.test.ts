import { BedrockClient } from '@aws-sdk/client-bedrock';
import { S3Client } from '@aws-sdk/client-s3';
import { BedrockBatchJobs } from '../../../lambda/adapters/bedrock-batch-jobs';
import { MemoryBatchStore } from '../../../lambda/adapters/memory-batch-store';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { BatchService } from '../../../lambda/core/batch/service';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { createBatchPollerHandler, POLLER_MARGIN_MS } from '../../../lambda/handlers/shared/batch-poller-handler';
import { ScriptedBedrockBatch } from '../../support/bedrock-batch';
import { FakeClock, SeqIds } from '../../support/fakes';

const config = resolveConfig({
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [{ id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
  tiers: [{ name: 't', models: ['nova-lite'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-lite' },
  tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 5 } }],
});

describe('the BatchLane poller handler', () => {
  let bedrock: ScriptedBedrockBatch;
  beforeEach(() => {
    bedrock = new ScriptedBedrockBatch();
  });
  afterEach(() => bedrock.restore());

  it('stops near the function\'s time limit and the next run settles what is left; the usage records are flushed each run', async () => {
    const usage = new MemoryUsageSink();
    const gateway = buildGateway(config, { env: {}, usage });
    const store = new MemoryBatchStore();
    const jobs = new BedrockBatchJobs({ bucket: 'lane', prefix: 'jobs/', roleArn: 'arn:aws:iam::000000000000:role/lane', bedrock: new BedrockClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }) });
    const clock = new FakeClock();
    const runner = () => new BatchService({ gateway, store, clock, ids: new SeqIds('p-'), jobs, pollEveryMs: 0 });
    let flushes = 0;
    // The lease as AwsBatchStore keeps it (tested on dynalite there): one holder until its time, released after a run.
    let held: { holder: string; until: number } | undefined;
    const lease = {
      take: async (holder: string, until: number) => (held && held.until > clock.now() && held.holder !== holder ? false : ((held = { holder, until }), true)),
      release: async (holder: string) => void (held?.holder === holder && (held = undefined)),
    };
    let n = 0;
    const poll = createBatchPollerHandler(async () => ({ runner, lease, flush: async () => void flushes++, errors: () => 0 }), { now: () => clock.now(), holder: () => `run-${++n}` });
    bedrock.statuses = ['Completed'];
    const submitter = runner();
    const f = await submitter.uploadFile('acme', { purpose: 'batch', filename: 'in.jsonl', content: Array.from({ length: 100 }, (_, i) => JSON.stringify({ custom_id: `c${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'nova-lite', max_tokens: 10, messages: [{ role: 'user', content: `q${i}` }] } })).join('\n') });
    const batch = await submitter.createBatch({ tenantId: 'acme' }, JSON.stringify({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    // No time left beyond the margin: the run stops before it starts a batch.
    expect(await poll({ source: 'aws.events' }, { getRemainingTimeInMillis: () => POLLER_MARGIN_MS })).toEqual({ skipped: false, stoppedEarly: true, errors: 0 });
    expect(held).toBeUndefined();
    // Another run holds the lease (an event beside the schedule): this one does nothing.
    held = { holder: 'other', until: clock.now() + 60_000 };
    expect(await poll({ source: 'aws.bedrock' }, { getRemainingTimeInMillis: () => 900_000 })).toEqual({ skipped: true, stoppedEarly: false, errors: 0 });
    expect((await submitter.getBatch('acme', batch.id as string)).status).toBe('in_progress');
    // It lapses at its time (the run holding it died).
    clock.advance(60_001);
    expect((await submitter.getBatch('acme', batch.id as string)).status).toBe('in_progress');
    expect(await poll({ source: 'aws.bedrock' }, { getRemainingTimeInMillis: () => 900_000 })).toEqual({ skipped: false, stoppedEarly: false, errors: 0 });
    expect(await submitter.getBatch('acme', batch.id as string)).toMatchObject({ status: 'completed', request_counts: { completed: 100 } });
    expect(usage.records).toHaveLength(100);
    expect(flushes).toBe(2);
  });
});
