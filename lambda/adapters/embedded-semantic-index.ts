import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';
import { annModule, AnnPartitionIndex, DEFAULT_ANN, type AnnOptions } from './ann-index';
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
  /** Sequence number, unique in the index and kept in the log: the entry's key in a partition's ANN graph. */
  readonly seq: number;
  /** Slot in its partition; -1 once evicted. */
  slot: number;
}

/** q . v: the int8 vector against a query (times the entry's scale, its cosine for normalised vectors). */
function dot(v: Float32Array, q: Int8Array): number {
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
  return s0 + s1 + s2 + s3;
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
 * inverted index, so a search touches only the dimensions the query uses; dense ones (the sentence encoder, Titan,
 * OpenAI, Ollama) are scanned row by row. Evicted slots stay as holes until the partition is rebuilt. A large
 * partition also has an HNSW graph (`ann`): a search then scores only the graph's nearest candidates, exactly.
 */
class Partition {
  readonly entries: (Entry | undefined)[] = [];
  private readonly postings = new Map<number, Postings>();
  private readonly dense: number[] = [];
  readonly bySeq = new Map<number, Entry>();
  ann: AnnPartitionIndex | undefined;
  live = 0;

  add(e: Entry): void {
    e.slot = this.entries.length;
    this.entries.push(e);
    this.bySeq.set(e.seq, e);
    this.live++;
    if (this.ann && this.ann.dimensions === e.q.length) this.ann.add([e.seq], [e.q]);
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
    this.bySeq.delete(e.seq);
    this.ann?.remove(e.seq);
    e.slot = -1;
    this.live--;
  }

  /** The live entries of one vector size, for a graph. */
  ofSize(dimensions: number): Entry[] {
    return this.entries.filter((e): e is Entry => e !== undefined && e.q.length === dimensions);
  }

  get holes(): number {
    return this.entries.length - this.live;
  }

  search(v: Float32Array, minScore: number, limit: number, now: number, annCandidates: number): SemanticCandidate[] {
    const top: SemanticCandidate[] = [];
    const consider = (e: Entry | undefined, score: number): void => {
      if (!e || e.expiresAtMs <= now || e.q.length !== v.length || score < minScore) return;
      pushTop(top, { score, prompt: e.entry.prompt, value: e.entry.value }, limit);
    };
    if (this.ann && this.ann.dimensions === v.length) {
      for (const seq of this.ann.search(v, Math.max(limit * 4, annCandidates))) {
        const e = this.bySeq.get(seq);
        // Gone since the graph was saved, or expired: out of the graph, so it crowds no later search.
        if (!e || e.expiresAtMs <= now) {
          this.ann.remove(seq);
          continue;
        }
        consider(e, dot(v, e.q) * e.scale);
      }
      return top;
    }
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
      consider(e, dot(v, e.q) * e.scale);
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
  /**
   * A partition (tenant and context) of at least this many entries gets an HNSW graph (usearch) and is no longer
   * scanned; 0 never. Default 2,000, where a scan of dense 512-d vectors takes about a millisecond.
   */
  readonly annMinEntries?: number;
  /** Candidates a graph search proposes for exact scoring (at least 4 x the asked limit). */
  readonly annCandidates?: number;
  readonly ann?: AnnOptions;
}

const LOG = 'index.log';
const LOCK = 'index.lock';
/** Saved graphs, one `<partition hash>.usearch` (+ `.json` manifest) per large partition, written on close. */
const ANN_DIR = 'ann';

/**
 * A semantic index for the local gateway that survives restarts: entries live in memory, partitioned by tenant and
 * context (a search reads only the caller's partition), vectors quantised to int8 with a per-vector scale (4x less
 * memory than float32; cosine error about 1e-3 on normalised vectors), sparse ones in an inverted index (see
 * Partition), and every put appended to a log file that is
 * replayed on open and compacted when it holds more dead records than live ones. One process per directory: a lock
 * file refuses a second one.
 *
 * Record layout: u32 header length, header JSON {t, c, e, s, p, v, n}, u32 dimensions, int8 components (n: the
 * entry's sequence number, its key in a graph; logs written before it are numbered on replay).
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
  private seq = 0;
  private readonly annMinEntries: number;
  private readonly annCandidates: number;
  private readonly annOptions: AnnOptions;
  /** While the log is replayed, graphs wait: they are loaded or built once, at the end. */
  private replaying = false;

  constructor(opts: EmbeddedSemanticIndexOptions) {
    this.dir = opts.path;
    this.maxEntries = opts.maxEntries ?? 200_000;
    this.now = opts.now ?? Date.now;
    this.annMinEntries = opts.annMinEntries ?? 2_000;
    this.annCandidates = opts.annCandidates ?? 40;
    this.annOptions = opts.ann ?? DEFAULT_ANN;
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
      this.replaying = true;
      const good = this.replay(buf);
      this.replaying = false;
      // A torn last record (the process died mid-write) is cut off, so new records append after whole ones.
      if (good < buf.length) truncateSync(file, good);
    }
    this.fd = openSync(file, 'a');
    if (this.deadRecords > this.size) this.compact();
    for (const [key, part] of this.partitions) this.attachGraph(key, part, true);
  }

  /** Partitions with a graph (for tests and the benchmark). */
  get graphPartitions(): number {
    let n = 0;
    for (const p of this.partitions.values()) if (p.ann) n++;
    return n;
  }

  get size(): number {
    return this.order.length - this.orderHead;
  }

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    const part = this.partitions.get(partitionKey(tenant, contextHash));
    return part ? part.search(vector, minScore, limit, this.now(), this.annCandidates) : [];
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    const { q, scale } = quantise(vector);
    const expiresAtMs = this.now() + ttlMs;
    const seq = this.seq++;
    writeSync(this.fd, encodeRecord(tenant, contextHash, expiresAtMs, scale, entry, q, seq));
    this.add(tenant, contextHash, q, scale, entry, expiresAtMs, seq);
    if (this.deadRecords > 1000 && this.deadRecords > this.size) this.compact();
  }

  /** Saves the graphs (so the next open loads rather than rebuilds them), then releases the file and the lock. */
  close(): void {
    this.saveGraphs();
    closeSync(this.fd);
    rmSync(join(this.dir, LOCK), { force: true });
  }

  private graphFile(key: string): string {
    return join(this.dir, ANN_DIR, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.usearch`);
  }

  /**
   * Gives a partition that has reached `annMinEntries` its graph: the one saved on the last close when it still
   * fits (`reopen`: the entries added since are added to it), else one built from its entries.
   */
  private attachGraph(key: string, part: Partition, reopen = false): void {
    if (part.ann || this.replaying || !this.annMinEntries || part.live < this.annMinEntries) return;
    const mod = annModule();
    if (!mod) return;
    // The graph holds the partition's most common vector size (one embedder; a change of embedder starts anew).
    const sizes = new Map<number, number>();
    for (const e of part.entries) if (e) sizes.set(e.q.length, (sizes.get(e.q.length) ?? 0) + 1);
    const dimensions = [...sizes].sort((a, b) => b[1] - a[1])[0][0];
    const entries = part.ofSize(dimensions);
    const saved = reopen ? AnnPartitionIndex.load(mod, this.graphFile(key), key, dimensions, this.annOptions) : undefined;
    const ann = saved?.index ?? AnnPartitionIndex.create(mod, dimensions, this.annOptions);
    const missing = saved ? entries.filter((e) => e.seq > saved.maxSeq) : entries;
    ann.add(missing.map((e) => e.seq), missing.map((e) => e.q));
    part.ann = ann;
  }

  private saveGraphs(): void {
    const dir = join(this.dir, ANN_DIR);
    const keep = new Set<string>();
    for (const [key, part] of this.partitions) {
      if (!part.ann) continue;
      mkdirSync(dir, { recursive: true });
      const file = this.graphFile(key);
      try {
        part.ann.save(file, { partition: key, maxSeq: this.seq - 1 });
        keep.add(file);
      } catch (err) {
        process.stderr.write(`warning: semantic index: cannot save the graph of a partition to ${file}: ${(err as Error).message}\n`);
      }
    }
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)) {
      if (!keep.has(join(dir, f.replace(/\.json$/, '')))) rmSync(join(dir, f), { force: true });
    }
  }

  private add(tenant: string, contextHash: string, q: Int8Array, scale: number, entry: SemanticEntry, expiresAtMs: number, seq: number): void {
    const partition = partitionKey(tenant, contextHash);
    const e: Entry = { partition, tenant, contextHash, q, scale, entry, expiresAtMs, seq, slot: -1 };
    let part = this.partitions.get(partition);
    if (!part) this.partitions.set(partition, (part = new Partition()));
    part.add(e);
    this.attachGraph(partition, part);
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

  /** Re-adds a partition's live entries without the holes eviction left (its graph goes along). */
  private rebuild(key: string, part: Partition): void {
    const fresh = new Partition();
    for (const e of part.entries) if (e) fresh.add(e);
    fresh.ann = part.ann;
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
      let h: { t: string; c: string; e: number; s: number; p: string; v: SemanticEntry['value']; n?: number };
      try {
        h = JSON.parse(buf.toString('utf8', off + 4, off + 4 + hl));
      } catch {
        break;
      }
      const q = new Int8Array(dims);
      q.set(new Int8Array(buf.buffer, buf.byteOffset + off + 8 + hl, dims));
      off += 8 + hl + dims;
      // Logs written before sequence numbers: numbered in order now (and so on the next compaction).
      const seq = typeof h.n === 'number' && h.n >= this.seq ? h.n : this.seq;
      this.seq = seq + 1;
      if (h.e <= now) {
        this.deadRecords++;
        continue;
      }
      this.add(h.t, h.c, q, h.s, { prompt: h.p, value: h.v }, h.e, seq);
    }
    return off;
  }

  /** Rewrites the log with the live entries only, through a temporary file and an atomic rename; drops the dead from memory. */
  private compact(): void {
    const now = this.now();
    const live = this.order.slice(this.orderHead).filter((e) => e.expiresAtMs > now);
    this.order.length = 0;
    this.orderHead = 0;
    // Graphs go along with their partitions; the entries left out turn stale keys there, dropped when met.
    const graphs = new Map([...this.partitions].map(([k, p]) => [k, p.ann]));
    this.partitions.clear();
    for (const e of live) {
      let part = this.partitions.get(e.partition);
      if (!part) this.partitions.set(e.partition, (part = new Partition()));
      part.add(e);
      this.order.push(e);
    }
    for (const [k, p] of this.partitions) p.ann = graphs.get(k);
    const tmp = join(this.dir, `${LOG}.tmp`);
    const fd = openSync(tmp, 'w');
    for (const e of live) {
      writeSync(fd, encodeRecord(e.tenant, e.contextHash, e.expiresAtMs, e.scale, e.entry, e.q, e.seq));
    }
    closeSync(fd);
    closeSync(this.fd);
    renameSync(tmp, join(this.dir, LOG));
    this.fd = openSync(join(this.dir, LOG), 'a');
    this.deadRecords = 0;
  }
}

function encodeRecord(tenant: string, contextHash: string, expiresAtMs: number, scale: number, entry: SemanticEntry, q: Int8Array, seq: number): Buffer {
  const header = Buffer.from(JSON.stringify({ t: tenant, c: contextHash, e: expiresAtMs, s: scale, p: entry.prompt, v: entry.value, n: seq }));
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
