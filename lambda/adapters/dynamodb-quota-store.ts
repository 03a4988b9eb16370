import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type {
  CounterState,
  KillSwitch,
  QuotaControls,
  QuotaCounterSpec,
  QuotaScope,
  QuotaSettlement,
  QuotaStore,
  ReserveOutcome,
  StoredLimits,
} from '../core/ports';
import { QUOTA_TABLE } from '../contract';
import { ensureTable } from './dynamodb-tables';
import { controlScopeKey } from '../core/quota/policy';

export { QUOTA_TABLE };

/** Reservations spread over this many index partitions, so their writes never make one hot partition. */
const EXPIRY_SHARDS = 16;

type Item = Record<string, AttributeValue>;

const n = (v: number): AttributeValue => ({ N: String(v) });
const s = (v: string): AttributeValue => ({ S: v });

function shardOf(id: string): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) % EXPIRY_SHARDS;
}

const isConditionFailure = (err: unknown): boolean =>
  err instanceof ConditionalCheckFailedException || (err as { name?: string })?.name === 'ConditionalCheckFailedException';

/**
 * Quota counters in one DynamoDB table, without transactions (dynalite, the test engine, has none):
 *
 * - counter `c#<key>`: `committed` (used + reserved) and `reserved`. A reservation is one conditional UpdateItem
 *   per counter, `ADD committed :a, reserved :a` if `committed <= limit - a`, all sent at once; when one refuses,
 *   the others are rolled back with the opposite ADD.
 * - reservation `r#<id>`: the amounts per counter and the expiry, written before the counters so an abandoned one
 *   can always be found; indexed by expiry (sharded) for the sweeper. Settling deletes it conditionally, so a settle
 *   and a sweep racing for the same reservation release it exactly once.
 * - alert claim `a#<key>@<threshold>`, limits `l#<scope>`, kill switch `k#<scope>`.
 *
 * Writes per request: one Put and one Delete for the reservation plus two UpdateItems per counter (four tenant
 * counters are always tracked). Counter items carry a TTL a month past their window.
 */
