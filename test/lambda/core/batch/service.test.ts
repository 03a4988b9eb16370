import { MemoryBatchStore } from '../../../../lambda/adapters/memory-batch-store';
import { MemoryExactCache } from '../../../../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { BatchService } from '../../../../lambda/core/batch/service';
import type { BatchStore } from '../../../../lambda/core/batch/store';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import { GatewayError } from '../../../../lambda/core/errors';
import type { ChatProvider, ProviderCall, ProviderResponse } from '../../../../lambda/core/ports';
import { Gateway } from '../../../../lambda/core/pipeline';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';
import { testConfig } from '../../../support/config';

/** Holds the n-th call (1-based) until released: a line in flight when a batch is cancelled, or the process killed. */
class GatedProvider implements ChatProvider {
  private n = 0;
  private release: (() => void) | undefined;
  readonly reached: Promise<void>;
  private reach!: () => void;
  constructor(private readonly inner: ScriptedProvider, private readonly gateAt: number) {
    this.reached = new Promise((ok) => (this.reach = ok));
  }
  async complete(call: ProviderCall): Promise<ProviderResponse> {
    if (++this.n === this.gateAt) {
      this.reach();
      await new Promise<void>((ok) => (this.release = ok));
    }
    return this.inner.complete(call);
  }
  stream(call: ProviderCall): ReturnType<ChatProvider['stream']> {
    return this.inner.stream(call);
  }
  open(): void {
    this.release?.();
  }
}

function setup(opts: { provider?: ChatProvider; quota?: MemoryQuotaStore; store?: BatchStore; records?: MemoryUsageSink; clock?: FakeClock; holdEvery?: number; process?: string } = {}) {
  const clock = opts.clock ?? new FakeClock();
  const scripted = new ScriptedProvider();
  const records = opts.records ?? new MemoryUsageSink();
  const quota = opts.quota ?? new MemoryQuotaStore();
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1'));
  const gateway = new Gateway({
    config, providers: new Map([['up', opts.provider ?? scripted]]), quota, exactCache: new MemoryExactCache(100, () => clock.now()),
    usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(`${opts.process ?? 'p1'}-req-`), sha256,
  });
  const store = opts.store ?? new MemoryBatchStore();
  const service = new BatchService({ gateway, store, clock, ids: new SeqIds(`${opts.process ?? 'p1'}-`), holdEvery: opts.holdEvery ?? 2 });
  return { gateway, service, store, scripted, records, quota, clock };
}

const line = (id: string, model = 'small-a', extra: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: { model, max_tokens: 100, messages: [{ role: 'user', content: `question ${id}` }], ...extra } });
const jsonl = (n: number, model = 'small-a') => Array.from({ length: n }, (_, i) => line(`q${i + 1}`, model)).join('\n') + '\n';

