import { DynamoDbQuotaStore, ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { LocalDynamo } from '../../support/dynalite';
import { quotaStoreContract } from './quota-store.contract';

const dynamo = new LocalDynamo();
let tables = 0;

beforeAll(() => dynamo.start());
afterAll(() => dynamo.stop());

quotaStoreContract('dynamodb (dynalite)', async () => {
  const name = `quota-${++tables}`;
  await ensureQuotaTable(dynamo.client, name);
  return new DynamoDbQuotaStore(dynamo.client, name);
});

describe('ensureQuotaTable', () => {
  it('is idempotent', async () => {
    await ensureQuotaTable(dynamo.client, 'twice');
    await expect(ensureQuotaTable(dynamo.client, 'twice')).resolves.toBeUndefined();
  });
});

describe('DynamoDbQuotaStore: a settle racing the sweep', () => {
  it('loses nothing when the answer outlives its reservation and settles while the sweep is releasing it', async () => {
    await ensureQuotaTable(dynamo.client, 'race-sweep');
    // The sweep is held after it has released the counters and before it deletes the reservation item: the window in
    // which a settle used to write its actual amounts onto an item being released as zero, and lose them.
    let hold: (() => void) | undefined;
    let held: (() => void) | undefined;
    const reachedDelete = new Promise<void>((r) => (held = r));
    const client = new Proxy(dynamo.client, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver);
        return async (command: { constructor: { name: string }; input: { ConditionExpression?: string } }) => {
          if (command.constructor.name === 'DeleteItemCommand' && command.input.ConditionExpression?.includes('expiresAt < :now')) {
            held!();
            await new Promise<void>((r) => (hold = r));
          }
          return target.send(command as never);
        };
      },
    });
    const store = new DynamoDbQuotaStore(client, 'race-sweep');
    const counter = { key: 'tenant#acme#usd#2026-12-06', amount: 100, limit: 1_000, expiresAtMs: Date.now() + 86_400_000 };
    expect((await store.reserve('late-1', [counter], Date.now() - 1)).ok).toBe(true);
    const sweep = store.sweepExpired(Date.now());
    await reachedDelete;
    // The answer arrives now: 60 actual against 100 reserved.
    await store.settle('late-1', [{ key: counter.key, reserved: 100, actual: 60 }]);
    hold!();
    await sweep;
    expect((await store.read([counter.key])).get(counter.key)).toEqual({ committed: 60, reserved: 0 });
    // Settling again (a retry) adds nothing more.
    await store.settle('late-1', [{ key: counter.key, reserved: 100, actual: 60 }]);
    expect((await store.read([counter.key])).get(counter.key)).toEqual({ committed: 60, reserved: 0 });
  });
});
