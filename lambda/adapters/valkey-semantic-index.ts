import type { CachedCompletion, SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';
import { ioredis } from './lazy';
import { onceUntilFailure } from './once';

/** The commands the index sends; ioredis (and a test double) provide them. */
export interface ValkeyCommands {
  call(command: string, ...args: (string | Buffer | number)[]): Promise<unknown>;
  /** Runs the commands as one MULTI/EXEC transaction on one connection. */
  transaction(commands: (string | Buffer | number)[][]): Promise<void>;
  /** Closes the connection (tests, CLI shutdown). */
  close?(): Promise<void>;
}

export interface ValkeySemanticIndexOptions {
  readonly client: ValkeyCommands;
  /** FT index name; one index holds every tenant. */
  readonly indexName: string;
  /** Key prefix the index covers (FT.CREATE ... PREFIX 1 keyPrefix). */
  readonly keyPrefix: string;
  /** Vector size; must match the embedder. An existing index of another size is an error, never silently reused. */
  readonly dimensions: number;
  /** HNSW EF_RUNTIME for queries (recall against latency); the engine's default when unset. */
  readonly efRuntime?: number;
  readonly now?: () => number;
}

/** Where to reach the server; `connectValkey` turns this into ValkeyCommands over ioredis. */
export interface ValkeyConnection {
  /** redis://host:port or rediss://host:port (TLS). */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs?: number;
}

/**
 * Valkey / Redis vector search (ElastiCache for Valkey 8.2+, MemoryDB with vector search, Redis 8 / Redis Stack):
 * each entry is a hash under `keyPrefix` with the tenant and the conversation context as TAG fields (hex-encoded, so
 * no tenant id can break out of a tag query), the expiry as a NUMERIC field and as the key's own PEXPIRE, and the
 * vector as FLOAT32 bytes in an HNSW COSINE field. A search is one FT.SEARCH whose KNN runs on the keys that pass the
 * tag and expiry pre-filter, so the nearest neighbours are chosen among the caller's entries only; each result's
 * tenant, context and expiry are re-checked. The engine's score is the cosine distance; it is turned back into cos.
 */
export class ValkeySemanticIndex implements SemanticIndex {
  private readonly ready = onceUntilFailure(() => this.createIndex());
  private readonly now: () => number;

  constructor(private readonly opts: ValkeySemanticIndexOptions) {
    this.now = opts.now ?? Date.now;
    if (!/^[A-Za-z0-9_:.-]+$/.test(opts.keyPrefix)) throw new Error(`valkey keyPrefix: letters, digits and _:.- only, got '${opts.keyPrefix}'`);
  }

  /** The FT.CREATE arguments after the command name; exported for documentation and tests. */
  static createArgs(indexName: string, keyPrefix: string, dimensions: number): (string | number)[] {
    return [
      indexName, 'ON', 'HASH', 'PREFIX', 1, keyPrefix, 'SCHEMA',
      'vector', 'VECTOR', 'HNSW', 10, 'TYPE', 'FLOAT32', 'DIM', dimensions, 'DISTANCE_METRIC', 'COSINE', 'M', 16, 'EF_CONSTRUCTION', 128,
      'tenant', 'TAG', 'context', 'TAG', 'expires_at', 'NUMERIC',
    ];
  }

  /** A tag value safe in a query whatever the tenant id holds. */
  static tag(value: string): string {
    return Buffer.from(value, 'utf8').toString('hex');
  }

  /** Creates the index unless it exists; checks an existing one's vector size. Idempotent. */
  ensureIndex(): Promise<void> {
    return this.ready();
  }

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    await this.ensureIndex();
    const now = this.now();
    const t = ValkeySemanticIndex.tag(tenant);
    const c = ValkeySemanticIndex.tag(contextHash);
    const ef = this.opts.efRuntime ? ` EF_RUNTIME ${this.opts.efRuntime}` : '';
    const query = `(@tenant:{${t}} @context:{${c}} @expires_at:[${now + 1} +inf])=>[KNN ${limit} @vector $vec${ef}]`;
    const reply = await this.opts.client.call('FT.SEARCH', this.opts.indexName, query, 'PARAMS', 2, 'vec', vectorBytes(vector), 'LIMIT', 0, limit, 'DIALECT', 2);
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') throw new Error('valkey FT.SEARCH: the reply is not [count, key, fields, ...]');
    const out: SemanticCandidate[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const fields = reply[i + 1];
      if (!Array.isArray(fields)) throw new Error(`valkey FT.SEARCH: result ${String(reply[i])} has no field list`);
      const f = new Map<string, string>();
      for (let j = 0; j + 1 < fields.length; j += 2) f.set(String(fields[j]), String(fields[j + 1]));
      const distance = Number(f.get('__vector_score'));
      if (!Number.isFinite(distance)) throw new Error(`valkey FT.SEARCH: result ${String(reply[i])} has no numeric __vector_score`);
      // Expiry is in whole milliseconds, so [now + 1, +inf] is 'after now' without the exclusive-bound syntax.
      // Re-checked here as well as in the pre-filter: another tenant's, another context's or an expired entry is never served.
      if (f.get('tenant') !== t || f.get('context') !== c || !(Number(f.get('expires_at')) > now)) continue;
      const score = 1 - distance;
      const prompt = f.get('prompt');
      const raw = f.get('value');
      if (score < minScore || prompt === undefined || raw === undefined) continue;
      let value: CachedCompletion;
      try {
        value = JSON.parse(raw) as CachedCompletion;
      } catch {
        continue;
      }
      out.push({ score, prompt, value });
    }
    return out.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    if (vector.length !== this.opts.dimensions) throw new Error(`valkey put: the vector has ${vector.length} dimensions, the index ${this.opts.dimensions}`);
    await this.ensureIndex();
    const now = this.now();
    const t = ValkeySemanticIndex.tag(tenant);
    const key = `${this.opts.keyPrefix}${t}:${contextHash.slice(0, 16)}:${now.toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    await this.opts.client.transaction([
      ['HSET', key, 'tenant', t, 'context', ValkeySemanticIndex.tag(contextHash), 'expires_at', now + ttlMs, 'prompt', entry.prompt, 'value', JSON.stringify(entry.value), 'vector', vectorBytes(vector)],
      ['PEXPIRE', key, Math.max(1, Math.ceil(ttlMs))],
    ]);
  }

  private async createIndex(): Promise<void> {
    const { client, indexName, keyPrefix, dimensions } = this.opts;
    let info: unknown;
    try {
      info = await client.call('FT.INFO', indexName);
    } catch (err) {
      if (!/not found|unknown index|no such index/i.test(String((err as Error).message ?? err))) throw err;
      try {
        await client.call('FT.CREATE', ...ValkeySemanticIndex.createArgs(indexName, keyPrefix, dimensions));
        return;
      } catch (createErr) {
        // Another instance created it first.
        if (!/already exists/i.test(String((createErr as Error).message ?? createErr))) throw createErr;
        info = await client.call('FT.INFO', indexName);
      }
    }
    const dims = infoDimensions(info);
    if (dims !== dimensions) {
      throw new Error(
        `Valkey index '${indexName}' has ${dims === undefined ? 'no vector field this adapter recognises' : `vectors of ${dims} dimensions`}, the embedder makes ${dimensions}: ` +
          'use another indexName and keyPrefix, or FT.DROPINDEX it',
      );
    }
  }
}

function vectorBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The vector size in an FT.INFO reply: valkey-search says `dimensions`, RediSearch `dim`. */
function infoDimensions(info: unknown): number | undefined {
  const stack: unknown[] = [info];
  while (stack.length) {
    const node = stack.pop();
    if (!Array.isArray(node)) continue;
    for (let i = 0; i < node.length; i++) {
      const k = node[i];
      if (typeof k === 'string' && /^(dimensions|dim)$/i.test(k) && i + 1 < node.length && Number.isInteger(Number(node[i + 1]))) return Number(node[i + 1]);
      if (Array.isArray(k)) stack.push(k);
    }
  }
  return undefined;
}

/**
 * ValkeyCommands over ioredis, loaded on first use so a deployment without this index never loads it. Commands fail
 * fast (timeoutMs, no offline queue retries): a cache that cannot answer is a miss, not a stalled request.
 */
export function connectValkey(conn: ValkeyConnection): ValkeyCommands {
  let client: Promise<import('ioredis').Redis> | undefined;
  const get = () => (client ??= Promise.resolve().then(() => {
    const { Redis } = ioredis();
    const u = new URL(conn.url);
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`valkey url: expected redis:// or rediss://, got ${u.protocol}`);
    const redis = new Redis({
      host: u.hostname,
      port: Number(u.port || 6379),
      username: conn.username ?? (u.username ? decodeURIComponent(u.username) : undefined),
      password: conn.password ?? (u.password ? decodeURIComponent(u.password) : undefined),
      tls: u.protocol === 'rediss:' ? { servername: u.hostname } : undefined,
      connectTimeout: conn.timeoutMs ?? 2_000,
      commandTimeout: conn.timeoutMs ?? 2_000,
      maxRetriesPerRequest: 1,
      enableAutoPipelining: true,
      // RESP2: the FT.SEARCH reply shape the AWS and valkey-search references document ([count, key, [field, value...]]),
      // and AUTH rather than HELLO 3 AUTH, which every engine of this kind accepts.
      protocol: 2,
    });
    // Connection errors (refused, WRONGPASS, TLS) reach each command as its own rejection, which the cache step turns
    // into a miss; the client keeps reconnecting with back-off. Said once per distinct message, not per retry.
    const said = new Set<string>();
    redis.on('error', (err: Error) => {
      if (said.size < 20 && !said.has(err.message)) {
        said.add(err.message);
        console.warn(`valkey ${u.host}: ${err.message}`);
      }
    });
    return redis;
  }));
  return {
    async call(command, ...args) {
      return (await get()).call(command, ...args);
    },
    async transaction(commands) {
      const results = await (await get()).multi(commands.map(([name, ...args]) => ['call', name, ...args])).exec();
      const failed = results?.find(([err]) => err);
      if (!results) throw new Error('valkey transaction: discarded');
      if (failed) throw failed[0]!;
    },
    async close() {
      if (client) (await client.catch(() => undefined))?.disconnect();
    },
  };
}