export class DynamoDbQuotaStore implements QuotaStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async reserve(reservationId: string, counters: readonly QuotaCounterSpec[], reservationExpiresAtMs: number): Promise<ReserveOutcome> {
    const amounts: Record<string, AttributeValue> = {};
    for (const c of counters) amounts[c.key] = n(c.amount);
    await this.client.send(new PutItemCommand({
      TableName: this.tableName,
      Item: {
        pk: s(`r#${reservationId}`),
        amounts: { M: amounts },
        expiresAt: n(reservationExpiresAtMs),
        [QUOTA_TABLE.expiryIndexPartitionKey]: s(`res#${shardOf(reservationId)}`),
        [QUOTA_TABLE.expiryIndexSortKey]: n(reservationExpiresAtMs),
      },
    }));
    const tooBig = counters.find((c) => c.limit !== undefined && c.amount > c.limit);
    if (tooBig) {
      await this.undo(reservationId, []);
      return { ok: false, key: tooBig.key, committed: (await this.readOne(tooBig.key)).committed };
    }
    // All counters at once: one round trip instead of one per counter. Any refusal rolls back the others, so the
    // outcome stays all or nothing; near a limit two racing requests may both be refused where one could have fit.
    const outcomes = await Promise.allSettled(counters.map((c) => this.raise(c)));
    const done = counters.filter((_, i) => outcomes[i].status === 'fulfilled');
    const failedAt = outcomes.findIndex((o) => o.status === 'rejected');
    if (failedAt >= 0) {
      const reason = (outcomes[failedAt] as PromiseRejectedResult).reason;
      const refusal = outcomes.findIndex((o) => o.status === 'rejected' && isConditionFailure(o.reason));
      await this.undo(reservationId, done).catch((err) => {
        if (refusal < 0) throw reason;
        throw err;
      });
      if (refusal < 0) throw reason;
      const key = counters[refusal].key;
      return { ok: false, key, committed: (await this.readOne(key)).committed };
    }
    return {
      ok: true,
      committed: new Map(counters.map((c, i) => [c.key, (outcomes[i] as PromiseFulfilledResult<number>).value])),
    };
  }

  /** One counter's conditional raise; resolves with the committed value after it. */
  private async raise(c: QuotaCounterSpec): Promise<number> {
    const out = await this.client.send(new UpdateItemCommand({
      TableName: this.tableName,
      Key: { pk: s(`c#${c.key}`) },
      UpdateExpression: 'ADD committed :a, reserved :a SET #ttl = if_not_exists(#ttl, :ttl)',
      ConditionExpression: c.limit === undefined ? undefined : 'attribute_not_exists(committed) OR committed <= :max',
      ExpressionAttributeNames: { '#ttl': QUOTA_TABLE.ttlAttribute },
      ExpressionAttributeValues: {
        ':a': n(c.amount),
        ':ttl': n(Math.ceil(c.expiresAtMs / 1000)),
        ...(c.limit === undefined ? {} : { ':max': n(c.limit - c.amount) }),
      },
      ReturnValues: 'UPDATED_NEW',
    }));
    return Number(out.Attributes?.committed?.N ?? c.amount);
  }

  async settle(reservationId: string, entries: readonly QuotaSettlement[]): Promise<ReadonlyMap<string, number>> {
    let open = true;
    try {
      await this.client.send(new DeleteItemCommand({
        TableName: this.tableName,
        Key: { pk: s(`r#${reservationId}`) },
        ConditionExpression: 'attribute_exists(pk)',
      }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Already swept as expired: its amounts were released, so only the actual amounts are added.
      open = false;
    }
    const values = await Promise.all(entries.map(async (e) => {
      const out = await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: s(`c#${e.key}`) },
        UpdateExpression: 'ADD committed :c, reserved :r',
        ExpressionAttributeValues: { ':c': n(open ? e.actual - e.reserved : e.actual), ':r': n(open ? -e.reserved : 0) },
        ReturnValues: 'UPDATED_NEW',
      }));
      return [e.key, Number(out.Attributes?.committed?.N ?? 0)] as const;
    }));
    return new Map(values);
  }

  async read(keys: readonly string[]): Promise<ReadonlyMap<string, CounterState>> {
    const items = await this.batchGet(keys.map((k) => `c#${k}`));
    return new Map(keys.map((k) => {
      const it = items.get(`c#${k}`);
      return [k, { committed: Number(it?.committed?.N ?? 0), reserved: Number(it?.reserved?.N ?? 0) }];
    }));
  }

  async sweepExpired(nowMs: number): Promise<number> {
    let released = 0;
    for (let shard = 0; shard < EXPIRY_SHARDS; shard++) {
      let start: Item | undefined;
      do {
        const page = await this.client.send(new QueryCommand({
          TableName: this.tableName,
          IndexName: QUOTA_TABLE.expiryIndex,
          KeyConditionExpression: '#p = :p AND #s < :now',
          ExpressionAttributeNames: { '#p': QUOTA_TABLE.expiryIndexPartitionKey, '#s': QUOTA_TABLE.expiryIndexSortKey },
          ExpressionAttributeValues: { ':p': s(`res#${shard}`), ':now': n(nowMs) },
          ExclusiveStartKey: start,
        }));
        for (const item of page.Items ?? []) {
          let old: Item | undefined;
          try {
            old = (await this.client.send(new DeleteItemCommand({
              TableName: this.tableName,
              Key: { pk: item.pk },
              ConditionExpression: 'attribute_exists(pk) AND expiresAt < :now',
              ExpressionAttributeValues: { ':now': n(nowMs) },
              ReturnValues: 'ALL_OLD',
            }))).Attributes;
          } catch (err) {
            if (isConditionFailure(err)) continue; // settled meanwhile
            throw err;
          }
          await Promise.all(Object.entries(old?.amounts?.M ?? {}).map(([key, amount]) => this.addBack(key, -Number(amount.N))));
          released++;
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return released;
  }

  async claimAlert(counterKey: string, threshold: number, expiresAtMs: number): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.tableName,
        Item: { pk: s(`a#${counterKey}@${threshold}`), [QUOTA_TABLE.ttlAttribute]: n(Math.ceil(expiresAtMs / 1000)) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async getControls(tenant: string, feature: string): Promise<QuotaControls> {
    const keys = {
      globalLimits: `l#global`,
      tenantLimits: `l#${controlScopeKey({ tenant })}`,
      featureLimits: `l#${controlScopeKey({ tenant, feature })}`,
      globalKillSwitch: `k#global`,
      tenantKillSwitch: `k#${controlScopeKey({ tenant })}`,
    };
    const items = await this.batchGet(Object.values(keys));
    const out: Record<string, unknown> = {};
    for (const [field, pk] of Object.entries(keys)) {
      const json = items.get(pk)?.value?.S;
      if (json !== undefined) out[field] = JSON.parse(json);
    }
    return out as QuotaControls;
  }

  async putLimits(scope: QuotaScope, limits: StoredLimits | null): Promise<void> {
    await this.putOrDelete(`l#${controlScopeKey(scope)}`, limits);
  }

  async setKillSwitch(scope: QuotaScope, state: KillSwitch | null): Promise<void> {
    if (scope.feature !== undefined) throw new Error('A kill switch is global or per tenant, not per feature.');
    await this.putOrDelete(`k#${controlScopeKey(scope)}`, state);
  }

  private async putOrDelete(pk: string, value: object | null): Promise<void> {
    if (value === null) await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: s(pk) } }));
    else await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: { pk: s(pk), value: s(JSON.stringify(value)) } }));
  }

  /** Rolls back counters raised by a refused reservation, then drops the reservation record. */
  private async undo(reservationId: string, done: readonly QuotaCounterSpec[]): Promise<void> {
    await Promise.all(done.map((c) => this.addBack(c.key, -c.amount)));
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: s(`r#${reservationId}`) } }));
  }

  private async addBack(key: string, amount: number): Promise<void> {
    await this.client.send(new UpdateItemCommand({
      TableName: this.tableName,
      Key: { pk: s(`c#${key}`) },
      UpdateExpression: 'ADD committed :a, reserved :a',
      ExpressionAttributeValues: { ':a': n(amount) },
    }));
  }

  private async readOne(key: string): Promise<CounterState> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: s(`c#${key}`) }, ConsistentRead: true }));
    return { committed: Number(out.Item?.committed?.N ?? 0), reserved: Number(out.Item?.reserved?.N ?? 0) };
  }

  /** Strongly consistent BatchGetItem, 100 keys a call, retrying unprocessed keys. */
  private async batchGet(pks: readonly string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    const unique = [...new Set(pks)];
    for (let i = 0; i < unique.length; i += 100) {
      let request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> | undefined = {
        [this.tableName]: { Keys: unique.slice(i, i + 100).map((pk) => ({ pk: s(pk) })), ConsistentRead: true },
      };
      for (let attempt = 0; request && Object.keys(request).length && attempt < 8; attempt++) {
        const out = await this.client.send(new BatchGetItemCommand({ RequestItems: request }));
        for (const item of out.Responses?.[this.tableName] ?? []) found.set(item.pk.S!, item);
        request = out.UnprocessedKeys as typeof request;
        if (request && Object.keys(request).length) await new Promise((r) => setTimeout(r, 10 * 2 ** attempt));
      }
    }
    return found;
  }
}

/**
 * Creates the quota table with its expiry index if it does not exist (local gateway on a loopback endpoint, tests).
 * In AWS the TokenQuotaTable construct owns the table.
 */
export async function ensureQuotaTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await ensureTable(client, {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: QUOTA_TABLE.partitionKey, AttributeType: 'S' },
      { AttributeName: QUOTA_TABLE.expiryIndexPartitionKey, AttributeType: 'S' },
      { AttributeName: QUOTA_TABLE.expiryIndexSortKey, AttributeType: 'N' },
    ],
    KeySchema: [{ AttributeName: QUOTA_TABLE.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [{
      IndexName: QUOTA_TABLE.expiryIndex,
      KeySchema: [
        { AttributeName: QUOTA_TABLE.expiryIndexPartitionKey, KeyType: 'HASH' },
        { AttributeName: QUOTA_TABLE.expiryIndexSortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    }],
  });
}
