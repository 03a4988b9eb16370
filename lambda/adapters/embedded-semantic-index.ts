import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';
import { pushTop } from './memory-semantic-index';

interface Entry {
  readonly partition: string;
  readonly tenant: string;
  readonly contextHash: string;
  /** int8 components; the vector is q * scale. */
  readonly q: Int8Array;
  readonly scale: number;
  readonly entry: SemanticEntry;
  readonly expiresAtMs: number;
  /** Slot in its partition; -1 once evicted. */
  slot: number;
}

/** A growable posting list: the slots holding a non-zero in one dimension, and their int8 values. */
class Postings {
  slots = new Int32Array(8);
  vals = new Int8Array(8);
  length = 0;

  push(slot: number, val: number): void {
    if (this.length === this.slots.length) {
      const slots = new Int32Array(this.slots.length * 2);
      slots.set(this.slots);
      this.slots = slots;
      const vals = new Int8Array(this.vals.length * 2);
      vals.set(this.vals);
      this.vals = vals;
    }
    this.slots[this.length] = slot;
    this.vals[this.length++] = val;
  }
}

/**
 * One tenant and context. Sparse vectors (the local lexical embedder sets ~6% of its dimensions) go to an
 * inverted index, so a search touches only the dimensions the query uses; dense ones (Titan, OpenAI, Ollama) are
 * scanned row by row. Evicted slots stay as holes until the partition is rebuilt.
 */
class Partition {
  readonly entries: (Entry | undefined)[] = [];
  private readonly postings = new Map<number, Postings>();
  private readonly dense: number[] = [];
  live = 0;

  add(e: Entry): void {
    e.slot = this.entries.length;
    this.entries.push(e);
    this.live++;
    let nonZero = 0;
    for (let i = 0; i < e.q.length; i++) if (e.q[i] !== 0) nonZero++;
    if (nonZero * 8 <= e.q.length) {
      for (let i = 0; i < e.q.length; i++) {
        if (e.q[i] === 0) continue;
        let p = this.postings.get(i);
        if (!p) this.postings.set(i, (p = new Postings()));
        p.push(e.slot, e.q[i]);
      }
    } else {
      this.dense.push(e.slot);
    }
  }

  remove(e: Entry): void {
    if (e.slot < 0 || this.entries[e.slot] !== e) return;
    this.entries[e.slot] = undefined;
    e.slot = -1;
    this.live--;
  }

  get holes(): number {
    return this.entries.length - this.live;
  }

  search(v: Float32Array, minScore: number, limit: number, now: number): SemanticCandidate[] {
    const top: SemanticCandidate[] = [];
    const consider = (e: Entry | undefined, score: number): void => {
      if (!e || e.expiresAtMs <= now || e.q.length !== v.length || score < minScore) return;
      pushTop(top, { score, prompt: e.entry.prompt, value: e.entry.value }, limit);
    };
    if (this.postings.size) {
      const acc = new Float32Array(this.entries.length);
      const seen = new Uint8Array(this.entries.length);
      const touched: number[] = [];
      for (let i = 0; i < v.length; i++) {
        const qi = v[i];
        if (qi === 0) continue;
        const p = this.postings.get(i);
        if (!p) continue;
        for (let k = 0; k < p.length; k++) {
          const slot = p.slots[k];
          if (!seen[slot]) {
            seen[slot] = 1;
            touched.push(slot);
          }
          acc[slot] += qi * p.vals[k];
        }
      }
      for (const slot of touched) {
        const e = this.entries[slot];
        if (e) consider(e, acc[slot] * e.scale);
      }
    }
    for (const slot of this.dense) {
      const e = this.entries[slot];
      if (!e || e.q.length !== v.length) continue;
      const q = e.q;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i + 3 < q.length; i += 4) {
        s0 += v[i] * q[i];
        s1 += v[i + 1] * q[i + 1];
        s2 += v[i + 2] * q[i + 2];
        s3 += v[i + 3] * q[i + 3];
      }
      for (; i < q.length; i++) s0 += v[i] * q[i];
      consider(e, (s0 + s1 + s2 + s3) * e.scale);
    }
    return top;
  }
}

