/**
 * Streaming through the gateway (`npm run bench:stream`, also in `npm run bench`), written to
 * bench/results/stream.json. A loopback OpenAI-compatible upstream streams an answer (its first content chunk at
 * once, then 3 ms later `CHUNKS` more at once, a usage chunk and [DONE]); the same requests go to it directly and through
 * `llm-finops local` (the built CLI, packages/cli/dist; quota on memory, usage to a JSONL file), one connection,
 * alternating. Measured: time to the first content byte (p50/p99, and what the gateway adds), and the time to the
 * whole stream, as the gateway's cost per chunk. Each server runs in its own process.
 * Machine-dependent: read the differences and ratios of one run, not the absolute times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { KEYS, testConfig } from '../test/support/config';
import { percentile as at } from './percentile';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'packages', 'cli', 'dist', 'llm-finops.js');
const REQUESTS = Number(process.env.STREAM_REQUESTS ?? 400);
const CHUNKS = Number(process.env.STREAM_CHUNKS ?? 200);

const chunk = (i: number, content: string) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1764547200, model: 'up-small-a', system_fingerprint: 'fp_bench', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content }, logprobs: null, finish_reason: null }] })}\n\n`;

/** The upstream, in this process: it costs the two paths the same. */
function upstream(): Promise<{ url: string; close: () => void }> {
  const body = Array.from({ length: CHUNKS }, (_, i) => chunk(i + 1, ` word${i}`)).join('')
    + `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1764547200, model: 'up-small-a', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`
    + `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1764547200, model: 'up-small-a', choices: [], usage: { prompt_tokens: 12, completion_tokens: CHUNKS + 1, total_tokens: CHUNKS + 13 } })}\n\n`
    + 'data: [DONE]\n\n';
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk(0, 'Hello'));
      // The rest 3 ms later, so the first chunk travels alone, as a model's first token does, and its time is
      // not mixed with the rest's.
      setTimeout(() => res.end(body), 3);
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => server.close() })));
}

function start(args: string[], pattern: RegExp): Promise<{ proc: ChildProcess; url: string }> {
  // BENCH_NODE_ARGS: flags for the gateway's node, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof to profile it.
  const proc = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) ok({ proc, url: m[1] });
    });
    proc.once('exit', (code) => fail(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

let counter = 0;

/** One streamed request (each prompt unique, so the exact cache misses): ms to the first byte, and to the end. */
function one(url: string, headers: Record<string, string>, agent: Agent): Promise<{ firstMs: number; totalMs: number; bytes: number }> {
  const body = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: `Stream to the bench (${counter++}).` }], stream: true, stream_options: { include_usage: true } });
  const u = new URL(`${url}/chat/completions`);
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    let firstMs = -1;
    let bytes = 0;
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      if (res.statusCode !== 200) fail(new Error(`status ${res.statusCode}`));
      res.on('data', (d: Buffer) => {
        if (firstMs < 0) firstMs = performance.now() - t0;
        bytes += d.length;
      });
      res.on('end', () => ok({ firstMs, totalMs: performance.now() - t0, bytes }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

(async () => {
  if (!existsSync(CLI)) throw new Error('packages/cli/dist/llm-finops.js is missing: npm run build');
  const up = await upstream();
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-stream-'));
  const config = join(dir, 'gateway.json');
  writeFileSync(config, JSON.stringify(testConfig(up.url, process.env.STREAM_BARE ? { cache: { exact: { enabled: false } }, usage: { sink: 'none' } } : { cache: { exact: { enabled: true } }, usage: { sink: 'jsonl', path: join(dir, 'usage.jsonl') } })));
  const gw = await start([CLI, 'local', '--config', config, '--port', '0'], /listening on (http:\/\/\S+\/v1)/);
  const bare = await start([join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bench', 'bare-proxy.ts'), up.url], /(http:\/\/\S+\/v1)\n/);
  try {
    const targets = { direct: { url: up.url, headers: {} }, bare_proxy: { url: bare.url, headers: {} }, gateway: { url: gw.url, headers: { authorization: `Bearer ${KEYS.acme}` } } };
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 300; i++) for (const t of Object.values(targets)) await one(t.url, t.headers, agent); // warm up
    const runs = { direct: [] as Awaited<ReturnType<typeof one>>[], bare_proxy: [] as Awaited<ReturnType<typeof one>>[], gateway: [] as Awaited<ReturnType<typeof one>>[] };
    for (let i = 0; i < REQUESTS; i++) {
      for (const [name, t] of Object.entries(targets)) runs[name as keyof typeof runs].push(await one(t.url, t.headers, agent));
    }
    agent.destroy();
    const summary = (rs: typeof runs.direct) => ({
      first_byte_p50_ms: at(rs.map((r) => r.firstMs), 50), first_byte_p99_ms: at(rs.map((r) => r.firstMs), 99),
      whole_stream_p50_ms: at(rs.map((r) => r.totalMs), 50), bytes: rs[0].bytes,
    });
    const direct = summary(runs.direct);
    const bareProxy = summary(runs.bare_proxy);
    const gateway = summary(runs.gateway);
    const result = {
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(),
      requests: REQUESTS, chunks_per_stream: CHUNKS + 3,
      goals: { added_first_byte_ms_max: 0.5 },
      direct, bare_proxy: bareProxy, gateway,
      added_first_byte_p50_ms: Math.round((gateway.first_byte_p50_ms - direct.first_byte_p50_ms) * 1000) / 1000,
      bare_proxy_added_first_byte_p50_ms: Math.round((bareProxy.first_byte_p50_ms - direct.first_byte_p50_ms) * 1000) / 1000,
      added_per_chunk_us: Math.round(((gateway.whole_stream_p50_ms - gateway.first_byte_p50_ms) - (direct.whole_stream_p50_ms - direct.first_byte_p50_ms)) / (CHUNKS + 3) * 1e4) / 10,
    };
    process.stdout.write(`stream first byte p50: direct ${direct.first_byte_p50_ms} ms, bare proxy ${bareProxy.first_byte_p50_ms} ms (+${result.bare_proxy_added_first_byte_p50_ms}), gateway ${gateway.first_byte_p50_ms} ms (+${result.added_first_byte_p50_ms} ms); `
      + `whole ${CHUNKS + 3}-chunk stream p50: direct ${direct.whole_stream_p50_ms} ms, gateway ${gateway.whole_stream_p50_ms} ms (+${result.added_per_chunk_us} us a chunk)\n`);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'stream.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    gw.proc.kill('SIGTERM');
    bare.proc.kill('SIGTERM');
    up.close();
    rmSync(dir, { recursive: true, force: true });
  }
})();
