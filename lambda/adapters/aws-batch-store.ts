import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { BATCH_TABLE } from '../contract';
import type { BatchRecord, BatchStore, StoredFile, StoredLineResult } from '../core/batch/store';
import { ensureTable } from './dynamodb-tables';
import { s3Client } from './lazy';

const FINAL = new Set(['failed', 'completed', 'expired', 'cancelled']);
/** Ids the service makes (file-..., batch_...); anything else is never a key. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** An item holds at most 400 KB; a line's result compressed past this goes to S3 and the item points at it. */
const INLINE_LIMIT = 350_000;
const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = BATCH_TABLE;

export interface AwsBatchStoreOptions {
  readonly dynamo: DynamoDBClient;
  readonly table: string;
  readonly bucket: string;
  /** Days a file, batch or result is kept (the table's TTL; the bucket's lifecycle removes the objects). */
  readonly retentionDays: number;
  readonly s3?: S3Client;
  readonly now?: () => number;
}

/**
 * The batch API's state on AWS (the BatchLane construct's table and bucket), shared by every router instance and
 * the poller. Files: the item `file#<id>` (what the Files API reports) and the content at `files/<id>.jsonl`.
 * Batches: the item `batch#<id>` / `#`, its record gzipped (a 50,000-line batch's job line lists would not fit an
 * item as JSON), `active` set while it is not final so the poller finds it through a sparse index. Results: one item
 * per settled line under the batch's key (`line#<n>`), written the moment the line settles, so a poller that stops
 * mid-batch (its time limit) resumes where it was. Tenants list their own files and batches through `by-owner`,
 * which, as any index, is eventually consistent: a file listed a moment after its upload may be missing from the list.
 */
export class AwsBatchStore implements BatchStore {
  private readonly s3: S3Client;
  private readonly now: () => number;

  constructor(private readonly o: AwsBatchStoreOptions) {
    this.s3 = o.s3 ?? new (s3Client().S3Client)({});
    this.now = o.now ?? Date.now;
  }

  private ttl(): AttributeValue {
    return { N: String(Math.floor(this.now() / 1000) + Math.ceil(this.o.retentionDays * 86_400)) };
  }

  private async getItem(pk: string, sk: string): Promise<Record<string, AttributeValue> | undefined> {
    const out = await this.o.dynamo.send(new GetItemCommand({ TableName: this.o.table, Key: { [PK]: { S: pk }, [SK]: { S: sk } }, ConsistentRead: true }));
    return out.Item;
  }

