import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy does with one DynamoDB request:
 * - pass: forward it and return the answer;
 * - fail: answer 500 InternalServerError without forwarding (the write never happened);
 * - drop: forward it, let DynamoDB apply it, then cut the connection before the answer (applied, response lost).
 */
export type Fault = 'pass' | 'fail' | 'drop';

export interface ProxiedCall {
  readonly op: string;
  /** The item key (`pk`) the call names, when it names one. */
  readonly pk: string | null;
  readonly fault: Fault;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/**
 * A loopback HTTP proxy in front of dynalite that fails or drops chosen requests, for fault-injection tests of the
 * DynamoDB adapters: point a DynamoDBClient at `endpoint` and set `policy`.
 */
export class FaultProxy {
  readonly calls: ProxiedCall[] = [];
  /** Decides per request: its operation, its key, and the index of this write among writes since `reset` (reads: -1). */
  policy: (op: string, pk: string | null, writeIndex: number) => Fault = () => 'pass';
  private writes = 0;
  private server?: Server;

  constructor(private readonly target: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  reset(policy: FaultProxy['policy'] = () => 'pass'): void {
    this.calls.length = 0;
    this.writes = 0;
    this.policy = policy;
  }

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const pk = keyOf(body);
      const fault = this.policy(op, pk, WRITES.has(op) ? this.writes++ : -1);
      this.calls.push({ op, pk, fault });
      if (fault === 'fail') {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
          .end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'injected failure' }));
        return;
      }
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        const parts: Buffer[] = [];
        up.on('data', (d: Buffer) => parts.push(d));
        up.on('end', () => {
          if (fault === 'drop') {
            res.socket?.destroy();
            return;
          }
          res.writeHead(up.statusCode ?? 500, up.headers).end(Buffer.concat(parts));
        });
      });
      upstream.on('error', () => res.socket?.destroy());
      upstream.end(body);
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

/** The `pk` a DynamoDB request names (Key or Item), or null. */
function keyOf(body: Buffer): string | null {
  try {
    const json = JSON.parse(body.toString('utf8'));
    return json?.Key?.pk?.S ?? json?.Item?.pk?.S ?? null;
  } catch {
    return null;
  }
}
