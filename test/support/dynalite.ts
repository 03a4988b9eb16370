import type { AddressInfo } from 'node:net';
import { Agent, type Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (opts: Record<string, number>) => Server;

/** dynalite (DynamoDB's API on an in-memory LevelDB) on a loopback port, started by the test itself. */
export class LocalDynamo {
  private server?: Server;
  client!: DynamoDBClient;

  async start(): Promise<void> {
    this.server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
      // Race tests hold hundreds of requests in flight at once.
      requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 512 }) },
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.client?.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}
