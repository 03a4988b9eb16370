import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Index } from 'usearch';
import { usearch } from './lazy';

let loaded: typeof import('usearch') | null | undefined;

/**
 * The usearch module, or null when it cannot be loaded (an install without optional dependencies, a platform without
 * a prebuilt binary): callers then scan exactly. Said once on stderr.
 */
export function annModule(): typeof import('usearch') | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = usearch();
  } catch (err) {
    loaded = null;
    process.stderr.write(`warning: semantic index: usearch is not available (${(err as Error).message.split('\n')[0]}); large partitions are scanned exactly\n`);
  }
  return loaded;
}

export interface AnnOptions {
  /** HNSW links per node (usearch `connectivity`). */
  readonly connectivity: number;
  /** Candidate list while inserting (`expansion_add`). */
  readonly expansionAdd: number;
  /** Candidate list while searching (`expansion_search`): recall against speed. */
  readonly expansionSearch: number;
}

export const DEFAULT_ANN: AnnOptions = { connectivity: 16, expansionAdd: 128, expansionSearch: 256 };

/**
 * An HNSW graph over one partition's int8 vectors (usearch: C++ with SIMD, prebuilt binaries in its npm tarball,
 * Apache-2.0), keyed by the entries' sequence numbers. It proposes candidates only: the caller scores each against
 * its own copy of the vector and checks tenant, expiry and threshold, so a stale key (an entry gone since) costs a
 * lookup, never a wrong answer.
 */
export class AnnPartitionIndex {
  private constructor(private readonly index: Index, readonly dimensions: number) {}

  static create(mod: typeof import('usearch'), dimensions: number, opts: AnnOptions = DEFAULT_ANN): AnnPartitionIndex {
    return new AnnPartitionIndex(new mod.Index({
      dimensions, metric: mod.MetricKind.Cos, quantization: mod.ScalarKind.I8, connectivity: opts.connectivity,
      expansion_add: opts.expansionAdd, expansion_search: opts.expansionSearch, multi: false,
    }), dimensions);
  }

  get size(): number {
    return this.index.size();
  }

  /** Adds vectors under their keys (many at once: usearch inserts them on several threads). */
  add(keys: readonly number[], vectors: readonly Int8Array[]): void {
    if (!keys.length) return;
    const flat = new Int8Array(keys.length * this.dimensions);
    vectors.forEach((v, i) => flat.set(v, i * this.dimensions));
    this.index.add(BigUint64Array.from(keys, (k) => BigInt(k)), flat);
  }

  remove(key: number): void {
    this.index.remove(BigInt(key));
  }

  /** Keys of up to `k` nearest vectors by cosine, nearest first. */
  search(v: Float32Array, k: number): number[] {
    if (!this.index.size()) return [];
    const m = this.index.search(v, Math.min(k, this.index.size()), 0);
    return Array.from(m.keys, (key) => Number(key));
  }

  /**
   * Writes the graph and its manifest (what partition, up to which sequence number, the file's SHA-256) beside each
   * other, each through a temporary file and a rename, the manifest last: a manifest always describes a whole graph.
   */
  save(file: string, manifest: AnnManifest): void {
    this.index.save(`${file}.tmp`);
    const fd = openSync(`${file}.tmp`, 'r');
    fsyncSync(fd);
    closeSync(fd);
    const sha256 = createHash('sha256').update(readFileSync(`${file}.tmp`)).digest('hex');
    renameSync(`${file}.tmp`, file);
    writeFileSync(`${file}.json.tmp`, JSON.stringify({ ...manifest, dimensions: this.dimensions, size: this.size, sha256 }));
    renameSync(`${file}.json.tmp`, `${file}.json`);
  }

  /**
   * A saved graph whose manifest names this partition and vector size and whose bytes hash to the manifest's SHA-256,
   * or undefined (none, another one, damaged: usearch 2.26 hangs on some damaged files, so they never reach it).
   */
  static load(mod: typeof import('usearch'), file: string, partition: string, dimensions: number, opts: AnnOptions = DEFAULT_ANN): { index: AnnPartitionIndex; maxSeq: number } | undefined {
    if (!existsSync(file) || !existsSync(`${file}.json`)) return undefined;
    try {
      const m = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as AnnManifest & { dimensions: number; size: number; sha256: string };
      if (m.partition !== partition || m.dimensions !== dimensions || typeof m.maxSeq !== 'number') return undefined;
      if (createHash('sha256').update(readFileSync(file)).digest('hex') !== m.sha256) return undefined;
      const ann = AnnPartitionIndex.create(mod, dimensions, opts);
      ann.index.load(file);
      if (ann.size !== m.size) return undefined;
      return { index: ann, maxSeq: m.maxSeq };
    } catch {
      return undefined;
    }
  }
}

export interface AnnManifest {
  /** The partition key (tenant and context) the graph belongs to. */
  readonly partition: string;
  /** Every entry with a higher sequence number was added after the save. */
  readonly maxSeq: number;
}