  private async query(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Record<string, AttributeValue>[]> {
    const out: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.o.dynamo.send(new QueryCommand({ ...input, TableName: this.o.table, ExclusiveStartKey: start }));
      out.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  private byOwner(owner: string): Promise<Record<string, AttributeValue>[]> {
    return this.query({
      IndexName: BATCH_TABLE.ownerIndex,
      KeyConditionExpression: '#o = :o',
      ExpressionAttributeNames: { '#o': BATCH_TABLE.ownerIndexPartitionKey },
      ExpressionAttributeValues: { ':o': { S: owner } },
    });
  }

  async putFile(file: StoredFile, content: string): Promise<void> {
    checkId(file.id);
    const { PutObjectCommand } = s3Client();
    // The content first: an item never names an object that is not there.
    await this.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: fileKey(file.id), Body: content, ContentType: 'application/jsonl' }));
    await this.o.dynamo.send(new PutItemCommand({
      TableName: this.o.table,
      Item: {
        [PK]: { S: `file#${file.id}` }, [SK]: { S: '#' },
        [BATCH_TABLE.ownerIndexPartitionKey]: { S: `file#${file.tenantId}` },
        [BATCH_TABLE.indexSortKey]: { N: String(file.createdAt) },
        doc: { S: JSON.stringify(file) },
        [TTL]: this.ttl(),
      },
    }));
  }

  async getFile(id: string): Promise<StoredFile | undefined> {
    if (!SAFE_ID.test(id)) return undefined;
    const item = await this.getItem(`file#${id}`, '#');
    return item?.doc?.S ? (JSON.parse(item.doc.S) as StoredFile) : undefined;
  }

  async readFile(id: string): Promise<string | undefined> {
    if (!SAFE_ID.test(id)) return undefined;
    return this.readObject(fileKey(id));
  }

  async listFiles(tenantId: string): Promise<StoredFile[]> {
    return (await this.byOwner(`file#${tenantId}`)).flatMap((i) => (i.doc?.S ? [JSON.parse(i.doc.S) as StoredFile] : []));
  }

  async deleteFile(id: string): Promise<boolean> {
    if (!SAFE_ID.test(id)) return false;
    const out = await this.o.dynamo.send(new DeleteItemCommand({ TableName: this.o.table, Key: { [PK]: { S: `file#${id}` }, [SK]: { S: '#' } }, ReturnValues: 'ALL_OLD' }));
    const { DeleteObjectCommand } = s3Client();
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: fileKey(id) }));
    return out.Attributes !== undefined;
  }

  async putBatch(batch: BatchRecord): Promise<void> {
    checkId(batch.id);
    await this.o.dynamo.send(new PutItemCommand({
      TableName: this.o.table,
      Item: {
        [PK]: { S: `batch#${batch.id}` }, [SK]: { S: '#' },
        [BATCH_TABLE.ownerIndexPartitionKey]: { S: `batch#${batch.tenantId}` },
        [BATCH_TABLE.indexSortKey]: { N: String(batch.createdAt) },
        // Only while the batch runs: the poller's sparse index holds nothing else.
        ...(FINAL.has(batch.status) ? {} : { [BATCH_TABLE.activeIndexPartitionKey]: { S: 'active' } }),
        doc: { B: gzipSync(JSON.stringify(batch)) },
        [TTL]: { N: String(batch.expiresAt + Math.ceil(this.o.retentionDays * 86_400)) },
      },
    }));
  }

  async getBatch(id: string): Promise<BatchRecord | undefined> {
    if (!SAFE_ID.test(id)) return undefined;
    const item = await this.getItem(`batch#${id}`, '#');
    return item ? batchOf(item) : undefined;
  }

  async listBatches(tenantId: string): Promise<BatchRecord[]> {
    return (await this.byOwner(`batch#${tenantId}`)).flatMap((i) => (i.doc?.B ? [batchOf(i)] : []));
  }

  /** From the sparse index, then each read again from the table: the index may lag a batch that has just ended. */
  async activeBatches(): Promise<BatchRecord[]> {
    const items = await this.query({
      IndexName: BATCH_TABLE.activeIndex,
      KeyConditionExpression: '#a = :a',
      ExpressionAttributeNames: { '#a': BATCH_TABLE.activeIndexPartitionKey, '#pk': PK },
      ExpressionAttributeValues: { ':a': { S: 'active' } },
      ProjectionExpression: '#pk',
    });
    const fresh = await Promise.all(items.map((i) => this.getBatch(String(i[PK]?.S ?? '').slice('batch#'.length))));
    return fresh.filter((b): b is BatchRecord => b !== undefined && !FINAL.has(b.status)).sort((a, b) => a.createdAt - b.createdAt);
  }

  async appendResult(batchId: string, result: StoredLineResult): Promise<void> {
    checkId(batchId);
    const packed = gzipSync(JSON.stringify(result));
    const key = `batch#${batchId}`;
    const sk = lineKey(result.line);
    let doc: AttributeValue;
    if (packed.byteLength <= INLINE_LIMIT) doc = { B: packed };
    else {
      // A very long answer: its result in the bucket, the item pointing at it (written second, so it never dangles).
      const objectKey = `results/${batchId}/${result.line}.json.gz`;
      const { PutObjectCommand } = s3Client();
      await this.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: objectKey, Body: packed, ContentEncoding: 'gzip' }));
      doc = { S: objectKey };
    }
    await this.o.dynamo.send(new PutItemCommand({ TableName: this.o.table, Item: { [PK]: { S: key }, [SK]: { S: sk }, doc, [TTL]: this.ttl() } }));
  }

  async readResults(batchId: string): Promise<StoredLineResult[]> {
    if (!SAFE_ID.test(batchId)) return [];
    const items = await this.query({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :line)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: { ':pk': { S: `batch#${batchId}` }, ':line': { S: 'line#' } },
      ConsistentRead: true,
    });
    const out: StoredLineResult[] = [];
    for (const i of items) {
      if (i.doc?.B) out.push(JSON.parse(gunzipSync(i.doc.B).toString('utf8')) as StoredLineResult);
      else if (i.doc?.S) {
        const { GetObjectCommand } = s3Client();
        const got = await this.s3.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: i.doc.S }));
        out.push(JSON.parse(gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString('utf8')) as StoredLineResult);
      }
    }
    return out;
  }

  /**
   * Takes the poller's lease until `untilMs` unless another holder's lease is still running: two poller runs at once
   * (an event beside the schedule) would settle the same lines twice. A lease left by a run that died lapses at its
   * time. Returns whether `holder` has it.
   */
  async lease(holder: string, untilMs: number): Promise<boolean> {
    try {
      await this.o.dynamo.send(new PutItemCommand({
        TableName: this.o.table,
        Item: { [PK]: { S: 'lease#poller' }, [SK]: { S: '#' }, holder: { S: holder }, until: { N: String(untilMs) }, [TTL]: { N: String(Math.ceil(untilMs / 1000) + 86_400) } },
        ConditionExpression: 'attribute_not_exists(#pk) OR #until < :now OR holder = :me',
        ExpressionAttributeNames: { '#pk': PK, '#until': 'until' },
        ExpressionAttributeValues: { ':now': { N: String(this.now()) }, ':me': { S: holder } },
      }));
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  /** Gives the lease back (only if `holder` still has it), so the next run need not wait for it to lapse. */
  async release(holder: string): Promise<void> {
    try {
      await this.o.dynamo.send(new DeleteItemCommand({
        TableName: this.o.table,
        Key: { [PK]: { S: 'lease#poller' }, [SK]: { S: '#' } },
        ConditionExpression: 'holder = :me',
        ExpressionAttributeValues: { ':me': { S: holder } },
      }));
    } catch (err) {
      if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  private async readObject(key: string): Promise<string | undefined> {
    const { GetObjectCommand } = s3Client();
    try {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key }));
      return await got.Body!.transformToString('utf8');
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }
}

function checkId(id: string): void {
  if (!SAFE_ID.test(id)) throw new Error(`not a batch store id: ${JSON.stringify(id)}`);
}

function fileKey(id: string): string {
  return `files/${id}.jsonl`;
}

/** Zero-padded, so the table returns a batch's results in line order. */
function lineKey(line: number): string {
  return `line#${String(line).padStart(7, '0')}`;
}

function batchOf(item: Record<string, AttributeValue>): BatchRecord {
  return JSON.parse(gunzipSync(item.doc!.B!).toString('utf8')) as BatchRecord;
}

/** Creates the BatchLane table with its two indexes if it does not exist (tests); in AWS the construct owns it. */
export async function ensureBatchTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const index = (name: string, pk: string) => ({
    IndexName: name,
    KeySchema: [{ AttributeName: pk, KeyType: 'HASH' as const }, { AttributeName: BATCH_TABLE.indexSortKey, KeyType: 'RANGE' as const }],
    Projection: { ProjectionType: name === BATCH_TABLE.activeIndex ? 'KEYS_ONLY' as const : 'ALL' as const },
  });
  await ensureTable(client, {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: PK, AttributeType: 'S' },
      { AttributeName: SK, AttributeType: 'S' },
      { AttributeName: BATCH_TABLE.ownerIndexPartitionKey, AttributeType: 'S' },
      { AttributeName: BATCH_TABLE.activeIndexPartitionKey, AttributeType: 'S' },
      { AttributeName: BATCH_TABLE.indexSortKey, AttributeType: 'N' },
    ],
    KeySchema: [{ AttributeName: PK, KeyType: 'HASH' }, { AttributeName: SK, KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [index(BATCH_TABLE.ownerIndex, BATCH_TABLE.ownerIndexPartitionKey), index(BATCH_TABLE.activeIndex, BATCH_TABLE.activeIndexPartitionKey)],
  });
}
