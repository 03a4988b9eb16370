import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../../lambda/adapters/dynamodb-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import { Gateway } from '../../lambda/core/pipeline';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../support/fakes';
import { LocalDynamo } from '../support/dynalite';
import { FaultProxy, type Fault } from '../support/fault-proxy';
import { testConfig } from '../support/config';

type PolicyInput = NonNullable<NonNullable<GatewayConfigInput['quota']>['policies']>[number];

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
  async function scenario(mode: Fault | 'crash', k: number, dailyUsd: number, client: () => DynamoDBClient = () => proxied, policies: PolicyInput[] = []) {
    const name = `faults-${++table}`;
    await ensureQuotaTable(dynamo.client, name);
    const clock = new FakeClock();
    const provider = new ScriptedProvider().script('up-small-a', { ok: 'answer', usage: usage(1000, 500) });
    const records = new MemoryUsageSink();
    const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
      tenants: [{ id: 'acme', team: 'research', apiKeys: [], limits: { dailyUsd } }],
      quota: { policies },
      cache: { exact: { enabled: false } },
    }));
    const gateway = new Gateway({ config, providers: new Map([['up', provider]]), quota: new DynamoDbQuotaStore(client(), name), usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256 });
    proxy.reset((_op, _pk, i) => (i < 0 ? 'pass' : mode === 'crash' ? (i >= k ? 'fail' : 'pass') : i === k ? mode : 'pass'));
    // An end user, a session and an API key, for the policies counted per each.
    const text = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: 'q' }], max_tokens: 500, user: 'dev-1' });
    const result = await gateway.chat({ tenantId: 'acme', apiKeyId: 'aaaa000000000001', body: text, bodyBytes: text.length, header: (n) => (n === 'x-llm-session-id' ? 'agent-1' : undefined) });
    const calls = [...proxy.calls];
    proxy.reset();
    const clean = new DynamoDbQuotaStore(dynamo.client, name);
    await clean.sweepExpired(clock.now() + 86_400_000);
    const items = (await dynamo.client.send(new ScanCommand({ TableName: name }))).Items ?? [];
    const counters = items.filter((it) => it.pk.S!.startsWith('c#'));
    return { result, record: records.records[0], calls, items, counters };
  }

  /**
   * Writes of a clean request: reservation put, 5 counter raises (the tenant's day and month USD and tokens, and the
   * forecast's hour counter), actuals update, 5 counter settles, reservation delete.
   */
  const WRITES = 13;

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

  /** Every new scope and window: a session's total requests, an end user's hour, an API key's TPM, a team's custom period. */
  const POLICIES: PolicyInput[] = [
    { id: 'session-cap', per: 'session', limits: [{ window: 'total', requests: 10 }] },
    { id: 'dev-hour', per: 'endUser', limits: [{ window: 'hour', usd: 1 }] },
    { id: 'key-tpm', per: 'apiKey', limits: [{ window: 'minute', tokens: 100_000 }] },
    { id: 'team-fortnight', per: 'team', limits: [{ window: { periodSeconds: 1_209_600, anchor: '2026-11-30T00:00:00Z' }, usd: 50 }] },
  ];
  /**
   * The writes of a clean request under POLICIES: 10 counters (the tenant's 4 and its day's hour counter, the 4
   * policies' and the team period's hour counter) raised and settled, and the reservation item's put, update and delete.
   */
  const POLICY_WRITES = 2 * 10 + 3;

  it('counts the writes of a clean request, with and without the policies (so every write above is faulted)', async () => {
    const writes = (calls: { op: string }[]) => calls.filter((c) => ['PutItem', 'UpdateItem', 'DeleteItem'].includes(c.op)).length;
    const plain = await scenario('fail', 1_000, 10);
    expect([plain.result.status, writes(plain.calls)]).toEqual([200, WRITES]);
    const governed = await scenario('fail', 1_000, 10, () => proxied, POLICIES);
    expect([governed.result.status, writes(governed.calls)]).toEqual([200, POLICY_WRITES]);
  });

  it.each((['fail', 'drop', 'crash'] as const).flatMap((mode) => Array.from({ length: POLICY_WRITES }, (_, k) => [mode, k] as const)))(
    'holds for policies on every scope and window: nothing reserved, each policy counter exactly what settled: %s at write %i',
    async (mode, k) => {
      const { result, record, calls, items, counters } = await scenario(mode, k, 10, () => proxied, POLICIES);
      for (const c of counters) expect({ pk: c.pk.S, reserved: Number(c.reserved?.N ?? 0), holds: c.holds?.SS ?? [] }).toEqual({ pk: c.pk.S, reserved: 0, holds: [] });
      expect(items.filter((it) => it.pk.S!.startsWith('r#'))).toEqual([]);
      const actualsWrite = calls.find((c) => c.op === 'UpdateItem' && c.pk?.startsWith('r#'));
      const reached = mode === 'crash' ? actualsWrite !== undefined && actualsWrite.fault !== 'fail' : !['settle_failed', 'store_unavailable'].includes(record.quota_action);
      const settled = result.status === 200 && reached;
      // 1,000 + 500 tokens; 2,000 micro-dollars; one request.
      const expected: Record<string, number> = { 'session-cap': 1, 'dev-hour': 2000, 'key-tpm': 1500, 'team-fortnight': 2000 };
      for (const [id, amount] of Object.entries(expected)) {
        // The team's period counter, not its hour counter (the forecast's).
        const c = counters.find((x) => x.pk.S!.startsWith(`c#policy#${id}#`) && (id !== 'team-fortnight' || x.pk.S!.includes('#1209600s@')));
        expect({ id, committed: Number(c?.committed?.N ?? 0) }).toEqual({ id, committed: settled ? amount : 0 });
      }
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
