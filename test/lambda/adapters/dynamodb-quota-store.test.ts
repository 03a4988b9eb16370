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
