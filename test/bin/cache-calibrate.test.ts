import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream } from '../support/upstream';
import { testConfig } from '../support/config';

const ROOT = join(__dirname, '..', '..');
// Asynchronous on purpose: the fake embeddings server runs in this process.
const cli = (...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });

/** `llm-finops cache calibrate` against an OpenAI-compatible embeddings server on loopback (the embedder mocked at the wire). */
describe('llm-finops cache calibrate', () => {
  const upstream = new FakeUpstream();
  let dir: string;
  let data: string;
  beforeAll(async () => {
    await upstream.start();
    dir = mkdtempSync(join(tmpdir(), 'calibrate-'));
    data = join(dir, 'pairs.jsonl');
    const rows = [
      // Rewordings in case and punctuation: the same question.
      ...['How do I reset my password?', 'Where is my order?', 'Can I change my plan?', 'What are your opening hours?'].map((q) => ({ a: q, b: q.toLowerCase().replace('?', ''), duplicate: 1 })),
      // Different questions.
      { a: 'How do I reset my password?', b: 'How do I delete my account?', duplicate: 0 },
      { a: 'Where is my order?', b: 'Where is your office?', duplicate: 0 },
      { a: 'Can I change my plan?', b: 'Can I pay by card?', duplicate: 0 },
    ];
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
  });
  afterAll(() => upstream.stop());
  beforeEach(() => upstream.reset());

  const embedder = () => ['--embedder', 'openai-compatible', '--base-url', upstream.baseUrl, '--model', 'text-embedding-3-small', '--dimensions', '64'];

  it('states the cost first and embeds through a paid embedder only with --yes', async () => {
    const r = await cli('cache', 'calibrate', '--data', data, ...embedder());
    expect(r.status).toBe(2);
    // 7 pairs, 14 short texts; text-embedding-3-small at the catalog's $0.02 per 1M tokens.
    expect(r.stderr).toMatch(/^embedding 7 pairs: about \d+ tokens at \$0\.02\/1M = \$0\.0000 \(/);
    expect(r.stderr).toContain('run again with --yes');
    expect(upstream.received).toHaveLength(0);
    const capped = await cli('cache', 'calibrate', '--data', data, ...embedder(), '--yes', '--max-usd', '0');
    expect(capped.stderr).toContain('is above --max-usd 0');
    expect(upstream.received).toHaveLength(0);
  });

  it('picks the lowest threshold within the target wrong share and writes it into the config, the rest untouched', async () => {
    const config = join(dir, 'gateway.json');
    const doc = testConfig(upstream.baseUrl, { cache: { semantic: { enabled: true, embedder: { type: 'openai-compatible', baseUrl: upstream.baseUrl, model: 'text-embedding-3-small' } } } });
    writeFileSync(config, JSON.stringify(doc));
    const r = await cli('cache', 'calibrate', '--data', data, ...embedder(), '--yes', '--target-wrong-share', '0', '--config', config, '--write', '--json');
    expect(r.stderr.split('\n').slice(1).join('\n')).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    // One embeddings call for the 7 pairs (64 pairs a call), with the 14 texts.
    expect(upstream.received.map((x) => (x.body as { input: string[] }).input.length)).toEqual([14]);
    expect(out).toMatchObject({ pairs: 7, target_wrong_share: 0, default_threshold: 0.95, written: config, chosen: { wrong_hit_share: 0 } });
    expect(out.chosen.recall).toBeGreaterThan(0);
    const written = JSON.parse(readFileSync(config, 'utf8'));
    expect(written.cache.semantic).toEqual({ ...doc.cache!.semantic, threshold: out.chosen.threshold });
    expect(written.providers).toEqual(doc.providers);
    expect((await cli('config', 'validate', '--config', config)).status).toBe(0);
  });

  it('refuses --write without --config, and an embedder without a price', async () => {
    expect((await cli('cache', 'calibrate', '--data', data, ...embedder(), '--write')).stderr).toContain('--write needs --config FILE');
    const unpriced = await cli('cache', 'calibrate', '--data', data, '--embedder', 'openai-compatible', '--base-url', upstream.baseUrl, '--model', 'my-own-embedder');
    expect(unpriced.stderr).toContain('pass --price-per-mtok');
  });
});
