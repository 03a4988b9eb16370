import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedSemanticIndex, lockHolder, processIdentity } from '../../../lambda/adapters/embedded-semantic-index';
import { MemorySemanticIndex } from '../../../lambda/adapters/memory-semantic-index';
import { cachedAnswer } from './exact-cache.contract';
import { semanticIndexContract, unit } from './semantic-index.contract';

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
