/**
 * A peer gateway side by side (`npm run bench:peers`), written to bench/results/peers.json: the same loopback
 * OpenAI-compatible upstream called directly, through a bare Node forwarding proxy (bench/bare-proxy.ts), through
 * `llm-finops local` with its default local features (quota on memory, usage to a JSONL file, exact cache on; every
 * request unique, so the cache misses), and through Portkey's open-source gateway, installed from npm into a
 * temporary folder for the run (it is no dependency of ours). Each server runs in its own process.
 * Throughput: autocannon (16 keep-alive connections for BENCH_SECONDS, every body unique), and the p99 latency under
 * that load; latency: one connection, p50/p99, and the p50 each hop adds over direct. The gateway is measured on its
 * three front doors (chat, Anthropic Messages, OpenAI Responses) against the same chat upstream.
 * The load generator must not be the bottleneck of its own benchmark: direct must reach at least 3x the bare proxy's
 * rate in the same run, else the run says so (the ratios would read high) and exits non-zero.
 * Machine-dependent: read the ratios of one run, not the absolute rates.
 */
import autocannon from 'autocannon';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { performance } from 'node:perf_hooks';
import { KEYS, testConfig } from '../test/support/config';
import { percentile } from './percentile';

const ROOT = join(__dirname, '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const PORTKEY = process.env.PORTKEY_VERSION ?? '1.15.2';

function start(cmd: string, args: string[], pattern: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env });
  return new Promise((ok, fail) => {
    let out = '';
    const scan = (d: Buffer): void => {
      out += d;
      // Portkey colours its banner: strip ANSI codes before matching.
      const m = pattern.exec(stripVTControlCharacters(out));
      if (m) ok({ proc, url: m[1] });
    };
    proc.stdout!.on('data', scan);
    proc.stderr!.on('data', scan);
    proc.once('exit', (code) => fail(new Error(`${args.join(' ')} exited ${code}: ${out.slice(-400)}`)));
  });
}

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** Path under the base URL, and a body whose `[<id>]` is replaced with a unique number per request. */
  readonly path?: string;
  readonly body?: string;
}

const CHAT_BODY = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: 'Say hi to the bench ([<id>]).' }] });

let counter = 0;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => ok(port));
    });
  });
}

function call(t: Target, agent: Agent): Promise<number> {
  const body = (t.body ?? CHAT_BODY).replace('[<id>]', String(counter++));
  const u = new URL(`${t.url}${t.path ?? '/chat/completions'}`);
  return new Promise((ok, fail) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...t.headers } },
      (res) => {
        res.resume();
        res.on('end', () => ok(res.statusCode ?? 0));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

/** Requests/second over `connections` keep-alive connections for `seconds`, and the p99 latency under that load (autocannon). */
async function throughput(t: Target, seconds: number, connections: number): Promise<{ rps: number; failed: number; p99_ms_loaded: number }> {
  const r = await autocannon({
    url: `${t.url}${t.path ?? '/chat/completions'}`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...t.headers },
    // A unique body per request (autocannon's own idReplacement sends a content-length that no longer matches).
    requests: [{ setupRequest: (req) => ({ ...req, body: (t.body ?? CHAT_BODY).replace('[<id>]', String(counter++)) }) }],
  });
  return { rps: Math.round(r.requests.total / r.duration), failed: r.non2xx + r.errors + r.timeouts, p99_ms_loaded: r.latency.p99 };
}

