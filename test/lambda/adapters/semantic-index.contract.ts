import type { SemanticIndex } from '../../../lambda/core/ports';
import { cachedAnswer } from './exact-cache.contract';

/** A unit vector pointing mostly along axis `i` of `dims`, tilted by `tilt` towards axis i+1. */
export function unit(dims: number, i: number, tilt = 0): Float32Array {
  const v = new Float32Array(dims);
  v[i % dims] = Math.cos(tilt);
  v[(i + 1) % dims] = Math.sin(tilt);
  return v;
}

/**
 * The behaviour every SemanticIndex adapter must have. `make(now)` returns an empty index reading time from `now`.
 */
export function semanticIndexContract(name: string, make: (now: () => number) => Promise<SemanticIndex>, dims = 16): void {
  describe(`SemanticIndex contract: ${name}`, () => {
    let t: number;
    let index: SemanticIndex;
    beforeEach(async () => {
      t = Date.UTC(2026, 10, 29);
      index = await make(() => t);
    });
    const entry = (prompt: string) => ({ prompt, value: cachedAnswer(`answer to ${prompt}`) });

    it('finds the stored entry for the same vector with cosine 1', async () => {
      await index.put('acme', 'ctx', unit(dims, 0), entry('capital of France'), 60_000);
      const [hit] = await index.search('acme', 'ctx', unit(dims, 0), 0.9, 5);
      expect(hit.prompt).toBe('capital of France');
      expect(hit.value).toEqual(cachedAnswer('answer to capital of France'));
      expect(hit.score).toBeCloseTo(1, 2);
    });

    it('never returns another tenant\'s entry, however close', async () => {
      await index.put('acme', 'ctx', unit(dims, 0), entry('acme secret'), 60_000);
      expect(await index.search('globex', 'ctx', unit(dims, 0), -1, 5)).toEqual([]);
    });

    it('never returns an entry stored under another conversation context', async () => {
      await index.put('acme', 'ctx-a', unit(dims, 0), entry('a'), 60_000);
      expect(await index.search('acme', 'ctx-b', unit(dims, 0), -1, 5)).toEqual([]);
    });

    it('returns candidates over the threshold only, best first, at most limit', async () => {
      await index.put('acme', 'ctx', unit(dims, 0, 0.6), entry('far'), 60_000); // cos 0.825
      await index.put('acme', 'ctx', unit(dims, 0, 0.2), entry('near'), 60_000); // cos 0.980
      await index.put('acme', 'ctx', unit(dims, 0, 0.4), entry('mid'), 60_000); // cos 0.921
      await index.put('acme', 'ctx', unit(dims, 3), entry('orthogonal'), 60_000);
      const out = await index.search('acme', 'ctx', unit(dims, 0), 0.8, 2);
      expect(out.map((c) => c.prompt)).toEqual(['near', 'mid']);
      expect(out[0].score).toBeCloseTo(Math.cos(0.2), 2);
      expect((await index.search('acme', 'ctx', unit(dims, 0), 0.95, 5)).map((c) => c.prompt)).toEqual(['near']);
    });

    it('stops returning an entry once its TTL has passed', async () => {
      await index.put('acme', 'ctx', unit(dims, 0), entry('short-lived'), 1_000);
      t += 999;
      expect(await index.search('acme', 'ctx', unit(dims, 0), 0.9, 5)).toHaveLength(1);
      t += 2;
      expect(await index.search('acme', 'ctx', unit(dims, 0), 0.9, 5)).toEqual([]);
    });
  });
}
