import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Row {
  readonly id: string;
  readonly values: number[];
  readonly metadata: Record<string, unknown>;
  readonly visibleAtMs: number;
}

type Filter = Record<string, Record<string, unknown>>;

/**
 * A loopback stand-in for a Pinecone serverless index's data plane, with the documented behaviour the adapter relies
 * on: Api-Key auth (401), namespaces that isolate records, metadata filters ($eq, $ne, $gt, $gte, $lt, $lte, $in),
 * cosine scores, topK, a dimension fixed by the index (400 on a mismatch), the 40 KB metadata limit (400), and eventual
 * consistency (`visibilityDelayMs`: an upserted record is invisible to queries until then). Records every request.
 */
export class FakePinecone {
  readonly requests: { path: string; headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];
  private readonly namespaces = new Map<string, Map<string, Row>>();
  private server: Server | undefined;
  visibilityDelayMs = 0;
  host = '';

  constructor(readonly dimension: number, readonly apiKey = 'pc-test-key') {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const send = (status: number, body: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return send(400, { code: 3, message: 'invalid JSON' });
        }
        this.requests.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.headers['api-key'] !== this.apiKey) {
          res.writeHead(401, { 'content-type': 'text/plain' });
          return res.end('Unauthorized');
        }
        try {
          if (req.method === 'POST' && req.url === '/vectors/upsert') return send(200, this.upsert(body));
          if (req.method === 'POST' && req.url === '/query') return send(200, this.query(body));
          return send(404, { code: 5, message: `no route ${req.method} ${req.url}` });
        } catch (err) {
          return send(400, { code: 3, message: (err as Error).message });
        }
      });
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    this.host = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => this.server?.close(() => ok()) ?? ok());
  }

  private upsert(body: Record<string, unknown>): unknown {
    const ns = String(body.namespace ?? '');
    const vectors = body.vectors as { id: string; values: number[]; metadata?: Record<string, unknown> }[];
    if (!Array.isArray(vectors)) throw new Error('vectors: required');
    let space = this.namespaces.get(ns);
    if (!space) this.namespaces.set(ns, (space = new Map()));
    for (const v of vectors) {
      if (v.values.length !== this.dimension) throw new Error(`Vector dimension ${v.values.length} does not match the dimension of the index ${this.dimension}`);
      if (Buffer.byteLength(JSON.stringify(v.metadata ?? {})) > 40 * 1024) throw new Error(`Metadata size is ${Buffer.byteLength(JSON.stringify(v.metadata))} bytes, which exceeds the limit of 40960 bytes per vector`);
      space.set(v.id, { id: v.id, values: v.values, metadata: v.metadata ?? {}, visibleAtMs: Date.now() + this.visibilityDelayMs });
    }
    return { upsertedCount: vectors.length };
  }

  private query(body: Record<string, unknown>): unknown {
    const vector = body.vector as number[];
    if (!Array.isArray(vector) || vector.length !== this.dimension) throw new Error(`Vector dimension ${vector?.length} does not match the dimension of the index ${this.dimension}`);
    const topK = Number(body.topK);
    if (!Number.isInteger(topK) || topK < 1 || topK > 10_000) throw new Error('topK: must be between 1 and 10000');
    const space = this.namespaces.get(String(body.namespace ?? '')) ?? new Map<string, Row>();
    const now = Date.now();
    const norm = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
    const qn = norm(vector);
    const matches = [...space.values()]
      .filter((r) => r.visibleAtMs <= now && matchesFilter(r.metadata, (body.filter ?? {}) as Filter))
      .map((r) => ({ id: r.id, score: r.values.reduce((s, x, i) => s + x * vector[i], 0) / (qn * norm(r.values)), ...(body.includeMetadata ? { metadata: r.metadata } : {}) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
    return { matches, namespace: body.namespace ?? '', usage: { readUnits: 1 } };
  }
}

function matchesFilter(md: Record<string, unknown>, filter: Filter): boolean {
  return Object.entries(filter).every(([key, ops]) => Object.entries(ops).every(([op, v]) => {
    const x = md[key];
    switch (op) {
      case '$eq': return x === v;
      case '$ne': return x !== v;
      case '$gt': return typeof x === 'number' && x > (v as number);
      case '$gte': return typeof x === 'number' && x >= (v as number);
      case '$lt': return typeof x === 'number' && x < (v as number);
      case '$lte': return typeof x === 'number' && x <= (v as number);
      case '$in': return (v as unknown[]).includes(x);
      default: throw new Error(`unsupported filter operator ${op}`);
    }
  }));
}
