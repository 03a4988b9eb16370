import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../../lambda/adapters/dynamodb-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../lambda/core/config/resolve';
import { Gateway } from '../../lambda/core/pipeline';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../support/fakes';
import { LocalDynamo } from '../support/dynalite';
import { FaultProxy, type Fault } from '../support/fault-proxy';
import { testConfig } from '../support/config';

/**
 * Fault injection for the DynamoDB quota store: a proxy in front of dynalite fails, or applies and then loses the
 * answer of, a chosen write of one request, or fails every write from a point on (the process died there). After a
 * sweep, every counter must hold nothing in reservation and exactly the cost of the requests whose settlement
 * reached the store: the records say which (quota_action settle_failed: it did not; settle_deferred: it did, and the
 * sweep applied it).
 */
describe('DynamoDB quota store under injected faults (dynalite behind a fault proxy)', () => {
  const dynamo = new LocalDynamo();
  let proxy: FaultProxy;
  let proxied: DynamoDBClient;
  let table = 0;

  beforeAll(async () => {
    await dynamo.start();
    proxy = new FaultProxy(dynamo.endpoint);
    await proxy.start();
    // No SDK retries: each injected fault reaches the store's code as it would after the SDK gave up.
    proxied = new DynamoDBClient({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  });
  afterAll(async () => {
    proxied.destroy();
    await proxy.stop();
    await dynamo.stop();
  });

  /** One request through a gateway on the proxied store, with `fault` at write `k`; then a sweep on a clean client. */
  async function scenario(mode: Fault | 'crash', k: number, dailyUsd: number, client: () => DynamoDBClient = () => proxied) {
    const name = `faults-${++table}`;
    await ensureQuotaTable(dynamo.client, name);
    const clock = new FakeClock();
    const provider = new ScriptedProvider().script('up-small-a', { ok: 'answer', usage: usage(1000, 500) });
    const records = new MemoryUsageSink();
    const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
      tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd } }],
      cache: { exact: { enabled: false } },
    }));
    const gateway = new Gateway({ config, providers: new Map([['up', provider]]), quota: new DynamoDbQuotaStore(client(), name), usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256 });
    proxy.reset((_op, _pk, i) => (i < 0 ? 'pass' : mode === 'crash' ? (i >= k ? 'fail' : 'pass') : i === k ? mode : 'pass'));
    const text = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: 'q' }], max_tokens: 500 });
    const result = await gateway.chat({ tenantId: 'acme', body: text, bodyBytes: text.length });
    const calls = [...proxy.calls];
    proxy.reset();
    const clean = new DynamoDbQuotaStore(dynamo.client, name);
    await clean.sweepExpired(clock.now() + 86_400_000);
    const items = (await dynamo.client.send(new ScanCommand({ TableName: name }))).Items ?? [];
    const counters = items.filter((it) => it.pk.S!.startsWith('c#'));
    return { result, record: records.records[0], calls, items, counters };
  }

  /** Writes of a clean request: reservation put, 4 counter raises, actuals update, 4 counter settles, reservation delete. */
  const WRITES = 11;

  it.each((['fail', 'drop', 'crash'] as const).flatMap((mode) => Array.from({ length: WRITES }, (_, k) => [mode, k] as const)))(
    'leaves nothing reserved and commits exactly what settled: %s at write %i',
    async (mode, k) => {
      const { result, record, calls, items, counters } = await scenario(mode, k, 10);
      for (const c of counters) expect({ pk: c.pk.S, reserved: Number(c.reserved?.N ?? 0), holds: c.holds?.SS ?? [] }).toEqual({ pk: c.pk.S, reserved: 0, holds: [] });
      expect(items.filter((it) => it.pk.S!.startsWith('r#'))).toEqual([]);
      // A reserve that failed before its first raise leaves no counter at all.
      const usdDay = counters.find((c) => /^c#tenant#acme#usd#\d{4}-\d{2}-\d{2}$/.test(c.pk.S!));
      // 1,000 x $1/M + 500 x $2/M = 2,000 micro-dollars, if its settlement reached the store.
      const actualsWrite = calls.find((c) => c.op === 'UpdateItem' && c.pk?.startsWith('r#'));
      const reached = mode === 'crash' ? actualsWrite !== undefined && actualsWrite.fault !== 'fail' : !['settle_failed', 'store_unavailable'].includes(record.quota_action);
      const expected = result.status === 200 && reached ? 2000 : 0;
      expect(Number(usdDay?.committed?.N ?? 0)).toBe(expected);
      if (mode !== 'crash' && result.status === 200) expect(record.cost_micros).toBe(2000);
    },
  );

  it.each((['fail', 'drop', 'crash'] as const).flatMap((mode) => Array.from({ length: 7 }, (_, k) => [mode, k] as const)))(
    'rolls a refused reservation back to zero: %s at write %i',
    async (mode, k) => {
      // A $0.001 limit refuses the ~$0.001 + input estimate reservation on the limited counter; the others roll back.
      const { result, counters, items } = await scenario(mode, k, 0.001);
      expect([429, 503]).toContain(result.status);
      for (const c of counters) expect({ pk: c.pk.S, committed: Number(c.committed?.N ?? 0), reserved: Number(c.reserved?.N ?? 0) }).toEqual({ pk: c.pk.S, committed: 0, reserved: 0 });
      expect(items.filter((it) => it.pk.S!.startsWith('r#'))).toEqual([]);
    },
  );

  it.each(Array.from({ length: WRITES }, (_, k) => k))('applies each write once when the SDK retries a write whose answer was lost: write %i', async (k) => {
    const retrying = new DynamoDBClient({ endpoint: proxy.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3 });
    try {
      const { result, record, counters } = await scenario('drop', k, 10, () => retrying);
      expect(result.status).toBe(200);
      expect(record.quota_action).toBe('none');
      const usdDay = counters.find((c) => /^c#tenant#acme#usd#\d{4}-\d{2}-\d{2}$/.test(c.pk.S!))!;
      // A retried raise or settle is recognised by its tag, never applied twice.
      expect({ committed: Number(usdDay.committed.N), reserved: Number(usdDay.reserved.N) }).toEqual({ committed: 2000, reserved: 0 });
    } finally {
      retrying.destroy();
    }
  });
});
