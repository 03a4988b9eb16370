import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedSemanticIndex } from '../../../lambda/adapters/embedded-semantic-index';
import { cachedAnswer } from './exact-cache.contract';
import { unit } from './semantic-index.contract';

// An install without optional dependencies (npm ci --omit=optional), or a platform usearch has no binary for.
jest.mock('../../../lambda/adapters/lazy', () => ({
  ...jest.requireActual('../../../lambda/adapters/lazy'),
  usearch: () => {
    throw new Error("Cannot find module 'usearch'");
  },
}));

it('scans a large partition exactly when usearch cannot be loaded, and says so once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-index-'));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const idx = new EmbeddedSemanticIndex({ path: dir, annMinEntries: 10 });
    for (let i = 0; i < 40; i++) await idx.put('acme', 'ctx', unit(64, i), { prompt: `p${i}`, value: cachedAnswer(`p${i}`) }, 60_000);
    expect(idx.graphPartitions).toBe(0);
    expect((await idx.search('acme', 'ctx', unit(64, 17), 0.9, 1))[0]?.prompt).toBe('p17');
    const warnings = err.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('usearch'));
    expect(warnings).toEqual(["warning: semantic index: usearch is not available (Cannot find module 'usearch'); large partitions are scanned exactly\n"]);
    idx.close();
  } finally {
    err.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
});
