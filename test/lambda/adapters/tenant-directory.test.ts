import { DynamoDbQuotaStore, ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { DynamoDbTenantDirectory } from '../../../lambda/adapters/dynamodb-tenant-directory';
import { MemoryTenantDirectory } from '../../../lambda/adapters/memory-tenant-directory';
import { LocalDynamo } from '../../support/dynalite';
import { tenantDirectoryContract } from './tenant-directory.contract';

const dynamo = new LocalDynamo();
let tables = 0;
beforeAll(() => dynamo.start());
afterAll(() => dynamo.stop());

tenantDirectoryContract('memory', async () => new MemoryTenantDirectory());
tenantDirectoryContract('dynamodb (dynalite)', async () => {
  const name = `tenants-${++tables}`;
  await ensureQuotaTable(dynamo.client, name);
  return new DynamoDbTenantDirectory(dynamo.client, name);
});

describe('DynamoDbTenantDirectory', () => {
  it('shares the quota table without touching its counters or controls', async () => {
    await ensureQuotaTable(dynamo.client, 'shared');
    const quota = new DynamoDbQuotaStore(dynamo.client, 'shared');
    const dir = new DynamoDbTenantDirectory(dynamo.client, 'shared');
    await quota.putLimits({ tenant: 'acme' }, { dailyUsd: 5 });
    await dir.createTenant({ id: 'acme', team: null, allowedTiers: null, allowedModels: null, keyHashes: ['h'], createdAt: 'now' });
    expect((await quota.getControls('acme', 'default')).tenantLimits).toEqual({ dailyUsd: 5 });
    expect((await dir.listTenants()).map((t) => t.id)).toEqual(['acme']);
  });
});