async function latency(t: Target, n: number): Promise<{ p50_ms: number; p99_ms: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call(t, agent);
    times.push(performance.now() - s);
  }
  agent.destroy();
  return { p50_ms: percentile(times, 50), p99_ms: percentile(times, 99) };
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-peers-'));
  const procs: ChildProcess[] = [];
  try {
    process.stdout.write(`installing @portkey-ai/gateway@${PORTKEY} into ${dir} ...\n`);
    writeFileSync(join(dir, 'package.json'), '{"private": true}');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `@portkey-ai/gateway@${PORTKEY}`], { cwd: dir, stdio: 'inherit' });

    const upstream = await start(process.execPath, [TSX, join(ROOT, 'bench', 'upstream-server.ts')], /(http:\/\/\S+\/v1)/);
    procs.push(upstream.proc);
    const bare = await start(process.execPath, [TSX, join(ROOT, 'bench', 'bare-proxy.ts'), upstream.url], /(http:\/\/\S+\/v1)/);
    procs.push(bare.proc);
    const config = join(dir, 'gateway.json');
    mkdirSync(join(dir, 'usage'));
    writeFileSync(config, JSON.stringify(testConfig(upstream.url, { cache: { exact: { enabled: true } }, usage: { sink: 'jsonl', path: join(dir, 'usage', 'usage.jsonl') } })));
    const gateway = await start(process.execPath, [TSX, join(ROOT, 'bin', 'llm-finops.ts'), 'local', '--config', config, '--port', '0'], /listening on (http:\/\/\S+\/v1)/);
    procs.push(gateway.proc);
    // Portkey listens on the port it is given and prints it (with 0 it would print 0): pick a free one.
    const port = await freePort();
    const portkey = await start(
      process.execPath, [join(dir, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js'), `--port=${port}`, '--headless'],
      /running at:\s*(http:\/\/\S+)/, { ...process.env, NODE_ENV: 'production' },
    );
    portkey.url = `http://127.0.0.1:${port}`;
    procs.push(portkey.proc);

    const targets: Target[] = [
      { name: 'direct to upstream', url: upstream.url, headers: {} },
      { name: 'bare Node forwarding proxy', url: bare.url, headers: {} },
      { name: 'llm-finops local (quota, JSONL usage, exact cache, miss)', url: gateway.url, headers: { authorization: `Bearer ${KEYS.acme}` } },
      {
        name: 'llm-finops local, POST /v1/messages (translated to the chat upstream)', url: gateway.url, headers: { 'x-api-key': KEYS.acme }, path: '/messages',
        body: JSON.stringify({ model: 'small-a', max_tokens: 200, messages: [{ role: 'user', content: 'Say hi to the bench ([<id>]).' }] }),
      },
      {
        name: 'llm-finops local, POST /v1/responses (translated to the chat upstream)', url: gateway.url, headers: { authorization: `Bearer ${KEYS.acme}` }, path: '/responses',
        body: JSON.stringify({ model: 'small-a', max_output_tokens: 200, input: 'Say hi to the bench ([<id>]).' }),
      },
      {
        name: `Portkey gateway ${PORTKEY}`, url: `${portkey.url.replace(/\/$/, '')}/v1`,
        headers: { authorization: 'Bearer bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream.url },
      },
    ];
    const rows = [];
    for (const t of targets) {
      await throughput(t, 2, 16); // warm-up
      const tp = await throughput(t, seconds, 16);
      const lat = await latency(t, 1000);
      rows.push({ path: t.name, rps: tp.rps, failed: tp.failed, p99_ms_16_connections: tp.p99_ms_loaded, ...lat });
    }
    const direct = rows[0];
    const bareRow = rows[1];
    const generatorOk = direct.rps >= 3 * bareRow.rps;
    const chatRow = rows[2];
    const table = rows.map((r) => ({
      ...r,
      share_of_direct: Math.round((r.rps / direct.rps) * 1000) / 1000,
      share_of_bare_proxy: Math.round((r.rps / bareRow.rps) * 1000) / 1000,
      added_p50_ms: Math.round((r.p50_ms - direct.p50_ms) * 1000) / 1000,
      share_of_gateway_chat: Math.round((r.rps / chatRow.rps) * 1000) / 1000,
    }));
    process.stdout.write('| path | req/s | share of direct | share of bare proxy | p99 (16 conn) | added p50 (1 conn) | p99 (1 conn) | failed |\n|---|---|---|---|---|---|---|---|\n');
    for (const r of table) {
      process.stdout.write(`| ${r.path} | ${r.rps} | ${r.share_of_direct} | ${r.share_of_bare_proxy} | ${r.p99_ms_16_connections} ms | ${r.added_p50_ms} ms | ${r.p99_ms} ms | ${r.failed} |\n`);
    }
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'peers.json'), `${JSON.stringify({
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(),
      load_generator: 'autocannon 8', seconds, connections: 16, latency_requests: 1000,
      direct_over_bare_proxy: Math.round((direct.rps / bareRow.rps) * 100) / 100, load_generator_ok: generatorOk, rows: table,
    }, null, 2)}\n`);
    process.stdout.write('wrote bench/results/peers.json\n');
    if (!generatorOk) {
      process.stdout.write(`direct reached only ${(direct.rps / bareRow.rps).toFixed(2)}x the bare proxy: the load generator limits this run, so its ratios read high\n`);
      process.exitCode = 1;
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
