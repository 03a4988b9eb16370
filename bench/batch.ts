/**
 * The batch lane at scale (`npm run bench:batch`, issue 35), written to bench/results/batch.json. A 10,000-line batch
 * (BATCH_LINES) through the Batch API's local simulator and the whole pipeline, on a scripted upstream that answers
 * at once (usage 20 in / 50 out on small-a: $1/$2 per 1M standard, so 20 x 0.5 + 50 x 1 = 60 micro-dollars a line at
 * the batch price; each line is held at its input estimate plus its 100-token cap, about 115), four ways:
 * - `completed`: run to the end;
 * - `cancelled`: cancelled once 30% of the lines have run;
 * - `killed`: the process dies inside the call of the line after half (its runner abandoned, the call never answers) and a new one
 *   over the same stores resumes the batch; then the dead line's reservation is swept;
 * - `refused`: the same file from a tenant whose daily budget is about half the batch's hold ($50 per 1M lines).
 * Each on the memory quota store, and `completed` and `killed` again on DynamoDB (dynalite) with the batch directory
 * store. Every figure is checked, not only timed: one record per line (no custom_id twice), each at the batch price,
 * reserved = 0 at the end, spend = the records' sum.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AwsBatchStore, ensureBatchTable } from '../lambda/adapters/aws-batch-store';
import { DirectoryBatchStore } from '../lambda/adapters/directory-batch-store';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import { MemoryBatchStore } from '../lambda/adapters/memory-batch-store';
import { MemoryExactCache } from '../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../lambda/adapters/usage-sinks';
import { BatchService } from '../lambda/core/batch/service';
import type { BatchStore } from '../lambda/core/batch/store';
import { resolveConfig } from '../lambda/core/config/resolve';
import { GatewayError } from '../lambda/core/errors';
import { Gateway } from '../lambda/core/pipeline';
import type { ChatProvider, ProviderCall, ProviderResponse, QuotaStore } from '../lambda/core/ports';
import { BedrockBatchJobs } from '../lambda/adapters/bedrock-batch-jobs';
import { BedrockClient } from '@aws-sdk/client-bedrock';
import { S3Client } from '@aws-sdk/client-s3';
import { LocalDynamo } from '../test/support/dynalite';
import { ScriptedBedrockBatch } from '../test/support/bedrock-batch';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../test/support/fakes';
import { testConfig } from '../test/support/config';

const LINES = Number(process.env.BATCH_LINES ?? 10_000);
const LINE_MICROS = 60;
/** 06:00 UTC today: the kill scenario moves the clock an hour on to sweep, which must not cross into another day. */
const START_MS = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 6 * 3_600_000;
/** Cancelled once 30% of the lines have run; killed inside the call of the line after half. */
const CANCEL_AT = Math.floor(LINES * 0.3);
const KILL_AT = Math.floor(LINES / 2) + 1;

/** Answers at once; the call numbered `hangAt` never answers (the process dies while it waits). */
class Upstream implements ChatProvider {
  private n = 0;
  reached: Promise<void>;
  private reach!: () => void;
  constructor(private readonly hangAt = Infinity, private readonly inner = new ScriptedProvider()) {
    this.reached = new Promise((ok) => (this.reach = ok));
  }
  async complete(call: ProviderCall): Promise<ProviderResponse> {
    if (++this.n === this.hangAt) {
      this.reach();
      return new Promise<never>(() => undefined);
    }
    return { ...(await this.inner.complete(call)), usage: usage(20, 50) };
  }
  stream(call: ProviderCall): ReturnType<ChatProvider['stream']> {
    return this.inner.stream(call);
  }
}

function processOver(quota: QuotaStore, store: BatchStore, records: MemoryUsageSink, clock: FakeClock, upstream: ChatProvider, name: string, dailyUsd = 100) {
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
    tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd } }, { id: 'poor', apiKeys: [], limits: { dailyUsd: LINES * 50e-6 } }],
  }));
  const gateway = new Gateway({
    config, providers: new Map([['up', upstream]]), quota, exactCache: new MemoryExactCache(100, () => clock.now()),
    usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(`${name}-req-`), sha256,
  });
  return { gateway, service: new BatchService({ gateway, store, clock, ids: new SeqIds(`${name}-`) }) };
}

