import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDbExactCache, ensureCacheTable } from '../../../lambda/adapters/dynamodb-exact-cache';
import { MemoryExactCache } from '../../../lambda/adapters/memory-exact-cache';
import { LocalDynamo } from '../../support/dynalite';
import { cachedAnswer, exactCacheContract } from './exact-cache.contract';

const dynamo = new LocalDynamo();
let tables = 0;

beforeAll(() => dynamo.start());
afterAll(() => dynamo.stop());

exactCacheContract('memory', async (now) => new MemoryExactCache(100, now));

exactCacheContract('dynamodb (dynalite)', async (now) => {
  const name = `cache-${++tables}`;
  await ensureCacheTable(dynamo.client, name);
  return new DynamoDbExactCache(dynamo.client, name, now);
});

describe('DynamoDbExactCache', () => {
  it('stores the TTL attribute in epoch seconds and the tenant beside the answer', async () => {
    await ensureCacheTable(dynamo.client, 'cache-shape');
    const cache = new DynamoDbExactCache(dynamo.client, 'cache-shape', () => 1_800_000_000_000);
    await cache.set('exact:te:nant:0f', cachedAnswer('x'), 90_000);
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: 'cache-shape', Key: { pk: { S: 'exact:te:nant:0f' } } }));
    expect(Item?.expiresAt).toEqual({ N: '1800000090' });
    expect(Item?.tenant).toEqual({ S: 'te:nant' });
  });

  it('skips an answer too large for one item instead of failing the request', async () => {
    await ensureCacheTable(dynamo.client, 'cache-big');
    const cache = new DynamoDbExactCache(dynamo.client, 'cache-big');
    await cache.set('exact:acme:big', cachedAnswer('x'.repeat(400_000)), 60_000);
    expect(await cache.get('exact:acme:big')).toBeUndefined();
  });
});

describe('MemoryExactCache', () => {
  it('evicts the least recently used entry beyond its size', async () => {
    const cache = new MemoryExactCache(2, Date.now, 2);
    await cache.set('exact:a:1', cachedAnswer('1'), 60_000);
    await cache.set('exact:a:2', cachedAnswer('2'), 60_000);
    await cache.get('exact:a:1');
    await cache.set('exact:a:3', cachedAnswer('3'), 60_000);
    expect(await cache.get('exact:a:2')).toBeUndefined();
    expect(await cache.get('exact:a:1')).toBeDefined();
  });

  it("bounds each tenant: one tenant filling the cache evicts its own entries, never another's", async () => {
    const cache = new MemoryExactCache(100, Date.now, 25);
    for (let i = 0; i < 10; i++) await cache.set(`exact:quiet:${i}`, cachedAnswer(`q${i}`), 60_000);
    for (let i = 0; i < 1000; i++) await cache.set(`exact:noisy:${i}`, cachedAnswer(`n${i}`), 60_000);
    expect(cache.sizeOf('noisy')).toBe(25);
    expect(cache.sizeOf('quiet')).toBe(10);
    for (let i = 0; i < 10; i++) expect(await cache.get(`exact:quiet:${i}`)).toBeDefined();
    expect(await cache.get('exact:noisy:999')).toBeDefined();
    expect(await cache.get('exact:noisy:0')).toBeUndefined();
  });
});
