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
import { createHash } from 'node:crypto';
import { QUOTA_TABLE } from '../contract';
import { SettleDeferredError } from '../core/ports';
import { ensureTable } from './dynamodb-tables';
import type { PolicyConfig } from '../core/config/schema';
import { controlScopeKey, parseStoredPolicies } from '../core/quota/policy';

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

/** The reservation's tag on the counters it holds: 16 characters of its id's SHA-256, so a counter's set stays small. */
function tagOf(reservationId: string): string {
  return createHash('sha256').update(reservationId).digest('base64url').slice(0, 16);
}

/** A counter refused a raise: its limit would be passed. */
class LimitRefusal extends Error {
  constructor(readonly committed: number) {
    super('quota limit');
  }
}

const isConditionFailure = (err: unknown): boolean =>
  err instanceof ConditionalCheckFailedException || (err as { name?: string })?.name === 'ConditionalCheckFailedException';

/**
 * Quota counters in one DynamoDB table, without transactions (dynalite, the test engine, has none), designed so that
 * any crash or failed write, at any point, ends after a sweep with nothing reserved and exactly the recorded actual
 * amounts committed:
 *
 * - counter `c#<key>`: `committed` (used + reserved), `reserved`, and `holds`, the set of reservation tags holding
 *   an amount on it. Every change a reservation makes to a counter is conditional on its tag: a raise requires the
 *   tag absent and adds it (`ADD committed :a, reserved :a, holds :tag` if `committed <= limit - a`), a release or a
 *   settle requires it present and removes it. Each is therefore applied at most once, whoever sends it (the
 *   request, its retry, a rollback or the sweeper) and whatever response was lost: the counter itself says whether
 *   the reservation's amount is on it.
 * - reservation `r#<id>`: the amounts per counter and the expiry, written before any counter is raised and deleted
 *   last, so an abandoned reservation can always be found; indexed by expiry (sharded) for the sweeper. Settling
 *   first writes the actual amounts onto it (`actuals`) and brings its expiry forward: from then on the outcome is
 *   durable, and if the request dies before every counter is settled, the sweep finishes the settlement with those
 *   actual amounts instead of releasing. A sweep that found no actual amounts claims the item (`swept`, only while
 *   there are still none) before it releases; a settle arriving after that (an answer outliving the reservation)
 *   cannot write onto it and adds its actual amounts as a late settlement instead, so racing the sweep loses nothing.
 * - `z#<id>`: the claim of a late settlement (the reservation was already swept), so its actual amount is added once.
 * - alert claim `a#<key>@<threshold>`, limits `l#<scope>`, kill switch `k#<scope>`.
 *
 * Writes per request: the reservation's put, update and delete plus two UpdateItems per counter (four tenant
 * counters are always tracked). Counter items carry a TTL a month past their window. A counter's `holds` lists the
 * reservations in flight on it (16 bytes each), so one counter holds at most ~20,000 concurrent requests.
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
      await this.rollback(reservationId, []);
      return { ok: false, key: tooBig.key, committed: (await this.readItem(tooBig.key)).committed };
    }
    // All counters at once: one round trip instead of one per counter. Any refusal rolls back the others, so the
    // outcome stays all or nothing; near a limit two racing requests may both be refused where one could have fit.
    const tag = tagOf(reservationId);
    const outcomes = await Promise.allSettled(counters.map((c) => this.raise(c, tag)));
    const failedAt = outcomes.findIndex((o) => o.status === 'rejected');
    if (failedAt >= 0) {
      const reason = (outcomes[failedAt] as PromiseRejectedResult).reason;
      const refusal = outcomes.findIndex((o) => o.status === 'rejected' && o.reason instanceof LimitRefusal);
      // Every counter, not only those that answered: a raise whose response was lost may have been applied. The
      // release is conditional on the tag, so a counter never raised is left alone. If the rollback fails, the
      // reservation item stays and the sweep releases whatever is still held.
      await this.rollback(reservationId, counters);
      if (refusal < 0) throw reason;
      const r = (outcomes[refusal] as PromiseRejectedResult).reason as LimitRefusal;
      return { ok: false, key: counters[refusal].key, committed: r.committed };
    }
    return {
      ok: true,
      committed: new Map(counters.map((c, i) => [c.key, (outcomes[i] as PromiseFulfilledResult<number>).value])),
    };
  }

  /**
   * One counter's conditional raise; resolves with the committed value after it. A condition failure is either the
   * limit (LimitRefusal) or this very raise already applied (a retried request whose first response was lost).
   */
  private async raise(c: QuotaCounterSpec, tag: string): Promise<number> {
    try {
      const out = await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: s(`c#${c.key}`) },
        UpdateExpression: 'ADD committed :a, reserved :a, holds :tags SET #ttl = if_not_exists(#ttl, :ttl)',
        ConditionExpression: c.limit === undefined
          ? 'NOT contains(holds, :tag)'
          : '(attribute_not_exists(committed) OR committed <= :max) AND NOT contains(holds, :tag)',
        ExpressionAttributeNames: { '#ttl': QUOTA_TABLE.ttlAttribute },
        ExpressionAttributeValues: {
          ':a': n(c.amount),
          ':tags': { SS: [tag] },
          ':tag': s(tag),
          ':ttl': n(Math.ceil(c.expiresAtMs / 1000)),
          ...(c.limit === undefined ? {} : { ':max': n(c.limit - c.amount) }),
        },
        ReturnValues: 'UPDATED_NEW',
      }));
      return Number(out.Attributes?.committed?.N ?? c.amount);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const item = await this.readItem(c.key);
      if (item.holds.has(tag)) return item.committed;
      throw new LimitRefusal(item.committed);
    }
  }

  /**
   * Closes the reservation. The actual amounts are first written onto the reservation item (the durable decision),
   * then each counter is settled under its tag, then the item is deleted. A failure after the first write throws
   * SettleDeferredError: the sweep completes the settlement with the recorded actual amounts.
   */
  async settle(reservationId: string, entries: readonly QuotaSettlement[]): Promise<ReadonlyMap<string, number>> {
    const pk = s(`r#${reservationId}`);
    const actuals: Record<string, AttributeValue> = {};
    for (const e of entries) actuals[e.key] = n(e.actual);
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk },
        // Due now: if this request dies before finishing, the next sweep (at most a minute away) completes it.
        UpdateExpression: 'SET actuals = :act, expiresAt = :due, #sk = :due',
        // Not once a sweep has claimed the item to release it (finish): the amounts are then being released, and the
        // actual amounts must be added on their own (settleLate), or they would be lost.
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(swept)',
        ExpressionAttributeNames: { '#sk': QUOTA_TABLE.expiryIndexSortKey },
        ExpressionAttributeValues: { ':act': { M: actuals }, ':due': n(0) },
      }));
    } catch (err) {
      // No reservation item: it was swept as expired.
      if (isConditionFailure(err)) return this.settleLate(reservationId, entries);
      // The response may have been lost after the write: the item says whether the decision was recorded.
      if (!(await this.actualsRecorded(reservationId, entries).catch(() => false))) throw err;
    }
    const tag = tagOf(reservationId);
    try {
      const values = await Promise.all(entries.map((e) => this.settleCounter(e.key, tag, e.actual - e.reserved, -e.reserved)));
      await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk } }));
      return new Map(entries.map((e, i) => [e.key, values[i]]));
    } catch (err) {
      throw new SettleDeferredError({ cause: err });
    }
  }

  /**
   * A settlement whose reservation was already swept (it outlived reservationTtlSeconds): the amounts were released,
   * so only the actual amounts are added, once, under a claim item.
   */
  private async settleLate(reservationId: string, entries: readonly QuotaSettlement[]): Promise<ReadonlyMap<string, number>> {
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.tableName,
        Item: { pk: s(`z#${reservationId}`), [QUOTA_TABLE.ttlAttribute]: n(Math.ceil(Date.now() / 1000) + 86_400) },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return new Map(await Promise.all(entries.map(async (e) => [e.key, (await this.readItem(e.key)).committed] as const)));
    }
    const values = await Promise.all(entries.map(async (e) => {
      const out = await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: s(`c#${e.key}`) },
        UpdateExpression: 'ADD committed :c',
        ExpressionAttributeValues: { ':c': n(e.actual) },
        ReturnValues: 'UPDATED_NEW',
      }));
      return [e.key, Number(out.Attributes?.committed?.N ?? 0)] as const;
    }));
    return new Map(values);
  }

  /** Moves one counter by (committed, reserved) under the reservation's tag; a counter no longer holding it is left as it is. */
  private async settleCounter(key: string, tag: string, committedDelta: number, reservedDelta: number): Promise<number> {
    try {
      const out = await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: s(`c#${key}`) },
        UpdateExpression: 'ADD committed :c, reserved :r DELETE holds :tags',
        ConditionExpression: 'contains(holds, :tag)',
        ExpressionAttributeValues: { ':c': n(committedDelta), ':r': n(reservedDelta), ':tags': { SS: [tag] }, ':tag': s(tag) },
        ReturnValues: 'UPDATED_NEW',
      }));
      return Number(out.Attributes?.committed?.N ?? 0);
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Settled or released already (a retry, the sweeper, or a raise that never happened).
      return (await this.readItem(key)).committed;
    }
  }

  private async actualsRecorded(reservationId: string, entries: readonly QuotaSettlement[]): Promise<boolean> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: s(`r#${reservationId}`) }, ConsistentRead: true }));
    const act = out.Item?.actuals?.M;
    return !!act && entries.every((e) => act[e.key]?.N === String(e.actual));
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
          if (await this.finish(item.pk.S!.slice(2), nowMs)) released++;
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return released;
  }

  /**
   * Completes an expired reservation: each counter still holding its tag is settled to the recorded actual amount
   * (when the request recorded one) or released, then the item is deleted. Safe to run twice or beside the request.
   */
  private async finish(reservationId: string, nowMs: number): Promise<boolean> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: s(`r#${reservationId}`) }, ConsistentRead: true }));
    const item = out.Item;
    if (!item || Number(item.expiresAt?.N ?? Infinity) >= nowMs) return false;
    const tag = tagOf(reservationId);
    const actuals = item.actuals?.M;
    if (!actuals) {
      // Claim it before releasing: a request settling now (its answer came after the reservation's lifetime) then
      // finds the claim and adds its actual amounts on their own, instead of writing them onto an item whose amounts
      // this sweep is releasing as zero (which lost them).
      try {
        await this.client.send(new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: item.pk },
          UpdateExpression: 'SET swept = :t',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(actuals) AND expiresAt < :now',
          ExpressionAttributeValues: { ':t': { BOOL: true }, ':now': n(nowMs) },
        }));
      } catch (err) {
        // The request recorded its actual amounts first: the next sweep (or the request itself) settles them.
        if (isConditionFailure(err)) return false;
        throw err;
      }
    }
    await Promise.all(Object.entries(item.amounts?.M ?? {}).map(([key, amount]) => {
      const reserved = Number(amount.N);
      const actual = actuals?.[key] !== undefined ? Number(actuals[key].N) : 0;
      return this.settleCounter(key, tag, actual - reserved, -reserved);
    }));
    try {
      await this.client.send(new DeleteItemCommand({
        TableName: this.tableName,
        Key: { pk: item.pk },
        ConditionExpression: 'attribute_exists(pk) AND expiresAt < :now',
        ExpressionAttributeValues: { ':now': n(nowMs) },
      }));
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
    return true;
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
      tenantPolicies: `p#${controlScopeKey({ tenant })}`,
    };
    const items = await this.batchGet(Object.values(keys));
    const out: Record<string, unknown> = {};
    for (const [field, pk] of Object.entries(keys)) {
      const json = items.get(pk)?.value?.S;
      if (json !== undefined) out[field] = field === 'tenantPolicies' ? parseStoredPolicies(json, pk) : JSON.parse(json);
    }
    return out as QuotaControls;
  }

  async putPolicies(tenant: string, policies: readonly PolicyConfig[] | null): Promise<void> {
    await this.putOrDelete(`p#${controlScopeKey({ tenant })}`, policies === null ? null : parseStoredPolicies(JSON.stringify(policies)));
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

  /**
   * Rolls back a reservation that did not complete: every counter still holding its tag is released, then the
   * reservation item is dropped. A failure leaves the item for the sweep.
   */
  private async rollback(reservationId: string, counters: readonly QuotaCounterSpec[]): Promise<void> {
    const tag = tagOf(reservationId);
    await Promise.all(counters.map((c) => this.settleCounter(c.key, tag, -c.amount, -c.amount)));
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: s(`r#${reservationId}`) } }));
  }

  private async readItem(key: string): Promise<CounterState & { holds: ReadonlySet<string> }> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: s(`c#${key}`) }, ConsistentRead: true }));
    return {
      committed: Number(out.Item?.committed?.N ?? 0),
      reserved: Number(out.Item?.reserved?.N ?? 0),
      holds: new Set(out.Item?.holds?.SS ?? []),
    };
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