export interface EmbeddedSemanticIndexOptions {
  /** Directory holding `index.log` and `index.lock`. */
  readonly path: string;
  /** Oldest entries go first beyond this many (all tenants together). */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

const LOG = 'index.log';
const LOCK = 'index.lock';

/**
 * A semantic index for the local gateway that survives restarts: entries live in memory, partitioned by tenant and
 * context (a search reads only the caller's partition), vectors quantised to int8 with a per-vector scale (4x less
 * memory than float32; cosine error about 1e-3 on normalised vectors), sparse ones in an inverted index (see
 * Partition), and every put appended to a log file that is
 * replayed on open and compacted when it holds more dead records than live ones. One process per directory: a lock
 * file refuses a second one.
 *
 * Record layout: u32 header length, header JSON {t, c, e, s, p, v}, u32 dimensions, int8 components.
 */
export class EmbeddedSemanticIndex implements SemanticIndex {
  private readonly partitions = new Map<string, Partition>();
  private readonly order: Entry[] = [];
  private orderHead = 0;
  private fd: number;
  private deadRecords = 0;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly dir: string;

  constructor(opts: EmbeddedSemanticIndexOptions) {
    this.dir = opts.path;
    this.maxEntries = opts.maxEntries ?? 200_000;
    this.now = opts.now ?? Date.now;
    mkdirSync(this.dir, { recursive: true });
    const lock = join(this.dir, LOCK);
    const me = JSON.stringify(processIdentity(process.pid));
    try {
      writeFileSync(lock, me, { flag: 'wx' });
    } catch {
      const holder = lockHolder(readFileSync(lock, 'utf8'));
      if (holder) throw new Error(`semantic index ${this.dir} is in use by ${holder}; one gateway per index directory`);
      writeFileSync(lock, me);
    }
    const file = join(this.dir, LOG);
    if (existsSync(file)) {
      const buf = readFileSync(file);
      const good = this.replay(buf);
      // A torn last record (the process died mid-write) is cut off, so new records append after whole ones.
      if (good < buf.length) truncateSync(file, good);
    }
    this.fd = openSync(file, 'a');
    if (this.deadRecords > this.size) this.compact();
  }

  get size(): number {
    return this.order.length - this.orderHead;
  }

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    const part = this.partitions.get(partitionKey(tenant, contextHash));
    return part ? part.search(vector, minScore, limit, this.now()) : [];
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    const { q, scale } = quantise(vector);
    const expiresAtMs = this.now() + ttlMs;
    writeSync(this.fd, encodeRecord(tenant, contextHash, expiresAtMs, scale, entry, q));
    this.add(tenant, contextHash, q, scale, entry, expiresAtMs);
    if (this.deadRecords > 1000 && this.deadRecords > this.size) this.compact();
  }

  /** Releases the file and the lock. */
  close(): void {
    closeSync(this.fd);
    rmSync(join(this.dir, LOCK), { force: true });
  }

  private add(tenant: string, contextHash: string, q: Int8Array, scale: number, entry: SemanticEntry, expiresAtMs: number): void {
    const partition = partitionKey(tenant, contextHash);
    const e: Entry = { partition, tenant, contextHash, q, scale, entry, expiresAtMs, slot: -1 };
    let part = this.partitions.get(partition);
    if (!part) this.partitions.set(partition, (part = new Partition()));
    part.add(e);
    this.order.push(e);
    while (this.size > this.maxEntries) this.evict(this.order[this.orderHead++]);
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
  }

  private evict(e: Entry): void {
    const part = this.partitions.get(e.partition);
    if (part) {
      part.remove(e);
      if (part.live === 0) this.partitions.delete(e.partition);
      else if (part.holes > 1024 && part.holes > part.live) this.rebuild(e.partition, part);
    }
    this.deadRecords++;
  }

  /** Re-adds a partition's live entries without the holes eviction left. */
  private rebuild(key: string, part: Partition): void {
    const fresh = new Partition();
    for (const e of part.entries) if (e) fresh.add(e);
    this.partitions.set(key, fresh);
  }

