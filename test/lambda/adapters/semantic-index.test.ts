import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedSemanticIndex, lockHolder, processIdentity } from '../../../lambda/adapters/embedded-semantic-index';
import { MemorySemanticIndex } from '../../../lambda/adapters/memory-semantic-index';
import { cachedAnswer } from './exact-cache.contract';
import { semanticIndexContract, unit } from './semantic-index.contract';
import { clusteredVectors } from '../../support/vectors';

const dirs: string[] = [];
const open: EmbeddedSemanticIndex[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'llm-finops-index-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const i of open.splice(0)) i.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function embedded(path: string, now?: () => number, maxEntries?: number): EmbeddedSemanticIndex {
  const i = new EmbeddedSemanticIndex({ path, now, maxEntries });
  open.push(i);
  return i;
}

const entry = (p: string) => ({ prompt: p, value: cachedAnswer(p) });

semanticIndexContract('memory', async (now) => new MemorySemanticIndex(100, now));
semanticIndexContract('embedded', async (now) => embedded(tempDir(), now));
// Every partition on its HNSW graph from the first entry: the same contract (tenants, contexts, expiry, order).
semanticIndexContract('embedded, searched through its graph', async (now) => {
  const i = new EmbeddedSemanticIndex({ path: tempDir(), now, annMinEntries: 1 });
  open.push(i);
  return i;
});

describe('EmbeddedSemanticIndex graph (usearch HNSW)', () => {
  const dims = 64;
  const vectors = clusteredVectors(4_000, dims, 40, 7);
  const queries = clusteredVectors(50, dims, 40, 99);

  it('finds the exact top 10 of a large partition (recall >= 0.95) while scoring only the graph\'s candidates', async () => {
    const exact = embedded(tempDir(), undefined, 100_000);
    const graph = new EmbeddedSemanticIndex({ path: tempDir(), annMinEntries: 1_000 });
    open.push(graph);
    for (const [i, v] of vectors.entries()) {
      await exact.put('acme', 'ctx', v, entry(`p${i}`), 60_000);
      await graph.put('acme', 'ctx', v, entry(`p${i}`), 60_000);
    }
    expect(exact.graphPartitions).toBe(1); // the default threshold (2,000) is passed too
    expect(graph.graphPartitions).toBe(1);
    const plain = new EmbeddedSemanticIndex({ path: tempDir(), annMinEntries: 0 });
    open.push(plain);
    for (const [i, v] of vectors.entries()) await plain.put('acme', 'ctx', v, entry(`p${i}`), 60_000);
    expect(plain.graphPartitions).toBe(0);
    let found = 0;
    for (const q of queries) {
      const truth = new Set((await plain.search('acme', 'ctx', q, -1, 10)).map((c) => c.prompt));
      const got = await graph.search('acme', 'ctx', q, -1, 10);
      found += got.filter((c) => truth.has(c.prompt)).length;
      // Scores are the exact ones, not the graph's.
      const best = (await plain.search('acme', 'ctx', q, -1, 1))[0];
      if (got[0].prompt === best.prompt) expect(got[0].score).toBeCloseTo(best.score, 6);
    }
    expect(found / (queries.length * 10)).toBeGreaterThanOrEqual(0.95);
  });

  it('keeps tenants apart: one graph per tenant and context, and a search reads only its own', async () => {
    const idx = new EmbeddedSemanticIndex({ path: tempDir(), annMinEntries: 100 });
    open.push(idx);
    for (const [i, v] of vectors.slice(0, 300).entries()) {
      await idx.put('acme', 'ctx', v, entry(`acme-${i}`), 60_000);
      await idx.put('globex', 'ctx', v, entry(`globex-${i}`), 60_000);
    }
    expect(idx.graphPartitions).toBe(2);
    const hits = await idx.search('globex', 'ctx', vectors[5], -1, 20);
    expect(hits[0]).toMatchObject({ prompt: 'globex-5' });
    expect(hits.every((h) => h.prompt.startsWith('globex-'))).toBe(true);
    expect(await idx.search('initech', 'ctx', vectors[5], -1, 20)).toEqual([]);
  });

  it('saves its graphs on close and loads them on open, adding what came after the save (a crash) and skipping what left', async () => {
    const dir = tempDir();
    let t = Date.UTC(2026, 11, 1);
    const a = new EmbeddedSemanticIndex({ path: dir, annMinEntries: 500, now: () => t });
    for (const [i, v] of vectors.slice(0, 1_000).entries()) await a.put('acme', 'ctx', v, entry(`p${i}`), i < 10 ? 1_000 : 60_000);
    a.close();
    expect(readdirSync(join(dir, 'ann')).sort()).toEqual([expect.stringMatching(/\.usearch$/), expect.stringMatching(/\.usearch\.json$/)]);
    // Reopened: the saved graph; then 10 more entries, and the process dies without closing.
    const b = new EmbeddedSemanticIndex({ path: dir, annMinEntries: 500, now: () => t });
    expect(b.graphPartitions).toBe(1);
    for (const [i, v] of vectors.slice(1_000, 1_010).entries()) await b.put('acme', 'ctx', v, entry(`late${i}`), 60_000);
    t += 5_000; // the first 10 entries expire
    const c = new EmbeddedSemanticIndex({ path: dir, annMinEntries: 500, now: () => t });
    open.push(c);
    expect(c.graphPartitions).toBe(1);
    expect((await c.search('acme', 'ctx', vectors[1_003], 0.99, 1))[0]?.prompt).toBe('late3');
    expect((await c.search('acme', 'ctx', vectors[500], 0.99, 1))[0]?.prompt).toBe('p500');
    expect((await c.search('acme', 'ctx', vectors[3], 0.99, 5)).map((h) => h.prompt)).not.toContain('p3');
  });

  it('rebuilds a graph whose saved file is damaged rather than trusting it', async () => {
    const dir = tempDir();
    const a = new EmbeddedSemanticIndex({ path: dir, annMinEntries: 500 });
    for (const [i, v] of vectors.slice(0, 600).entries()) await a.put('acme', 'ctx', v, entry(`p${i}`), 60_000);
    a.close();
    const graph = readdirSync(join(dir, 'ann')).find((f) => f.endsWith('.usearch'))!;
    writeFileSync(join(dir, 'ann', graph), 'not a graph');
    const b = new EmbeddedSemanticIndex({ path: dir, annMinEntries: 500 });
    open.push(b);
    expect(b.graphPartitions).toBe(1);
    expect((await b.search('acme', 'ctx', vectors[42], 0.99, 1))[0]?.prompt).toBe('p42');
  });
});

