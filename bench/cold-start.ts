/**
 * Router Lambda cold start (`npm run bench:cold-start`, also in `npm run bench`), written to
 * bench/results/cold-start.json. Each run spawns a fresh `node` on the built bundle (assets/lambda/router/index.js,
 * `npm run build`) with the reference platform's config (examples/platform/gateway.json, a tenant added) in its
 * environment and Bedrock pointed at a loopback Converse server, and measures inside it: module load + config
 * parse, then the first request through the buffered handler (memory quota, no usage sink). Also the whole process
 * from spawn to exit beside a bare `node` doing nothing, so Node's own start-up can be told apart from ours.
 * Machine-dependent: compare ratios, not absolute times, across machines.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LoopbackBedrock } from '../test/support/bedrock-h2';
import { percentile } from './percentile';

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env.COLD_START_RUNS ?? 15);
const bundlePath = (name: string) => join(ROOT, 'assets', 'lambda', name, 'index.js');

function run(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ wall_ms: number; out: Record<string, number> }>((ok, fail) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [join(__dirname, 'cold-start-child.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => {
      if (code !== 0) return fail(new Error(`cold-start child exited ${code}: ${stderr}`));
      ok({ wall_ms: performance.now() - t0, out: JSON.parse(stdout.trim().split('\n').at(-1)!) });
    });
  });
}

const median = (xs: number[]) => percentile(xs, 50, 1);
const max = (xs: number[]) => Math.round(Math.max(...xs) * 10) / 10;

(async () => {
  const server = new LoopbackBedrock('Hello.', { inputTokens: 9, outputTokens: 2 });
  await server.start();
  const config = JSON.parse(readFileSync(join(ROOT, 'examples', 'platform', 'gateway.json'), 'utf8'));
  config.tenants = [{ id: 'acme', apiKeys: [{ sha256: '0'.repeat(64) }] }];
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    LLM_FINOPS_CONFIG: JSON.stringify(config),
    AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: server.url,
  };
  const bare: number[] = [];
  const runs: { wall_ms: number; out: Record<string, number> }[] = [];
  await run([bundlePath('router')], env); // warms the file cache, as a deployed function's disk would be
  for (let i = 0; i < RUNS; i++) {
    bare.push((await run(['--baseline'], env)).wall_ms);
    runs.push(await run([bundlePath('router')], env));
  }
  await server.stop();
  const col = (k: string) => runs.map((r) => r.out[k]);
  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(), runs: RUNS,
    bundle_bytes: { router: statSync(bundlePath('router')).size, authorizer: statSync(bundlePath('authorizer')).size },
    goals: { router_bundle_bytes_max: 600 * 1024, init_ms_max: 80, authorizer_bundle_bytes_max: 150 * 1024 },
    router: {
      load_ms: { median: median(col('load_ms')), max: max(col('load_ms')) },
      first_request_ms: { median: median(col('first_request_ms')), max: max(col('first_request_ms')) },
      init_ms: { median: median(col('init_ms')), max: max(col('init_ms')) },
      process_wall_ms: { median: median(runs.map((r) => r.wall_ms)), max: max(runs.map((r) => r.wall_ms)) },
      rss_mb: { median: median(col('rss_mb')) },
    },
    bare_node_process_wall_ms: { median: median(bare), max: max(bare) },
  };
  process.stdout.write(`router bundle ${result.bundle_bytes.router} bytes; cold init (load + config + first request) median ${result.router.init_ms.median} ms, max ${result.router.init_ms.max} ms `
    + `(load ${result.router.load_ms.median}, first request ${result.router.first_request_ms.median}); whole process ${result.router.process_wall_ms.median} ms vs bare node ${result.bare_node_process_wall_ms.median} ms\n`);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'cold-start.json'), `${JSON.stringify(result, null, 2)}\n`);
})();
