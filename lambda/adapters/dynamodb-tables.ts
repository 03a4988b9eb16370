import { type CreateTableCommandInput, CreateTableCommand, DescribeTableCommand, ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Creates a table unless it exists and waits until it is ACTIVE (local gateway on a loopback endpoint, tests); returns
 * whether it was created. In AWS the constructs own the tables.
 */
export async function ensureTable(client: DynamoDBClient, input: CreateTableCommandInput): Promise<boolean> {
  try {
    await client.send(new DescribeTableCommand({ TableName: input.TableName }));
    return false;
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException) && (err as { name?: string })?.name !== 'ResourceNotFoundException') throw err;
  }
  await client.send(new CreateTableCommand(input));
  for (let i = 0; i < 50; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
    if (d.Table?.TableStatus === 'ACTIVE') return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Table ${input.TableName} did not become ACTIVE`);
}
