import {
  GetItemCommand,
  PutItemCommand,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CACHE_TABLE } from '../contract';
import { ensureTable } from './dynamodb-tables';
import type { CachedCompletion, ExactCache } from '../core/ports';
import { tenantOfExactKey } from '../core/cache/keys';

/** DynamoDB's item limit is 400 KB; the answer is stored as one string attribute beside the key and expiry. */
export const MAX_ITEM_VALUE_BYTES = 390_000;

/**
 * The exact tier on DynamoDB, shared by every router Lambda instance. Expiry is checked on read, since TTL deletion
 * runs late (typically within days); TTL only reclaims the storage. Keys already carry the tenant
 * (`exact:<tenant>:<sha256>`), and a read checks the stored tenant again before serving.
 */
export class DynamoDbExactCache implements ExactCache {
  constructor(private readonly client: DynamoDBClient, private readonly tableName: string, private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<CachedCompletion | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { [CACHE_TABLE.partitionKey]: { S: key } } }));
    const item = out.Item;
    if (!item) return undefined;
    const expires = Number(item[CACHE_TABLE.ttlAttribute]?.N ?? 0) * 1000;
    if (expires <= this.now()) return undefined;
    if (item.tenant?.S !== tenantOfExactKey(key)) return undefined;
    return JSON.parse(item.value?.S ?? 'null') ?? undefined;
  }

  async set(key: string, value: CachedCompletion, ttlMs: number): Promise<void> {
    const body = JSON.stringify(value);
    if (Buffer.byteLength(body) > MAX_ITEM_VALUE_BYTES) return;
    await this.client.send(new PutItemCommand({
      TableName: this.tableName,
      Item: {
        [CACHE_TABLE.partitionKey]: { S: key },
        tenant: { S: tenantOfExactKey(key) },
        value: { S: body },
        [CACHE_TABLE.ttlAttribute]: { N: String(Math.ceil((this.now() + ttlMs) / 1000)) },
      },
    }));
  }
}


/** Creates the table with its TTL attribute when missing (the local gateway and tests; CDK creates it in AWS). */
export async function ensureCacheTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const created = await ensureTable(client, {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: CACHE_TABLE.partitionKey, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: CACHE_TABLE.partitionKey, KeyType: 'HASH' }],
  });
  if (!created) return;
  try {
    await client.send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: CACHE_TABLE.ttlAttribute, Enabled: true } }));
  } catch (err) {
    // dynalite and some emulators lack TTL; reads check expiry themselves, TTL only reclaims storage.
    if ((err as { name?: string })?.name !== 'UnknownOperationException') throw err;
  }
}