describe('MemorySemanticIndex bounds', () => {
  it('stays within its total bound however many conversations pass (it once grew without limit)', async () => {
    const index = new MemorySemanticIndex(100, Date.now, { maxEntries: 1000, maxEntriesPerTenant: 1000 });
    for (let i = 0; i < 20_000; i++) await index.put('acme', `system-prompt-${i}`, unit(8, i % 8), entry(`p${i}`), 60_000);
    expect(index.size).toBe(1000);
    expect(index.partitionCount).toBe(1000);
    // The newest conversations are kept, the oldest went first.
    expect((await index.search('acme', 'system-prompt-19999', unit(8, 19999 % 8), 0.9, 1))[0]?.prompt).toBe('p19999');
    expect(await index.search('acme', 'system-prompt-0', unit(8, 0), 0.9, 1)).toEqual([]);
  });

  it("bounds each tenant: a noisy tenant evicts its own entries, never another's", async () => {
    const index = new MemorySemanticIndex(100, Date.now, { maxEntries: 1000, maxEntriesPerTenant: 200 });
    for (let i = 0; i < 50; i++) await index.put('quiet', 'ctx', unit(8, i % 8), entry(`q${i}`), 60_000);
    for (let i = 0; i < 5000; i++) await index.put('noisy', `ctx-${i % 40}`, unit(8, i % 8), entry(`n${i}`), 60_000);
    expect(index.sizeOf('noisy')).toBe(200);
    expect(index.sizeOf('quiet')).toBe(50);
  });

  it('sweeps expired entries and their empty partitions without waiting for a write to each', async () => {
    let now = 0;
    const index = new MemorySemanticIndex(100, () => now, { maxEntries: 100_000 });
    for (let i = 0; i < 999; i++) await index.put('acme', `ctx-${i}`, unit(8, 0), entry('old'), 1_000);
    now = 5_000;
    // The 1,000th put triggers the sweep: every expired partition goes.
    await index.put('acme', 'fresh', unit(8, 0), entry('new'), 1_000);
    expect({ size: index.size, partitions: index.partitionCount }).toEqual({ size: 1, partitions: 1 });
  });
});

