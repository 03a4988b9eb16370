/**
 * Gateway overhead benchmark (`npm run bench`), written to bench/results/overhead.json.
 *  1. In-process: the core pipeline with memory adapters and an instant provider; p50/p99 per request.
 *  2. HTTP: requests/second through `llm-finops local` to a loopback upstream, against calling that upstream
 *     directly, as a ratio from the same run; and, as the floor any Node HTTP hop pays, through a bare forwarding
 *     proxy (bench/bare-proxy.ts). Each server runs in its own process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryQuotaStore } from '../lambda/adapters/memory-quota-store';
import { NullUsageSink, MemoryAlertSink } from '../lambda/adapters/usage-sinks';
import { sha256, systemClock, systemIds } from '../lambda/adapters/system-runtime';
import { resolveConfig } from '../lambda/core/config/resolve';
import { Gateway } from '../lambda/core/pipeline';
import type { ChatProvider, ProviderCall, ProviderResponse, ProviderStreamEvent } from '../lambda/core/ports';
import { KEYS, testConfig } from '../test/support/config';

const ROOT = join(__dirname, '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** Answers at once with fixed usage: what is left to measure is the gateway's own work. */
class InstantProvider implements ChatProvider {
  async complete(call: ProviderCall): Promise<ProviderResponse> {
    return {
      completion: { id: 'c', object: 'chat.completion', created: 1, model: call.model.id, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] },
      usage: { inputTokens: 40, outputTokens: 8, cacheReadTokens: 0, cacheWriteTokens: 0 },
    };
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    yield { type: 'chunk', chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: call.model.id, choices: [{ index: 0, delta: { content: 'ok' }, finish_reason: 'stop' }] } };
    yield { type: 'usage', usage: { inputTokens: 40, outputTokens: 8, cacheReadTokens: 0, cacheWriteTokens: 0 } };
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

async function inProcess(n: number) {
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', { cache: { exact: { enabled: false } } }));
  const gw = new Gateway({
    config, providers: new Map([['up', new InstantProvider()]]), quota: new MemoryQuotaStore(), usage: new NullUsageSink(),
    alerts: new MemoryAlertSink(), clock: systemClock, ids: systemIds, sha256,
  });
  const bodies = Array.from({ length: 64 }, (_, i) => JSON.stringify({
    model: i % 2 ? 'auto' : 'small-a',
    messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: `Question ${i}: summarise the quarterly report in three bullet points.` }],
    max_tokens: 256,
  }));
  const run = async (count: number, out?: number[]) => {
    for (let i = 0; i < count; i++) {
      const body = bodies[i % bodies.length];
      const t0 = performance.now();
      const r = await gw.chat({ tenantId: 'acme', body, bodyBytes: body.length });
      const dt = performance.now() - t0;
      if (r.status !== 200) throw new Error(`unexpected status ${r.status}`);
      out?.push(dt);
    }
  };
  await run(2000);
  const samples: number[] = [];
  await run(n, samples);
  samples.sort((a, b) => a - b);
  return { requests: n, p50_ms: round(percentile(samples, 50)), p99_ms: round(percentile(samples, 99)), mean_ms: round(samples.reduce((a, b) => a + b, 0) / n) };
}

function startProcess(args: string[], pattern: RegExp): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
  const proc = spawn(process.execPath, [TSX, ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve({ proc, match: m });
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

/** Closed-loop load: `concurrency` workers each sending requests back to back until `total` are done. */
async function load(url: string, headers: Record<string, string>, total: number, concurrency: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const u = new URL(url);
  let sent = 0;
  let failed = 0;
  const one = (i: number) => new Promise<void>((resolve) => {
    const body = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: `bench request ${i}` }], max_tokens: 64 });
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      if (res.statusCode !== 200) failed++;
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => {
      failed++;
      resolve();
    });
    req.end(body);
  });
  const worker = async () => {
    while (sent < total) await one(sent++);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { requests: total, failed, seconds: round(seconds, 3), rps: round(total / seconds, 1) };
}

async function http(total: number, concurrency: number) {
  const up = await startProcess([join(ROOT, 'bench', 'upstream-server.ts')], /(http:\/\/\S+\/v1)\n/);
  const upstreamUrl = up.match[1];
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-'));
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(testConfig(upstreamUrl, { cache: { exact: { enabled: false } }, usage: { sink: 'none' } })));
  const gw = await startProcess([join(ROOT, 'bin', 'llm-finops.ts'), 'local', '--config', configPath, '--port', '0'], /listening on (http:\/\/\S+)\/v1/);
  const bare = await startProcess([join(ROOT, 'bench', 'bare-proxy.ts'), upstreamUrl], /(http:\/\/\S+)\/v1\n/);
  try {
    const auth = { authorization: `Bearer ${KEYS.acme}` };
    const targets = {
      direct: { url: `${upstreamUrl}/chat/completions`, headers: {} },
      gateway: { url: `${gw.match[1]}/v1/chat/completions`, headers: auth },
      bare_proxy: { url: `${bare.match[1]}/v1/chat/completions`, headers: {} },
    };
    // Warm every path well: a cold V8 runs the gateway's code several times slower than when it is optimised.
    for (const t of Object.values(targets)) await load(t.url, t.headers, 5000, concurrency);
    // Alternate the paths so drift on a shared machine hits all alike.
    const runs: Record<keyof typeof targets, Awaited<ReturnType<typeof load>>[]> = { direct: [], gateway: [], bare_proxy: [] };
    for (let round = 0; round < 2; round++) {
      for (const [name, t] of Object.entries(targets)) runs[name as keyof typeof targets].push(await load(t.url, t.headers, total, concurrency));
    }
    const mean = (xs: { rps: number }[]) => xs.reduce((a, b) => a + b.rps, 0) / xs.length;
    const directRps = mean(runs.direct);
    return {
      concurrency,
      requests_per_run: total,
      runs,
      direct_rps: round(directRps, 1),
      gateway_rps: round(mean(runs.gateway), 1),
      bare_proxy_rps: round(mean(runs.bare_proxy), 1),
      ratio: round(mean(runs.gateway) / directRps, 3),
      bare_proxy_ratio: round(mean(runs.bare_proxy) / directRps, 3),
      gateway_to_bare_proxy: round(mean(runs.gateway) / mean(runs.bare_proxy), 3),
    };
  } finally {
    for (const p of [gw, bare, up]) p.proc.kill('SIGTERM');
  }
}

async function main() {
  const pipeline = await inProcess(Number(process.env.BENCH_PIPELINE_REQUESTS ?? 20000));
  process.stdout.write(`in-process pipeline: p50 ${pipeline.p50_ms} ms, p99 ${pipeline.p99_ms} ms over ${pipeline.requests} requests\n`);
  const throughput = await http(Number(process.env.BENCH_HTTP_REQUESTS ?? 8000), Number(process.env.BENCH_CONCURRENCY ?? 16));
  process.stdout.write(
    `http: direct ${throughput.direct_rps} req/s, via gateway ${throughput.gateway_rps} req/s (ratio ${throughput.ratio}), ` +
      `via a bare forwarding proxy ${throughput.bare_proxy_rps} req/s (ratio ${throughput.bare_proxy_ratio})\n`,
  );
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
    goals: { pipeline_p50_ms_max: 0.3, gateway_to_direct_ratio_min: 0.6 },
    pipeline,
    throughput,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'overhead.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write('wrote bench/results/overhead.json\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