const input = Array.from({ length: LINES }, (_, i) => JSON.stringify({
  custom_id: `line-${i + 1}`, method: 'POST', url: '/v1/chat/completions',
  body: { model: 'small-a', max_tokens: 100, messages: [{ role: 'user', content: `Summarise ticket ${i + 1}: the customer cannot log in after the update.` }] },
})).join('\n');

async function submit(service: BatchService, tenant = 'acme'): Promise<string> {
  const file = await service.uploadFile(tenant, { purpose: 'batch', filename: 'lines.jsonl', content: input });
  const b = await service.createBatch({ tenantId: tenant, feature: 'nightly' }, JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
  return b.id as string;
}

async function dayWindow(gateway: Gateway, tenant = 'acme'): Promise<{ spend_usd: number; reserved_usd: number }> {
  const body = (await gateway.usage(tenant)).body as { windows: { window: string; spend_usd: number; reserved_usd: number }[] };
  return body.windows.find((w) => w.window === 'day')!;
}

/** What every scenario must show: each line recorded at most once, at the batch price; nothing held; spend = records. */
async function check(name: string, gateway: Gateway, records: MemoryUsageSink, batchId: string, expectRecords: number) {
  const mine = records.records.filter((r) => r.batch_id === batchId);
  const ids = new Set(mine.map((r) => r.batch_custom_id));
  const window = await dayWindow(gateway);
  const spentMicros = mine.reduce((s, r) => s + r.cost_micros, 0);
  const out = {
    records: mine.length,
    distinct_custom_ids: ids.size,
    all_at_batch_price: mine.every((r) => r.cost_micros === LINE_MICROS && r.savings?.batch === LINE_MICROS && r.api === 'batch'),
    reserved_usd_after: window.reserved_usd,
    spend_usd: window.spend_usd,
    records_usd: spentMicros / 1e6,
  };
  const ok = out.records === expectRecords && out.distinct_custom_ids === expectRecords && out.all_at_batch_price && out.reserved_usd_after === 0 && Math.abs(out.spend_usd - out.records_usd) < 1e-9;
  if (!ok) throw new Error(`${name}: ${JSON.stringify(out)}`);
  return out;
}

async function completed(label: string, quota: QuotaStore, store: BatchStore) {
  const clock = new FakeClock(START_MS);
  const records = new MemoryUsageSink();
  const p = processOver(quota, store, records, clock, new Upstream(), `${label}-c`);
  const t0 = performance.now();
  const id = await submit(p.service);
  const submitMs = performance.now() - t0;
  const held = (await dayWindow(p.gateway)).reserved_usd;
  await p.service.runDue();
  const ms = performance.now() - t0;
  const b = await p.service.getBatch('acme', id);
  return { status: b.status, request_counts: b.request_counts, held_at_submit_usd: held, submit_ms: Math.round(submitMs), total_ms: Math.round(ms), lines_per_s: Math.round(LINES / (ms / 1000)), ...(await check(`${label} completed`, p.gateway, records, id, LINES)) };
}

async function cancelled(quota: QuotaStore, store: BatchStore) {
  const clock = new FakeClock(START_MS);
  const records = new MemoryUsageSink();
  const p = processOver(quota, store, records, clock, new Upstream(), 'cancel');
  const id = await submit(p.service);
  const running = p.service.runDue();
  while (records.records.length < CANCEL_AT) await new Promise((r) => setImmediate(r));
  await p.service.cancelBatch('acme', id);
  await running;
  const b = await p.service.getBatch('acme', id);
  const ran = records.records.length;
  return { status: b.status, request_counts: b.request_counts, lines_run: ran, ...(await check('cancelled', p.gateway, records, id, ran)) };
}

async function killed(label: string, quota: QuotaStore, store: BatchStore, sweepAfterMs: number) {
  const clock = new FakeClock(START_MS);
  const records = new MemoryUsageSink();
  const dying = new Upstream(KILL_AT);
  const first = processOver(quota, store, records, clock, dying, `${label}-k1`);
  const id = await submit(first.service);
  void first.service.runDue();
  await dying.reached;
  const beforeRestart = records.records.length;
  const second = processOver(quota, store, records, clock, new Upstream(), `${label}-k2`);
  await second.service.runDue();
  const heldByDeadLine = (await dayWindow(second.gateway)).reserved_usd;
  clock.advance(sweepAfterMs);
  const swept = await quota.sweepExpired(clock.now());
  const b = await second.service.getBatch('acme', id);
  return {
    status: b.status, request_counts: b.request_counts, recorded_before_kill: beforeRestart, reserved_before_sweep_usd: heldByDeadLine, reservations_swept: swept,
    ...(await check(`${label} killed`, second.gateway, records, id, LINES)),
  };
}

async function refused() {
  const clock = new FakeClock(START_MS);
  const records = new MemoryUsageSink();
  const p = processOver(new MemoryQuotaStore(), new MemoryBatchStore(), records, clock, new Upstream(), 'refused');
  try {
    await submit(p.service, 'poor');
    throw new Error('refused: the batch was accepted');
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    return { status: err.status, message: err.message, reserved_usd_after: (await dayWindow(p.gateway, 'poor')).reserved_usd, records: records.records.length };
  }
}

/**
 * The same 10,000 lines as provider jobs on a scripted Bedrock (S3 and the job API at the SDK's wire: every line
 * answered 20 in / 50 out on Nova Lite, $0.06/$0.24 per 1M, so 20 x 0.03 + 50 x 0.12 = 6.6 micro-dollars a line at
 * the batch price, rounded up to 7 per record): submitted as one job, polled, and settled from its output; once to
 * the end, and once stopped after half the lines were settled and finished by a new process over the same stores.
 * Counts the job API and S3 calls (none per line).
 */
/** Where a Bedrock-jobs run keeps its counters and batches: in memory, or as the Lambda lane does (dynalite). */
interface LaneStores {
  readonly quota: QuotaStore;
  readonly store: BatchStore;
  /** DynamoDB calls so far (the lane's table and the quota table). */
  readonly dynamoCalls?: () => number;
}

async function bedrockJobs(stopAt?: number, stores?: () => LaneStores) {
  const scripted = new ScriptedBedrockBatch();
  scripted.outcome = () => ({ answer: 'ok', inputTokens: 20, outputTokens: 50 });
  try {
    const config = resolveConfig({
      providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
      models: [{ id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
      tiers: [{ name: 't', models: ['nova-lite'] }],
      routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-lite' },
      tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 100 } }],
    });
    const clock = new FakeClock(START_MS);
    const records = new MemoryUsageSink();
    const lane = stores?.() ?? { quota: new MemoryQuotaStore(), store: new MemoryBatchStore() };
    const { quota, store } = lane;
    const jobs = new BedrockBatchJobs({ bucket: 'lane', prefix: 'b/', roleArn: 'arn:aws:iam::000000000000:role/lane', bedrock: new BedrockClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }) });
    const make = (name: string) => {
      const gateway = new Gateway({
        config, providers: new Map(), quota, usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(`${name}-req-`), sha256,
      });
      return { gateway, service: new BatchService({ gateway, store, clock, ids: new SeqIds(`${name}-`), jobs, pollEveryMs: 0 }) };
    };
    const first = make('j1');
    const t0 = performance.now();
    const id = (await first.service.createBatch({ tenantId: 'acme' }, JSON.stringify({
      input_file_id: (await first.service.uploadFile('acme', { purpose: 'batch', filename: 'l.jsonl', content: input.replaceAll('small-a', 'nova-lite') })).id,
      endpoint: '/v1/chat/completions', completion_window: '24h',
    }))).id as string;
    const submitMs = performance.now() - t0;
    await first.service.runDue(); // InProgress
    const settleFrom = performance.now();
    const callsBefore = lane.dynamoCalls?.() ?? 0;
    let stoppedAfter: number | undefined;
    let p = first;
    if (stopAt !== undefined) {
      const settling = first.service.runDue();
      while (records.records.length < stopAt) await new Promise((r) => setImmediate(r));
      await first.service.stop();
      await settling;
      stoppedAfter = records.records.length;
      p = make('j2');
    }
    await p.service.runDue();
    const ms = performance.now() - t0;
    const settleMs = performance.now() - settleFrom;
    const dynamoCallsPerLine = lane.dynamoCalls ? (lane.dynamoCalls() - callsBefore) / LINES : undefined;
    const b = await p.service.getBatch('acme', id);
    const mine = records.records.filter((r) => r.batch_id === id);
    const window = await dayWindow(p.gateway);
    const out = {
      status: b.status, request_counts: b.request_counts, submit_ms: Math.round(submitMs), total_ms: Math.round(ms), ...(stoppedAfter !== undefined ? { settled_before_stop: stoppedAfter } : {}),
      records: mine.length, distinct_custom_ids: new Set(mine.map((r) => r.batch_custom_id)).size,
      all_at_batch_price: mine.every((r) => r.cost_micros === 7 && r.api === 'batch' && !r.usage_flags.includes('batch_simulated')),
      reserved_usd_after: window.reserved_usd, spend_usd: window.spend_usd, records_usd: mine.reduce((s, r) => s + r.cost_micros, 0) / 1e6,
      job_api_calls: scripted.bedrock.calls().length, s3_calls: scripted.s3.calls().length,
      settle_ms: Math.round(settleMs), settled_lines_per_s: Math.round(LINES / (settleMs / 1000)),
      ...(dynamoCallsPerLine !== undefined ? { dynamodb_calls_per_line: Math.round(dynamoCallsPerLine * 100) / 100 } : {}),
    };
    if (out.records !== LINES || out.distinct_custom_ids !== LINES || !out.all_at_batch_price || out.reserved_usd_after !== 0 || Math.abs(out.spend_usd - out.records_usd) > 1e-9) {
      throw new Error(`bedrock jobs: ${JSON.stringify(out)}`);
    }
    return out;
  } finally {
    scripted.restore();
  }
}

