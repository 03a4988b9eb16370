import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { QUOTA_TABLE } from '../contract';
import { type StoredTenant, type TenantDirectory, TenantExistsError } from '../core/ports';

const TENANT = 't#';
const KEY = QUOTA_TABLE.keyItemPrefix;

/**
 * Run-time tenants in the quota table, beside the counters: `t#<id>` holds the tenant (and its key hashes as a
 * string set), `key#<sha256>` maps a key hash to its tenant for the authorizer's one GetItem. Without transactions
 * (the test engine has none), writes are ordered so that a live key never names a missing tenant: the tenant is
 * written before its key, and a key is deleted before the tenant forgets it.
 */
export class DynamoDbTenantDirectory implements TenantDirectory {
  constructor(private readonly client: DynamoDBClient, private readonly tableName: string) {}

  async tenantForKey(keyHash: string): Promise<string | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: `${KEY}${keyHash}` } }, ConsistentRead: true }));
    return out.Item?.tenant?.S;
  }

  async getTenant(id: string): Promise<StoredTenant | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: `${TENANT}${id}` } }, ConsistentRead: true }));
    return out.Item ? fromItem(out.Item) : undefined;
  }

  async createTenant(t: StoredTenant): Promise<void> {
    try {
      await this.client.send(new PutItemCommand({
        TableName: this.tableName,
        Item: toItem(t),
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as { name?: string }).name === 'ConditionalCheckFailedException') throw new TenantExistsError(t.id);
      throw err;
    }
    for (const k of t.keyHashes) await this.putKey(t.id, k);
  }

  async listTenants(): Promise<StoredTenant[]> {
    const out: StoredTenant[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(new ScanCommand({
        TableName: this.tableName,
        FilterExpression: 'begins_with(pk, :p)',
        ExpressionAttributeValues: { ':p': { S: TENANT } },
        ExclusiveStartKey: start,
      }));
      for (const item of page.Items ?? []) out.push(fromItem(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async addKey(id: string, keyHash: string): Promise<void> {
    await this.updateKeySet(id, 'ADD', keyHash);
    await this.putKey(id, keyHash);
  }

  async revokeKey(id: string, keyHash: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({
      TableName: this.tableName,
      Key: { pk: { S: `${KEY}${keyHash}` } },
      ConditionExpression: 'attribute_not_exists(pk) OR tenant = :t',
      ExpressionAttributeValues: { ':t': { S: id } },
    }));
    await this.updateKeySet(id, 'DELETE', keyHash);
  }

  async setCaptureConsent(id: string, consent: boolean): Promise<void> {
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${TENANT}${id}` } },
        UpdateExpression: consent ? 'SET captureConsent = :c' : 'REMOVE captureConsent',
        ConditionExpression: 'attribute_exists(pk)',
        ...(consent ? { ExpressionAttributeValues: { ':c': { BOOL: true } } } : {}),
      }));
    } catch (err) {
      throw (err as { name?: string }).name === 'ConditionalCheckFailedException' ? new Error(`unknown tenant '${id}'`) : err;
    }
  }

  /** Adds a hash to, or deletes it from, the tenant's key set; an unknown tenant is an error. */
  private async updateKeySet(id: string, op: 'ADD' | 'DELETE', keyHash: string): Promise<void> {
    try {
      await this.client.send(new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${TENANT}${id}` } },
        UpdateExpression: `${op} keyHashes :k`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':k': { SS: [keyHash] } },
      }));
    } catch (err) {
      throw (err as { name?: string }).name === 'ConditionalCheckFailedException' ? new Error(`unknown tenant '${id}'`) : err;
    }
  }

  private async putKey(id: string, keyHash: string): Promise<void> {
    await this.client.send(new PutItemCommand({
      TableName: this.tableName,
      Item: { pk: { S: `${KEY}${keyHash}` }, tenant: { S: id }, createdAt: { S: new Date().toISOString() } },
      ConditionExpression: 'attribute_not_exists(pk) OR tenant = :t',
      ExpressionAttributeValues: { ':t': { S: id } },
    }));
  }
}

function toItem(t: StoredTenant): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    pk: { S: `${TENANT}${t.id}` },
    tenant: { S: t.id },
    value: { S: JSON.stringify({ team: t.team, allowedTiers: t.allowedTiers, allowedModels: t.allowedModels }) },
    createdAt: { S: t.createdAt },
  };
  if (t.keyHashes.length) item.keyHashes = { SS: [...t.keyHashes] };
  if (t.captureConsent) item.captureConsent = { BOOL: true };
  return item;
}

function fromItem(item: Record<string, AttributeValue>): StoredTenant {
  const v = JSON.parse(item.value?.S ?? '{}') as { team?: string | null; allowedTiers?: string[] | null; allowedModels?: string[] | null };
  return {
    id: item.tenant!.S!,
    team: v.team ?? null,
    allowedTiers: v.allowedTiers ?? null,
    allowedModels: v.allowedModels ?? null,
    keyHashes: [...(item.keyHashes?.SS ?? [])].sort(),
    createdAt: item.createdAt?.S ?? '',
    ...(item.captureConsent?.BOOL === true ? { captureConsent: true } : {}),
  };
}
