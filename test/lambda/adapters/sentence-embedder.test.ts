import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clip, initSentenceModel, installedPackages, SENTENCE_PACKAGES, SentenceEmbedder, SentenceEncoderMissing, SentenceWeightsMissing, type SentenceModel } from '../../../lambda/adapters/sentence-embedder';

const ROOT = join(__dirname, '..', '..', '..');

/** A model that records its calls and answers a fixed 512-d vector (unnormalised) per text. */
function countingModel(dims = 512): SentenceModel & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async embed(texts: string[]) {
      calls.push(texts);
      return texts.map((t) => Array.from({ length: dims }, (_, i) => (i === t.length % dims ? 3 : 0)));
    },
  };
}

describe('SentenceEmbedder (Universal Sentence Encoder lite, optional packages)', () => {
  it('loads offline from the packages\' own files, with every network call failing, and embeds meaning', () => {
    // A child process whose sockets, DNS and fetch throw: the model must come from node_modules, never the internet.
    // Where unprivileged user namespaces are allowed, it also runs in a network namespace with no interfaces.
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-offline-'));
    const block = join(dir, 'block-network.js');
    writeFileSync(block, `
      const net = require('node:net'); const dns = require('node:dns');
      const refuse = (what) => () => { throw new Error('network blocked in this test: ' + what); };
      net.Socket.prototype.connect = refuse('socket connect');
      dns.lookup = refuse('dns lookup'); dns.promises.lookup = refuse('dns lookup');
      globalThis.fetch = refuse('fetch');
    `);
    const script = `
      const { SentenceEmbedder } = require(${JSON.stringify(join(ROOT, 'lambda', 'adapters', 'sentence-embedder.ts'))});
      (async () => {
        const e = new SentenceEmbedder();
        const { vectors, inputTokens } = await e.embed([
          'How can I lose weight fast?', 'What is the quickest way to lose weight?', 'How do I cook rice?',
        ]);
        const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
        console.log(JSON.stringify({ id: e.id, dims: vectors.map((v) => v.length), norms: vectors.map((v) => Math.sqrt(dot(v, v))),
          paraphrase: dot(vectors[0], vectors[1]), unrelated: dot(vectors[0], vectors[2]), inputTokens }));
      })().catch((err) => { console.error(err.stack); process.exit(1); });
    `;
    const tsx = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const namespaced = spawnSync('unshare', ['-rn', 'true']).status === 0;
    const [cmd, args] = namespaced
      ? ['unshare', ['-rn', process.execPath, '-r', block, tsx, '-e', script]]
      : [process.execPath, ['-r', block, tsx, '-e', script]];
    const run = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
    expect(run.stderr).not.toMatch(/network blocked/);
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(out.id).toBe('use-lite-en@0.2.0');
    expect(out.dims).toEqual([512, 512, 512]);
    for (const n of out.norms) expect(n).toBeCloseTo(1, 5);
    expect(out.inputTokens).toBe(0);
    // A paraphrase in other words scores high, an unrelated question low (measured 0.93 and 0.50).
    expect(out.paraphrase).toBeGreaterThan(0.85);
    expect(out.unrelated).toBeLessThan(0.6);
  });

  it('batches texts, normalises what the model returns, and clips long texts to their head and tail', async () => {
    const model = countingModel();
    const e = new SentenceEmbedder({ batchSize: 16, maxChars: 400, load: async () => model });
    const texts = Array.from({ length: 40 }, (_, i) => `text ${i}`);
    const { vectors } = await e.embed(texts);
    expect(model.calls.map((c) => c.length)).toEqual([16, 16, 8]);
    expect(vectors).toHaveLength(40);
    expect(vectors[0][texts[0].length]).toBeCloseTo(1, 6);

    const long = `${'a'.repeat(1000)}QUESTION AT THE END?`;
    await e.embed([long]);
    const sent = model.calls.at(-1)![0];
    expect(sent.length).toBeLessThanOrEqual(403);
    expect(sent.startsWith('a'.repeat(300))).toBe(true);
    expect(sent.endsWith('QUESTION AT THE END?')).toBe(true);
    expect(clip('short', 400)).toBe('short');
  });

  it('refuses what a broken model returns: a missing vector, the wrong size, non-finite values', async () => {
    const short: SentenceModel = { embed: async (t) => t.slice(1).map(() => new Array(512).fill(1)) };
    await expect(new SentenceEmbedder({ load: async () => short }).embed(['a', 'b'])).rejects.toThrow('the model returned 1 vectors for 2 texts');
    await expect(new SentenceEmbedder({ load: async () => countingModel(256) }).embed(['a'])).rejects.toThrow('expected 512 dimensions, got 256');
    const nan: SentenceModel = { embed: async (t) => t.map(() => new Array(512).fill(Number.NaN)) };
    await expect(new SentenceEmbedder({ load: async () => nan }).embed(['a'])).rejects.toThrow('non-finite');
  });

  it('names the packages to install, and the lexical alternative, when they are missing', async () => {
    const missing = Object.assign(new Error("Cannot find module '@energetic-ai/embeddings'"), { code: 'MODULE_NOT_FOUND' });
    const err = await initSentenceModel(async () => Promise.reject(missing)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SentenceEncoderMissing);
    for (const p of SENTENCE_PACKAGES) expect((err as Error).message).toContain(`${p}@0.2.0`);
    expect((err as Error).message).toContain('{"type": "local"}');
    expect((err as Error).message).toContain("Cannot find module '@energetic-ai/embeddings'");
  });

  it('says the layer is missing when the weights directory the Lambda names is empty, not that packages are', async () => {
    const err = await initSentenceModel(installedPackages('/nonexistent/opt')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SentenceWeightsMissing);
    expect((err as Error).message).toBe('LLM_FINOPS_SENTENCE_MODEL_DIR=/nonexistent/opt holds no model.json: is the SentenceEncoderLayer attached to this function?');
    // Refused before the encoder's code loads: TensorFlow.js would start initialising its engine on import.
    expect((globalThis as Record<string, unknown>)._tfengine).toBeUndefined();
  });
});