  /** Loads the live records; returns the byte length of the whole records read. */
  private replay(buf: Buffer): number {
    const now = this.now();
    let off = 0;
    while (off + 8 <= buf.length) {
      const hl = buf.readUInt32LE(off);
      if (off + 8 + hl > buf.length) break;
      const dims = buf.readUInt32LE(off + 4 + hl);
      if (off + 8 + hl + dims > buf.length) break;
      let h: { t: string; c: string; e: number; s: number; p: string; v: SemanticEntry['value'] };
      try {
        h = JSON.parse(buf.toString('utf8', off + 4, off + 4 + hl));
      } catch {
        break;
      }
      const q = new Int8Array(dims);
      q.set(new Int8Array(buf.buffer, buf.byteOffset + off + 8 + hl, dims));
      off += 8 + hl + dims;
      if (h.e <= now) {
        this.deadRecords++;
        continue;
      }
      this.add(h.t, h.c, q, h.s, { prompt: h.p, value: h.v }, h.e);
    }
    return off;
  }

  /** Rewrites the log with the live entries only, through a temporary file and an atomic rename; drops the dead from memory. */
  private compact(): void {
    const now = this.now();
    const live = this.order.slice(this.orderHead).filter((e) => e.expiresAtMs > now);
    this.order.length = 0;
    this.orderHead = 0;
    this.partitions.clear();
    for (const e of live) {
      let part = this.partitions.get(e.partition);
      if (!part) this.partitions.set(e.partition, (part = new Partition()));
      part.add(e);
      this.order.push(e);
    }
    const tmp = join(this.dir, `${LOG}.tmp`);
    const fd = openSync(tmp, 'w');
    for (const e of live) {
      writeSync(fd, encodeRecord(e.tenant, e.contextHash, e.expiresAtMs, e.scale, e.entry, e.q));
    }
    closeSync(fd);
    closeSync(this.fd);
    renameSync(tmp, join(this.dir, LOG));
    this.fd = openSync(join(this.dir, LOG), 'a');
    this.deadRecords = 0;
  }
}

function encodeRecord(tenant: string, contextHash: string, expiresAtMs: number, scale: number, entry: SemanticEntry, q: Int8Array): Buffer {
  const header = Buffer.from(JSON.stringify({ t: tenant, c: contextHash, e: expiresAtMs, s: scale, p: entry.prompt, v: entry.value }));
  const rec = Buffer.allocUnsafe(8 + header.length + q.length);
  rec.writeUInt32LE(header.length, 0);
  header.copy(rec, 4);
  rec.writeUInt32LE(q.length, 4 + header.length);
  Buffer.from(q.buffer, q.byteOffset, q.length).copy(rec, 8 + header.length);
  return rec;
}

function partitionKey(tenant: string, contextHash: string): string {
  return `${tenant}\u0000${contextHash}`;
}

function quantise(v: Float32Array): { q: Int8Array; scale: number } {
  let max = 0;
  for (const x of v) if (Math.abs(x) > max) max = Math.abs(x);
  const q = new Int8Array(v.length);
  if (max === 0) return { q, scale: 0 };
  const k = 127 / max;
  for (let i = 0; i < v.length; i++) q[i] = Math.round(v[i] * k);
  return { q, scale: max / 127 };
}

/**
 * Who a process is: its PID, host and start time (Linux: /proc/<pid>/stat field 22, clock ticks since boot). A PID
 * alone is not an identity: after a crash the PID can be reused by an unrelated process, which a bare-PID lock would
 * take for the gateway and refuse every restart.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly host: string;
  readonly start: string | null;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function processIdentity(pid: number): ProcessIdentity {
  return { pid, host: hostname(), start: startTimeOf(pid) };
}

/**
 * The live process a lock names, described for an error, or null when the lock is stale: its process is gone, or
 * its PID now belongs to a process that started at another time. A lock from another host cannot be checked and is
 * respected. Locks written before identities (a bare PID) are checked by PID alone.
 */
export function lockHolder(content: string): string | null {
  let id: Partial<ProcessIdentity>;
  try {
    const parsed = JSON.parse(content);
    id = typeof parsed === 'number' ? { pid: parsed } : parsed;
  } catch {
    return null;
  }
  const pid = Number(id.pid);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (id.host !== undefined && id.host !== hostname()) return `process ${pid} on host ${id.host}`;
  if (pid === process.pid || !isAlive(pid)) return null;
  if (id.start !== undefined && id.start !== null) {
    const now = startTimeOf(pid);
    if (now !== null && now !== id.start) return null;
  }
  return `process ${pid}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
