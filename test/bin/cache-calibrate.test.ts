import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopbackBedrock } from '../support/bedrock-h2';
import { fakeEmbedding, FakeUpstream } from '../support/upstream';
import { testConfig } from '../support/config';

const ROOT = join(__dirname, '..', '..');
// Asynchronous on purpose: the fake embeddings server runs in this process.
const cliIn = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), ...args], { env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
const cli = (...args: string[]) => cliIn(process.env, ...args);

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
    const r = await cli('cache', 'calibrate', '--data', data, '--no-shipped-pairs', ...embedder());
    expect(r.status).toBe(2);
    // 7 pairs, 14 short texts; text-embedding-3-small at the catalog's $0.02 per 1M tokens.
    expect(r.stderr).toMatch(/^embedding 7 pairs: about \d+ tokens at \$0\.02\/1M = \$0\.0000 \(/);
    expect(r.stderr).toContain('run again with --yes');
    expect(upstream.received).toHaveLength(0);
    const capped = await cli('cache', 'calibrate', '--data', data, '--no-shipped-pairs', ...embedder(), '--yes', '--max-usd', '0');
    expect(capped.stderr).toContain('is above --max-usd 0');
    expect(upstream.received).toHaveLength(0);
  });

  it('picks the lowest threshold within the target wrong share and writes it and the guards into the config, the rest untouched', async () => {
    const config = join(dir, 'gateway.json');
    const doc = testConfig(upstream.baseUrl, { cache: { semantic: { enabled: true, embedder: { type: 'openai-compatible', baseUrl: upstream.baseUrl, model: 'text-embedding-3-small' } } } });
    writeFileSync(config, JSON.stringify(doc));
    const r = await cli('cache', 'calibrate', '--data', data, '--no-shipped-pairs', ...embedder(), '--yes', '--target-wrong-share', '0', '--config', config, '--write', '--json');
    expect(r.stderr.split('\n').slice(1).join('\n')).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    // One embeddings call for the 7 pairs (64 pairs a call), with the 14 texts.
    expect(upstream.received.map((x) => (x.body as { input: string[] }).input.length)).toEqual([14]);
    expect(out).toMatchObject({ pairs: 7, target_wrong_share: 0, default_threshold: 0.95, written: config, chosen: { wrong_hit_share: 0 }, verifier: null, floored: false });
    expect(out.chosen.recall).toBeGreaterThan(0);
    expect(out.threshold).toBe(out.chosen.threshold);
    const written = JSON.parse(readFileSync(config, 'utf8'));
    // Every guard the gateway runs for this embedder, with the content rule chosen; the embedder as it was.
    const guards = { numbers: true, negation: true, identifiers: true, entities: true, language: true, question: true, person: true, content: true, contentRule: out.content_rule };
    expect(written.cache.semantic).toEqual({ ...doc.cache!.semantic, threshold: out.threshold, guards });
    expect(written.providers).toEqual(doc.providers);
    expect((await cli('config', 'validate', '--config', config)).status).toBe(0);
  });

  it('embeds the shipped pairs when given none, and does not lower the default threshold on them alone', async () => {
    const r = await cli('cache', 'calibrate', ...embedder(), '--yes', '--json');
    expect(r.status).toBe(0);
    // GPTCache's 999 paraphrases and the 800 templated FAQ pairs, 64 pairs (128 texts) a call.
    expect(r.stderr).toMatch(/^embedding 1799 pairs: about \d+ tokens at \$0\.02\/1M = \$0\.00\d\d \(/);
    const sizes = upstream.received.map((x) => (x.body as { input: string[] }).input.length);
    expect(sizes).toHaveLength(29);
    expect(sizes.slice(0, 28).every((n) => n === 128)).toBe(true);
    expect(sizes[28]).toBe(2 * (1799 - 28 * 64));
    const out = JSON.parse(r.stdout);
    // Alone, the shipped pairs never loosen the defaults: no lower threshold, no other content rule.
    expect(out).toMatchObject({ pairs: 1799, default_threshold: 0.95, written: null, content_rule: 'exact' });
    expect(out.threshold).toBeGreaterThanOrEqual(0.95);
  });

  it('fits a verifier for the embedder on half the pairs, chooses on the other half, and writes all of it', async () => {
    const config = join(dir, 'with-verifier.json');
    const verifierFile = join(dir, 'verifier.json');
    const doc = testConfig(upstream.baseUrl, { cache: { semantic: { enabled: true } } });
    writeFileSync(config, JSON.stringify(doc));
    const r = await cli('cache', 'calibrate', '--data', data, ...embedder(), '--yes', '--train-verifier', verifierFile, '--config', config, '--write', '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ pairs: 1806, verifier: verifierFile });
    expect(out.fitted_on + out.checked_on).toBe(1806);
    expect(out.fitted_on).toBeGreaterThan(700);
    // The target holds within each file apart: the shipped pairs cannot dilute the wrong hits of yours.
    expect(out.by_source.map((x: { source: string }) => x.source)).toEqual(['shipped paraphrases', 'shipped FAQ templates', data]);
    for (const x of out.by_source) expect(x.point.wrong_hit_share).toBeLessThanOrEqual(0.05);
    expect(JSON.parse(readFileSync(verifierFile, 'utf8'))).toMatchObject({ format: 'llm-finops-cache-verifier', version: 1 });
    const semantic = JSON.parse(readFileSync(config, 'utf8')).cache.semantic;
    // The config named no embedder: the one calibrated is written with the rest; the verifier relative to the config.
    expect(semantic).toMatchObject({
      enabled: true, threshold: out.threshold, verifier: { path: 'verifier.json' },
      embedder: { type: 'openai-compatible', baseUrl: upstream.baseUrl, model: 'text-embedding-3-small', dimensions: 64 },
      guards: { numbers: true, content: true, contentRule: out.content_rule },
    });
    expect((await cli('config', 'validate', '--config', config)).status).toBe(0);
  });

  it('refuses, before embedding, a write whose figures would not hold for the config', async () => {
    const other = join(dir, 'other-embedder.json');
    writeFileSync(other, JSON.stringify(testConfig(upstream.baseUrl, { cache: { semantic: { enabled: true, embedder: { type: 'sentence' } } } })));
    const mismatch = await cli('cache', 'calibrate', '--data', data, ...embedder(), '--yes', '--config', other, '--write');
    expect(mismatch.stderr).toContain("the config's cache.semantic.embedder is sentence, not openai-compatible");
    const own = join(dir, 'own-verifier.json');
    writeFileSync(own, JSON.stringify(testConfig(upstream.baseUrl, { cache: { semantic: { enabled: true, verifier: { path: 'v.json' } } } })));
    const unmeasured = await cli('cache', 'calibrate', '--data', data, ...embedder(), '--yes', '--config', own, '--write');
    expect(unmeasured.stderr).toContain('pass --train-verifier FILE to fit one for this embedder, or remove it');
    expect(upstream.received).toHaveLength(0);
  });

  it('paces Titan: at most 16 calls in flight, and throttled calls retried until every text is embedded', async () => {
    // The SDK's real client and retry middleware against a loopback Bedrock runtime that throttles calls over 100 a
    // second (16 in flight at 5 ms each would send about 3,000).
    const bedrock = new LoopbackBedrock('', { inputTokens: 0, outputTokens: 0 }, { delayMs: 5, maxPerSecond: 100, vector: fakeEmbedding });
    await bedrock.start();
    try {
      const many = join(dir, 'many.jsonl');
      const rows = Array.from({ length: 100 }, (_, i) => ({ a: `Question ${'abcdefghij'[i % 10]} number ${i}?`, b: `question ${'abcdefghij'[i % 10]} number ${i}`, duplicate: i % 3 ? 1 : 0 }));
      writeFileSync(many, rows.map((r) => JSON.stringify(r)).join('\n'));
      const env = { ...process.env, AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.url, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };
      const r = await cliIn(env, 'cache', 'calibrate', '--data', many, '--no-shipped-pairs', '--embedder', 'bedrock', '--dimensions', '256', '--yes', '--target-wrong-share', '1', '--json');
      expect(r.stderr).toMatch(/^embedding 100 pairs: about \d+ tokens at \$0\.02\/1M/);
      if (r.status !== 0) throw new Error(r.stderr);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ pairs: 100, embedder: 'bedrock:amazon.titan-embed-text-v2:0:256' });
      expect(bedrock.embeddings.answered).toBe(200);
      expect(bedrock.embeddings.throttled).toBeGreaterThan(0);
      expect(bedrock.embeddings.maxInFlight).toBeLessThanOrEqual(16);
      expect(bedrock.embeddings.maxInFlight).toBeGreaterThan(1);
    } finally {
      await bedrock.stop();
    }
  });

  it('refuses --write without --config, a verifier fitted on the shipped pairs alone, and an embedder without a price', async () => {
    expect((await cli('cache', 'calibrate', '--data', data, ...embedder(), '--write')).stderr).toContain('--write needs --config FILE');
    expect((await cli('cache', 'calibrate', ...embedder(), '--train-verifier', join(dir, 'v.json'))).stderr).toContain('--train-verifier needs --data');
    const unpriced = await cli('cache', 'calibrate', '--data', data, '--embedder', 'openai-compatible', '--base-url', upstream.baseUrl, '--model', 'my-own-embedder');
    expect(unpriced.stderr).toContain('pass --price-per-mtok');
  });
});
