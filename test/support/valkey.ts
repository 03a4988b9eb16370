import { createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback stand-in for a Valkey 8.2+ server with valkey-search (ElastiCache for Valkey, MemoryDB), speaking RESP2
 * over TCP so the real ioredis client talks to it. Debian ships Redis 7.0 without the query engine and no npm package
 * carries a Valkey with valkey-search, so the adapter's tests run here; `VALKEY_URL` runs the same contract against a
 * real server. What it keeps of the documented behaviour (https://valkey.io/topics/search/, ElastiCache "Search
 * features and limits", MemoryDB FT.SEARCH reference):
 * - AUTH [user] password; NOAUTH before it when a password is set; WRONGPASS on a bad one.
 * - Keys with PEXPIRE vanish when their time passes (server clock); MULTI/EXEC runs queued commands together.
 * - FT.CREATE ON HASH PREFIX n p... SCHEMA with VECTOR (HNSW|FLAT, TYPE FLOAT32, DIM, DISTANCE_METRIC), TAG and
 *   NUMERIC fields; a second FT.CREATE of the same name is an error; FT.INFO of an unknown index is an error.
 * - A hash is indexed only when its vector field is exactly DIM float32s (others are skipped, as the engine does).
 * - FT.SEARCH "(filter)=>[KNN k @field $param]" PARAMS ... DIALECT 2: tag filters `@f:{v}`, numeric ranges
 *   `@f:[min max]` (with `(` for exclusive, +inf/-inf), the K nearest among the filtered keys, the distance as
 *   `__<field>_score` (COSINE: 1 - cos), nearest first, LIMIT offset count (default 0 10), every hash field returned.
 * Commands it does not know get the server's "unknown command" error. Every command is recorded.
 */
export class FakeValkey {
  readonly commands: string[][] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly data = new Map<string, { fields: Map<string, Buffer>; expiresAt?: number }>();
  private readonly indexes = new Map<string, IndexDef>();
  port = 0;

  /** The server's clock for key expiry (tests move it instead of sleeping). */
  now: () => number = Date.now;

  constructor(readonly password?: string, readonly username = 'default') {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Commands of the data path (not the client's connection handshake). */
  dataCommands(): string[][] {
    return this.commands.filter((c) => !['AUTH', 'INFO', 'CLIENT', 'SELECT', 'PING', 'HELLO'].includes(c[0].toUpperCase()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    let buf = Buffer.alloc(0);
    const state: Conn = { authed: !this.password };
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const parsed = parseCommand(buf);
        if (!parsed) break;
        buf = buf.subarray(parsed.used);
        socket.write(encode(this.handle(state, parsed.args)));
      }
    });
    socket.on('error', () => undefined);
  }

  private handle(conn: Conn, args: Buffer[], record = true): Reply {
    const strs = args.map((a) => a.toString('latin1'));
    const name = strs[0].toUpperCase();
    if (record) this.commands.push([name, ...args.slice(1).map((a) => a.toString('utf8'))]);
    if (name === 'AUTH') {
      const [user, pass] = strs.length === 3 ? [strs[1], strs[2]] : [this.username, strs[1]];
      if (this.password === undefined) return new Error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
      if (user !== this.username || pass !== this.password) return new Error('WRONGPASS invalid username-password pair or user is disabled.');
      conn.authed = true;
      return 'OK';
    }
    if (!conn.authed) return new Error('NOAUTH Authentication required.');
    if (conn.queue && !['EXEC', 'DISCARD', 'MULTI'].includes(name)) {
      conn.queue.push(args);
      return 'QUEUED';
    }
    switch (name) {
      case 'PING': return 'PONG';
      case 'QUIT': return 'OK';
      case 'INFO': return Buffer.from('# Server\r\nredis_version:7.2.4\r\nvalkey_version:8.2.1\r\n# Persistence\r\nloading:0\r\n');
      case 'CLIENT': case 'SELECT': return 'OK';
      case 'MULTI':
        if (conn.queue) return new Error('ERR MULTI calls can not be nested');
        conn.queue = [];
        return 'OK';
      case 'DISCARD':
        conn.queue = undefined;
        return 'OK';
      case 'EXEC': {
        if (!conn.queue) return new Error('ERR EXEC without MULTI');
        const queued = conn.queue;
        conn.queue = undefined;
        return queued.map((c) => this.handle(conn, c, false));
      }
      case 'HSET': return this.hset(args);
      case 'PEXPIRE': {
        const entry = this.live(strs[1]);
        if (!entry) return 0;
        entry.expiresAt = this.now() + Number(strs[2]);
        return 1;
      }
      case 'HGETALL': {
        const entry = this.live(strs[1]);
        return entry ? [...entry.fields].flatMap(([k, v]) => [Buffer.from(k), v]) : [];
      }
      case 'FT.CREATE': return this.ftCreate(strs);
      case 'FT.INFO': {
        const ix = this.indexes.get(strs[1]);
        if (!ix) return new Error(`Index with name '${strs[1]}' not found`);
        return ['index_name', strs[1], 'attributes', ix.fields.map((f) => f.type === 'VECTOR'
          ? ['identifier', f.name, 'attribute', f.name, 'type', 'VECTOR', 'index', ['capacity', 10240, 'dimensions', f.dim!, 'distance_metric', f.metric!, 'data_type', 'FLOAT32', 'algorithm', ['name', f.algorithm!]]]
          : ['identifier', f.name, 'attribute', f.name, 'type', f.type])];
      }
      case 'FT.SEARCH': return this.ftSearch(args);
      default:
        return new Error(`ERR unknown command '${strs[0]}', with args beginning with: ${strs.slice(1, 3).map((s) => `'${s}'`).join(' ')}`);
    }
  }

  private live(key: string): { fields: Map<string, Buffer>; expiresAt?: number } | undefined {
    const entry = this.data.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    return entry;
  }

  private hset(args: Buffer[]): Reply {
    if (args.length < 4 || args.length % 2 !== 0) return new Error("ERR wrong number of arguments for 'hset' command");
    const key = args[1].toString('utf8');
    const entry = this.live(key) ?? { fields: new Map() };
    let added = 0;
    for (let i = 2; i < args.length; i += 2) {
      const field = args[i].toString('utf8');
      if (!entry.fields.has(field)) added++;
      entry.fields.set(field, Buffer.from(args[i + 1]));
    }
    this.data.set(key, entry);
    return added;
  }

  private ftCreate(s: string[]): Reply {
    const name = s[1];
    if (this.indexes.has(name)) return new Error(`Index ${name} already exists.`);
    let i = 2;
    const prefixes: string[] = [];
    if (s[i]?.toUpperCase() === 'ON') {
      if (s[i + 1].toUpperCase() !== 'HASH') return new Error('ERR only HASH is supported here');
      i += 2;
    }
    if (s[i]?.toUpperCase() === 'PREFIX') {
      const n = Number(s[i + 1]);
      prefixes.push(...s.slice(i + 2, i + 2 + n));
      i += 2 + n;
    }
    if (s[i]?.toUpperCase() !== 'SCHEMA') return new Error('ERR Invalid argument: expected SCHEMA');
    i++;
    const fields: FieldDef[] = [];
    while (i < s.length) {
      const fname = s[i];
      const type = s[i + 1]?.toUpperCase();
      if (type === 'TAG' || type === 'NUMERIC') {
        fields.push({ name: fname, type });
        i += 2;
      } else if (type === 'VECTOR') {
        const algorithm = s[i + 2].toUpperCase();
        const count = Number(s[i + 3]);
        const attrs = new Map<string, string>();
        for (let j = 0; j < count; j += 2) attrs.set(s[i + 4 + j].toUpperCase(), s[i + 5 + j]);
        if (!['HNSW', 'FLAT'].includes(algorithm)) return new Error(`ERR Invalid vector algorithm ${algorithm}`);
        if (attrs.get('TYPE') !== 'FLOAT32') return new Error('ERR Invalid field type: vector TYPE must be FLOAT32');
        const dim = Number(attrs.get('DIM'));
        if (!Number.isInteger(dim) || dim < 1 || dim > 32768) return new Error('ERR Invalid DIM');
        const metric = attrs.get('DISTANCE_METRIC');
        if (!['COSINE', 'L2', 'IP'].includes(metric ?? '')) return new Error('ERR Invalid DISTANCE_METRIC');
        fields.push({ name: fname, type, dim, metric: metric as FieldDef['metric'], algorithm });
        i += 4 + count;
      } else {
        return new Error(`ERR Invalid field type for field \`${fname}\`: ${s[i + 1]}`);
      }
    }
    this.indexes.set(name, { prefixes, fields });
    return 'OK';
  }

  private ftSearch(args: Buffer[]): Reply {
    const s = args.map((a) => a.toString('utf8'));
    const ix = this.indexes.get(s[1]);
    if (!ix) return new Error(`Index with name '${s[1]}' not found`);
    const params = new Map<string, Buffer>();
    let limit = [0, 10];
    let dialect = 1;
    for (let i = 3; i < s.length; i++) {
      const opt = s[i].toUpperCase();
      if (opt === 'PARAMS') {
        const n = Number(s[i + 1]);
        for (let j = 0; j < n; j += 2) params.set(s[i + 2 + j], args[i + 3 + j]);
        i += 1 + n;
      } else if (opt === 'LIMIT') {
        limit = [Number(s[i + 1]), Number(s[i + 2])];
        i += 2;
      } else if (opt === 'DIALECT') {
        dialect = Number(s[++i]);
      } else if (opt === 'TIMEOUT') {
        i++;
      } else {
        return new Error(`ERR Unexpected argument \`${s[i]}\``);
      }
    }
    const m = /^\s*(\*|\((.*)\))\s*=>\s*\[KNN\s+(\d+)\s+@(\w+)\s+\$(\w+)(?:\s+EF_RUNTIME\s+(\d+))?\s*\]\s*$/i.exec(s[2]);
    if (!m) return new Error(`ERR Invalid query: ${s[2]}`);
    if (dialect < 2) return new Error('ERR vector queries need DIALECT 2');
    const [, , filterText, k, field, param] = m;
    const vf = ix.fields.find((f) => f.name === field && f.type === 'VECTOR');
    if (!vf) return new Error(`ERR Invalid field: @${field} is not a vector field`);
    const blob = params.get(param);
    if (!blob) return new Error(`ERR Parameter ${param} not found`);
    if (blob.length !== vf.dim! * 4) return new Error(`ERR Invalid query vector: expected ${vf.dim! * 4} bytes, got ${blob.length}`);
    const filters: ((fields: Map<string, Buffer>) => boolean)[] = [];
    for (const term of (filterText ?? '').trim() ? filterText.trim().split(/\s+(?=@)/) : []) {
      const tag = /^@(\w+):\{(.*)\}$/.exec(term);
      const num = /^@(\w+):\[(\(?)(\S+)\s+(\(?)(\S+)\]$/.exec(term);
      if (tag && ix.fields.some((f) => f.name === tag[1] && f.type === 'TAG')) {
        const values = tag[2].split('|').map((v) => v.trim().replace(/\\(.)/g, '$1'));
        filters.push((f) => values.includes(f.get(tag[1])?.toString('utf8') ?? '\0'));
      } else if (num && ix.fields.some((f) => f.name === num[1] && f.type === 'NUMERIC')) {
        const bound = (t: string) => (t === '+inf' ? Infinity : t === '-inf' ? -Infinity : Number(t));
        const [lo, hi] = [bound(num[3]), bound(num[5])];
        if (Number.isNaN(lo) || Number.isNaN(hi)) return new Error(`ERR Invalid numeric range: ${term}`);
        filters.push((f) => {
          const v = Number(f.get(num[1])?.toString('utf8'));
          return !Number.isNaN(v) && (num[2] ? v > lo : v >= lo) && (num[4] ? v < hi : v <= hi);
        });
      } else {
        return new Error(`ERR Invalid filter expression: ${term}`);
      }
    }
    const query = toFloats(blob);
    const scored: { key: string; fields: Map<string, Buffer>; distance: number }[] = [];
    for (const key of [...this.data.keys()]) {
      const entry = this.live(key);
      if (!entry || !ix.prefixes.some((p) => key.startsWith(p)) && ix.prefixes.length) continue;
      const vec = entry.fields.get(field);
      if (!vec || vec.length !== vf.dim! * 4) continue; // not indexed
      if (!filters.every((f) => f(entry.fields))) continue;
      scored.push({ key, fields: entry.fields, distance: distance(vf.metric!, query, toFloats(vec)) });
    }
    scored.sort((a, b) => a.distance - b.distance);
    const nearest = scored.slice(0, Number(k));
    const page = nearest.slice(limit[0], limit[0] + limit[1]);
    const out: Reply[] = [nearest.length];
    for (const r of page) {
      out.push(r.key);
      out.push([`__${field}_score`, String(r.distance), ...[...r.fields].flatMap(([fk, fv]) => [fk, fv])]);
    }
    return out;
  }
}

interface Conn {
  authed: boolean;
  queue?: Buffer[][];
}

interface FieldDef {
  readonly name: string;
  readonly type: 'TAG' | 'NUMERIC' | 'VECTOR';
  readonly dim?: number;
  readonly metric?: 'COSINE' | 'L2' | 'IP';
  readonly algorithm?: string;
}

interface IndexDef {
  readonly prefixes: string[];
  readonly fields: FieldDef[];
}

type Reply = string | number | Buffer | Error | Reply[] | null;

function toFloats(b: Buffer): Float32Array {
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

function distance(metric: 'COSINE' | 'L2' | 'IP', a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    l2 += (a[i] - b[i]) ** 2;
  }
  if (metric === 'L2') return l2;
  if (metric === 'IP') return 1 - dot;
  return 1 - dot / (Math.sqrt(na * nb) || 1);
}

function encode(r: Reply): string | Buffer {
  if (r === null) return '$-1\r\n';
  if (r instanceof Error) return `-${r.message}\r\n`;
  if (typeof r === 'number') return `:${r}\r\n`;
  if (typeof r === 'string') return r === 'OK' || r === 'QUEUED' || r === 'PONG' ? `+${r}\r\n` : bulk(Buffer.from(r));
  if (Buffer.isBuffer(r)) return bulk(r);
  return Buffer.concat([Buffer.from(`*${r.length}\r\n`), ...r.map((x) => { const e = encode(x); return typeof e === 'string' ? Buffer.from(e) : e; })]);
}

function bulk(b: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
}

/** One RESP array of bulk strings from the front of `buf`, or undefined when it is not all there yet. */
function parseCommand(buf: Buffer): { args: Buffer[]; used: number } | undefined {
  if (buf.length === 0) return undefined;
  let pos = 0;
  const line = (): string | undefined => {
    const end = buf.indexOf('\r\n', pos);
    if (end < 0) return undefined;
    const s = buf.toString('latin1', pos, end);
    pos = end + 2;
    return s;
  };
  const head = line();
  if (head === undefined) return undefined;
  if (head[0] !== '*') return { args: head.trim().split(/\s+/).map((t) => Buffer.from(t)), used: pos }; // inline command
  const n = Number(head.slice(1));
  const args: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const h = line();
    if (h === undefined || h[0] !== '$') return undefined;
    const len = Number(h.slice(1));
    if (buf.length < pos + len + 2) return undefined;
    args.push(buf.subarray(pos, pos + len));
    pos += len + 2;
  }
  return { args, used: pos };
}
