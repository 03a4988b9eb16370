import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import type { QuotaStore } from '../lambda/core/ports';
import { UsageError } from './cli-support';

export type StoreFlags = { store?: string; 'dynamodb-table'?: string; 'dynamodb-endpoint'?: string; region?: string };

export const STORE_OPTIONS = {
  store: { type: 'string', default: 'memory' },
  'dynamodb-table': { type: 'string', default: 'llm-finops-quota' },
  'dynamodb-endpoint': { type: 'string' },
  region: { type: 'string' },
} as const;

/** The DynamoDB client and table the flags name; undefined for --store memory. */
export async function dynamoFromFlags(values: StoreFlags): Promise<{ client: DynamoDBClient; table: string } | undefined> {
  if (values.store === 'memory') return undefined;
  if (values.store !== 'dynamodb') throw new UsageError(`--store must be memory or dynamodb, got ${values.store}`);
  const endpoint = values['dynamodb-endpoint'];
  let loopback = false;
  if (endpoint) {
    try {
      loopback = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(new URL(endpoint).hostname);
    } catch {
      throw new UsageError(`--dynamodb-endpoint is not a URL: ${endpoint}`);
    }
  }
  const client = new DynamoDBClient({
    endpoint,
    region: values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(loopback && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  const table = values['dynamodb-table']!;
  if (loopback) await ensureQuotaTable(client, table);
  return { client, table };
}

/** The quota store the flags name; undefined for memory (the gateway then keeps its own counters). */
export async function storeFromFlags(values: StoreFlags): Promise<QuotaStore | undefined> {
  const d = await dynamoFromFlags(values);
  return d ? new DynamoDbQuotaStore(d.client, d.table) : undefined;
}