describe('EmbeddedSemanticIndex', () => {

  it('persists entries across a restart', async () => {
    const dir = tempDir();
    const a = embedded(dir);
    await a.put('acme', 'ctx', unit(8, 0), entry('kept'), 60_000);
    a.close();
    open.pop();
    const b = embedded(dir);
    expect((await b.search('acme', 'ctx', unit(8, 0), 0.9, 1))[0]?.prompt).toBe('kept');
  });

  it('refuses a second process on the same directory but takes over a stale lock', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'index.lock'), '1'); // pid 1 is alive and not us
    expect(() => new EmbeddedSemanticIndex({ path: dir })).toThrow('is in use by process 1');
    writeFileSync(join(dir, 'index.lock'), '99999999');
    expect(() => embedded(dir)).not.toThrow();
  });

  it('refuses a lock held by a live gateway, and takes over one whose PID a later process reused after a crash', () => {
    const dir = tempDir();
    // The live holder: process 1 with its real start time.
    writeFileSync(join(dir, 'index.lock'), JSON.stringify(processIdentity(1)));
    expect(() => new EmbeddedSemanticIndex({ path: dir })).toThrow('is in use by process 1');
    // A crashed gateway once had PID 1 (now an unrelated, live process that started at another time): stale.
    writeFileSync(join(dir, 'index.lock'), JSON.stringify({ ...processIdentity(1), start: '1' }));
    expect(() => embedded(dir)).not.toThrow();
    expect(JSON.parse(readFileSync(join(dir, 'index.lock'), 'utf8'))).toEqual(processIdentity(process.pid));
  });

  it('respects a lock from another host (shared storage), which it cannot check', () => {
    expect(lockHolder(JSON.stringify({ pid: 1234, host: 'other-host.example', start: '5' }))).toBe('process 1234 on host other-host.example');
    expect(lockHolder('not json')).toBeNull();
  });

  it('recovers from a torn last record and keeps the complete ones', async () => {
    const dir = tempDir();
    const a = embedded(dir);
    await a.put('acme', 'ctx', unit(8, 0), entry('whole'), 60_000);
    a.close();
    open.pop();
    appendFileSync(join(dir, 'index.log'), Buffer.from([200, 0, 0, 0, 123]));
    const b = embedded(dir);
    expect((await b.search('acme', 'ctx', unit(8, 0), 0.9, 1))[0]?.prompt).toBe('whole');
    await b.put('acme', 'ctx', unit(8, 2), entry('after'), 60_000);
    b.close();
    open.pop();
    const c = embedded(dir);
    expect((await c.search('acme', 'ctx', unit(8, 2), 0.9, 1))[0]?.prompt).toBe('after');
  });

  it('evicts the oldest entries beyond maxEntries and compacts the log', async () => {
    const dir = tempDir();
    const idx = embedded(dir, undefined, 10);
    for (let i = 0; i < 2_000; i++) await idx.put('acme', `ctx-${i}`, unit(8, i), entry(`p${i}`), 60_000);
    expect(idx.size).toBe(10);
    expect(await idx.search('acme', 'ctx-0', unit(8, 0), 0.9, 1)).toEqual([]);
    expect((await idx.search('acme', 'ctx-1999', unit(8, 1999), 0.9, 1))[0]?.prompt).toBe('p1999');
    // 2,000 records written; compaction keeps the file near the live set.
    expect(statSync(join(dir, 'index.log')).size).toBeLessThan(1_100 * 500);
    expect(readFileSync(join(dir, 'index.log')).length).toBeGreaterThan(0);
  });

  it('scores int8-quantised vectors within 1e-2 of the float cosine', async () => {
    const idx = embedded(tempDir());
    const dims = 256;
    const a = new Float32Array(dims).map((_, i) => Math.sin(i * 1.3));
    const b = new Float32Array(dims).map((_, i) => Math.sin(i * 1.3) + 0.3 * Math.cos(i * 0.7));
    const norm = (v: Float32Array) => v.map((x) => x / Math.hypot(...v));
    const [na, nb] = [norm(a), norm(b)];
    const exact = na.reduce((s, x, i) => s + x * nb[i], 0);
    await idx.put('acme', 'ctx', na, entry('a'), 60_000);
    const [hit] = await idx.search('acme', 'ctx', nb, -1, 1);
    expect(Math.abs(hit.score - exact)).toBeLessThan(1e-2);
  });
});