/**
 * The lane as the Lambda runs it: the quota table and the lane's table on dynalite (AwsBatchStore, results one item
 * per line), S3 and the job API scripted at the wire. How fast one poller run settles a job's lines, and how many
 * DynamoDB calls a line costs. `BATCH_ONLY=lambda` runs this alone and adds it to bench/results/batch.json.
 */
async function lambdaLane(): Promise<Record<string, unknown>> {
  const dynamo = new LocalDynamo();
  await dynamo.start();
  let calls = 0;
  dynamo.client.middlewareStack.add((next) => async (args) => {
    calls++;
    return next(args);
  }, { step: 'initialize', name: 'benchCount' });
  try {
    await ensureQuotaTable(dynamo.client, 'lane-quota');
    await ensureBatchTable(dynamo.client, 'lane-batches');
    const stores = (): LaneStores => ({
      quota: new DynamoDbQuotaStore(dynamo.client, 'lane-quota'),
      store: new AwsBatchStore({ dynamo: dynamo.client, table: 'lane-batches', bucket: 'lane', retentionDays: 30, s3: new S3Client({ region: 'us-east-1' }), now: () => START_MS }),
      dynamoCalls: () => calls,
    });
    return { completed: await bedrockJobs(undefined, stores) };
  } finally {
    await dynamo.stop();
  }
}

