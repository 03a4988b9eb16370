import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Option, type Command } from 'commander';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import type { QuotaStore } from '../lambda/core/ports';
import { UsageError } from './cli-support';

export type StoreFlags = { store: 'memory' | 'dynamodb'; dynamodbTable: string; dynamodbEndpoint?: string; region?: string };

/** The STORE options (quota counters, controls and run-time tenants), shown under their own heading in --help. */
export function withStoreOptions(cmd: Command, defaultStore: 'memory' | 'dynamodb' = 'memory'): Command {
  const heading = 'Store (quota counters, controls, run-time tenants):';
  return cmd
    .addOption(new Option('--store <kind>', 'memory: this process only; dynamodb: the deployed quota table').choices(['memory', 'dynamodb']).default(defaultStore).helpGroup(heading))
    .addOption(new Option('--dynamodb-table <name>', 'the quota table').default('llm-finops-quota').helpGroup(heading))
    .addOption(
      new Option('--dynamodb-endpoint <url>', 'e.g. http://127.0.0.1:8000 (dynalite, DynamoDB Local); on loopback the table is created if missing and dummy credentials are used when none are set').helpGroup(heading),
    )
    .addOption(new Option('--region <region>', 'AWS Region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)').helpGroup(heading));
}

/** The DynamoDB client and table the flags name; undefined for --store memory. */
export async function dynamoFromFlags(values: StoreFlags): Promise<{ client: DynamoDBClient; table: string } | undefined> {
  if (values.store === 'memory') return undefined;
  const endpoint = values.dynamodbEndpoint;
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
  const table = values.dynamodbTable;
  if (loopback) await ensureQuotaTable(client, table);
  return { client, table };
}

/** The quota store the flags name; undefined for memory (the gateway then keeps its own counters). */
export async function storeFromFlags(values: StoreFlags): Promise<QuotaStore | undefined> {
  const d = await dynamoFromFlags(values);
  return d ? new DynamoDbQuotaStore(d.client, d.table) : undefined;
}