async function submit(service: BatchService, tenantId: string, text: string, feature?: string) {
  const file = await service.uploadFile(tenantId, { purpose: 'batch', filename: 'in.jsonl', content: text });
  return service.createBatch({ tenantId, feature }, JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
}

async function dayWindow(gateway: Gateway, tenant: string): Promise<{ spend_usd: number; reserved_usd: number }> {
  const body = (await gateway.usage(tenant)).body as { windows: { window: string; spend_usd: number; reserved_usd: number }[] };
  return body.windows.find((w) => w.window === 'day')!;
}

/**
 * small-a lists $1 / $2 per 1M tokens, so its batch price is $0.50 / $1. A line's hold: its input estimate at $0.50/M
 * plus its 100-token cap at $1/M; a line answered with usage(1000, 50) costs 1000 x 0.5 + 50 x 1 = 550 micro-dollars.
 */
describe('BatchService (the local simulator)', () => {
  it('holds the whole batch at submit, runs every line once at the batch price, and releases the hold when it ends', async () => {
    const { service, gateway, scripted, records } = setup();
    for (let i = 0; i < 5; i++) scripted.script('up-small-a', { ok: `a${i}`, usage: usage(1000, 50) });
    const batch = await submit(service, 'acme', jsonl(5), 'evals');
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions', request_counts: { total: 5, completed: 0, failed: 0 } });
    // Held before anything ran: five lines' estimates (each at least the 100-token cap, $0.0001).
    const held = await dayWindow(gateway, 'acme');
    expect(held.reserved_usd).toBeGreaterThanOrEqual(0.0005);
    expect(held.spend_usd).toBe(0);
    await service.runDue();
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 5, completed: 5, failed: 0 }, error_file_id: null });
    expect(records.records.map((r) => [r.api, r.batch_id, r.batch_custom_id, r.cost_micros, r.feature])).toEqual(
      [1, 2, 3, 4, 5].map((i) => ['batch', batch.id, `q${i}`, 550, 'evals']),
    );
    // Standard would be 1000 x 1 + 50 x 2 = 1,100: the batch saved 550 on each line.
    expect(records.records.every((r) => r.savings?.batch === 550)).toBe(true);
    // The simulator called the upstream live: the record says its price is the batch API's, not what the upstream billed.
    expect(records.records.every((r) => r.usage_flags.includes('batch_simulated'))).toBe(true);
    const after = await dayWindow(gateway, 'acme');
    expect(after).toMatchObject({ spend_usd: 0.00275, reserved_usd: 0 });
    const out = (await service.fileContent('acme', done.output_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(out.map((o) => [o.custom_id, o.response.status_code, o.response.body.choices[0].message.content])).toEqual([1, 2, 3, 4, 5].map((i) => [`q${i}`, 200, `a${i - 1}`]));
    expect(out[0].id).toBe(`${batch.id}_req_1`);
  });

  it('refuses at submit a batch whose hold breaks a quota, naming the scope; nothing stored, nothing reserved', async () => {
    const { service, gateway, store } = setup();
    // initech may spend $0.0001 a day: one line's 100-token cap alone.
    const err = await submit(service, 'initech', jsonl(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(429);
    expect((err as GatewayError).message).toMatch(/Quota exceeded for 'initech' \(day .*\): .*this batch of 3 requests may need up to \$/);
    expect(await store.listBatches('initech')).toEqual([]);
    expect((await dayWindow(gateway, 'initech')).reserved_usd).toBe(0);
  });

  it('fails a batch whose file has bad lines, every problem by line, nothing reserved and nothing run', async () => {
    const { service, gateway, scripted } = setup();
    const text = [line('a'), line('a'), line('b', 'no-such-model'), '{not json', line('c', 'small-a', { max_tokens: 5000 }), line('d', 'big')].join('\n');
    // globex may use the small tier only: 'big' is refused like a live request.
    const batch = await submit(service, 'globex', text);
    expect(batch.status).toBe('failed');
    const errors = (batch.errors as { data: { code: string; line: number }[] }).data;
    expect(errors.map((e) => [e.line, e.code])).toEqual([[2, 'duplicate_custom_id'], [4, 'invalid_json_line']]);
    // The structural problems first; once the file parses, the lines the live path would refuse.
    const second = await submit(service, 'globex', [line('a'), line('b', 'no-such-model'), line('c', 'small-a', { max_tokens: 5000 }), line('d', 'big')].join('\n'));
    expect((second.errors as { data: { code: string; line: number; message: string }[] }).data.map((e) => [e.line, e.code])).toEqual([
      [2, 'model_not_found'], [3, 'out_of_range'], [4, 'model_not_allowed'],
    ]);
    expect((await dayWindow(gateway, 'globex')).reserved_usd).toBe(0);
    await service.runDue();
    expect(scripted.calls).toHaveLength(0);
  });

  it('refuses a create with a clear error for a missing file, a wrong endpoint or window, and an empty file', async () => {
    const { service } = setup();
    const create = (body: unknown) => service.createBatch({ tenantId: 'acme' }, JSON.stringify(body)).catch((e: GatewayError) => [e.status, e.param]);
    expect(await create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' })).toEqual([404, 'file_id']);
    const f = await service.uploadFile('acme', { purpose: 'batch', filename: 'x.jsonl', content: jsonl(1) });
    expect(await create({ input_file_id: f.id, endpoint: '/v1/completions', completion_window: '24h' })).toEqual([400, 'endpoint']);
    expect(await create({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '1h' })).toEqual([400, 'completion_window']);
    // Another tenant's file is a missing file.
    expect(await service.createBatch({ tenantId: 'globex' }, JSON.stringify({ input_file_id: f.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).catch((e: GatewayError) => e.status)).toBe(404);
    await expect(service.uploadFile('acme', { purpose: 'batch', filename: 'e.jsonl', content: '' })).rejects.toMatchObject({ status: 400, code: 'empty_file' });
    await expect(service.uploadFile('acme', { purpose: 'fine-tune', filename: 'e.jsonl', content: 'x' })).rejects.toMatchObject({ status: 400, param: 'purpose' });
  });

  it('cancels a running batch before its next line: the lines run are kept and recorded, the rest go to the error file, the hold released', async () => {
    const scripted = new ScriptedProvider();
    const gated = new GatedProvider(scripted, 3);
    const { service, gateway, records } = setup({ provider: gated });
    const batch = await submit(service, 'acme', jsonl(6));
    const running = service.runDue();
    await gated.reached;
    const cancelling = await service.cancelBatch('acme', batch.id as string);
    expect(cancelling.status).toBe('cancelling');
    gated.open();
    await running;
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'cancelled', request_counts: { total: 6, completed: 3, failed: 3 } });
    expect(records.records).toHaveLength(3);
    const errors = (await service.fileContent('acme', done.error_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.map((e) => [e.custom_id, e.error.code])).toEqual([['q4', 'batch_cancelled'], ['q5', 'batch_cancelled'], ['q6', 'batch_cancelled']]);
    expect((await dayWindow(gateway, 'acme')).reserved_usd).toBe(0);
  });

  it('resumes after the process is killed mid-line: no line recorded twice, and nothing reserved once the dead line\'s reservation is swept', async () => {
    const clock = new FakeClock();
    const quota = new MemoryQuotaStore();
    const store = new MemoryBatchStore();
    const records = new MemoryUsageSink();
    const scripted = new ScriptedProvider();
    // The first process dies inside its 4th call (the gate never opens): lines 1-3 done, line 4 reserved, not recorded.
    const gated = new GatedProvider(scripted, 4);
    const first = setup({ provider: gated, quota, store, records, clock });
    const batch = await submit(first.service, 'acme', jsonl(7));
    void first.service.runDue();
    await gated.reached;
    expect(records.records).toHaveLength(3);
    // A new process over the same stores (the quota table and the batch directory outlive the process).
    const second = setup({ provider: scripted, quota, store, records, clock, process: 'p2' });
    await second.service.runDue();
    const done = await second.service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 7, completed: 7, failed: 0 } });
    expect(records.records.map((r) => r.batch_custom_id)).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7']);
    // The dead process's line 4 still holds its reservation until it expires; the sweep frees it.
    expect((await dayWindow(second.gateway, 'acme')).reserved_usd).toBeGreaterThan(0);
    clock.advance(3_600_000);
    await quota.sweepExpired(clock.now());
    expect((await dayWindow(second.gateway, 'acme')).reserved_usd).toBe(0);
    expect(quota.openReservations).toBe(0);
  });

  it('lists batches newest first with after/limit paging, each tenant its own', async () => {
    const { service, clock } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await submit(service, 'acme', jsonl(1))).id as string);
      clock.advance(1000);
    }
    await submit(service, 'globex', jsonl(1));
    const page = await service.listBatches('acme', { limit: '2' });
    expect(page).toMatchObject({ object: 'list', first_id: ids[2], last_id: ids[1], has_more: true });
    const next = await service.listBatches('acme', { after: ids[1], limit: '2' });
    expect((next.data as { id: string }[]).map((b) => b.id)).toEqual([ids[0]]);
    expect(next.has_more).toBe(false);
    await expect(service.listBatches('acme', { limit: '0' })).rejects.toMatchObject({ status: 400, param: 'limit' });
  });
});