async function main(): Promise<void> {
  if (process.env.BATCH_ONLY === 'lambda') {
    const path = join(__dirname, 'results', 'batch.json');
    const prior = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const lane = await lambdaLane();
    writeFileSync(path, `${JSON.stringify({ ...prior, lambda_lane: { ...lane, date: new Date().toISOString() } }, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(lane, null, 2)}\nadded to bench/results/batch.json\n`);
    return;
  }
  const results: Record<string, unknown> = {
    lines: LINES,
    line_cost_micros: LINE_MICROS,
    memory: {
      completed: await completed('memory', new MemoryQuotaStore(), new MemoryBatchStore()),
      cancelled: await cancelled(new MemoryQuotaStore(), new MemoryBatchStore()),
      killed: await killed('memory', new MemoryQuotaStore(), new MemoryBatchStore(), 3_600_000),
      refused: await refused(),
    },
    bedrock_jobs: {
      completed: await bedrockJobs(),
      stopped_and_resumed: await bedrockJobs(Math.floor(LINES / 2)),
    },
  };
  process.stdout.write(`${JSON.stringify(results.bedrock_jobs, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results.memory, null, 2)}\n`);
  const dynamo = new LocalDynamo();
  await dynamo.start();
  try {
    const table = async (name: string) => {
      await ensureQuotaTable(dynamo.client, name);
      return new DynamoDbQuotaStore(dynamo.client, name);
    };
    const dir = () => new DirectoryBatchStore(mkdtempSync(join(tmpdir(), 'llm-finops-bench-batch-')));
    results.dynamodb = {
      completed: await completed('dynamodb', await table('batch-completed'), dir()),
      killed: await killed('dynamodb', await table('batch-killed'), dir(), 3_600_000),
    };
  } finally {
    await dynamo.stop();
  }
  results.lambda_lane = await lambdaLane();
  const out = { ...results, machine: { cpus: cpus().length, node: process.version }, date: new Date().toISOString() };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'batch.json'), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results.dynamodb, null, 2)}\nwritten to bench/results/batch.json\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