describe('BatchService: ends other than completion', () => {
  it('expires a batch whose window passed before its lines ran: the rest go to the error file as batch_expired, the hold released', async () => {
    const { service, gateway, clock, records } = setup();
    const batch = await submit(service, 'acme', jsonl(3));
    clock.advance(25 * 3600 * 1000);
    await service.runDue();
    const done = await service.getBatch('acme', batch.id as string);
    expect(done).toMatchObject({ status: 'expired', request_counts: { total: 3, completed: 0, failed: 3 }, output_file_id: null });
    expect(done.expired_at).toBeGreaterThan(done.created_at as number);
    const errors = (await service.fileContent('acme', done.error_file_id as string)).trim().split('\n').map((l) => JSON.parse(l));
    expect(errors.map((e) => e.error.code)).toEqual(['batch_expired', 'batch_expired', 'batch_expired']);
    expect(records.records).toHaveLength(0);
    expect((await dayWindow(gateway, 'acme')).reserved_usd).toBe(0);
  });

  it('cancels a batch that has not started at once, and refuses to cancel one that has ended', async () => {
    const { service, gateway } = setup();
    const batch = await submit(service, 'acme', jsonl(2));
    const cancelled = await service.cancelBatch('acme', batch.id as string);
    expect(cancelled).toMatchObject({ status: 'cancelled', request_counts: { total: 2, completed: 0, failed: 2 } });
    expect((await dayWindow(gateway, 'acme')).reserved_usd).toBe(0);
    // Cancelling again answers the batch as it is; another tenant's batch does not exist for the caller.
    expect((await service.cancelBatch('acme', batch.id as string)).status).toBe('cancelled');
    await expect(service.cancelBatch('globex', batch.id as string)).rejects.toMatchObject({ status: 404 });
    const other = await submit(service, 'acme', jsonl(1));
    await service.runDue();
    await expect(service.cancelBatch('acme', other.id as string)).rejects.toMatchObject({ status: 409, code: 'batch_not_cancellable' });
  });

  it('will not delete the input file of a batch still running', async () => {
    const { service } = setup();
    const file = await service.uploadFile('acme', { purpose: 'batch', filename: 'in.jsonl', content: jsonl(1) });
    await service.createBatch({ tenantId: 'acme' }, JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }));
    await expect(service.deleteFile('acme', file.id as string)).rejects.toMatchObject({ status: 409, code: 'file_in_use' });
    await service.runDue();
    expect(await service.deleteFile('acme', file.id as string)).toEqual({ id: file.id, object: 'file', deleted: true });
    await expect(service.getFile('acme', file.id as string)).rejects.toMatchObject({ status: 404 });
  });
});
