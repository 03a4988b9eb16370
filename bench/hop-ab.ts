/**
 * A/B of the chat hop (`npx tsx bench/hop-ab.ts <git-rev> [rounds] [seconds]`), written to bench/results/hop-ab.json:
 * `llm-finops local` at <git-rev> (a temporary worktree sharing this checkout's node_modules) and at this checkout,
 * and a bare forwarding proxy, on the same loopback upstream, measured in alternation (bare, then, now; `rounds`
 * times) with autocannon (16 connections, a unique body per request). Alternating rounds in one run is what makes a
 * small change visible on a shared machine whose load moves single runs by 20-40%: compare medians, and the spread.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { KEYS, testConfig } from '../test/support/config';
import { FakeUpstream } from '../test/support/upstream';

const ROOT = join(__dirname, '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

function start(args: string[], cwd: string): Promise<ChildProcess & { url: string }> {
  const proc = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) ok(Object.assign(proc, { url: m[1] }));
    });
    proc.once('exit', (code) => fail(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const [rev, roundsArg, secondsArg] = process.argv.slice(2);
  if (!rev) throw new Error('usage: tsx bench/hop-ab.ts <git-rev> [rounds=3] [seconds=5]');
  const rounds = Number(roundsArg ?? 3);
  const seconds = Number(secondsArg ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-ab-'));
  const then = join(dir, 'then');
  execFileSync('git', ['worktree', 'add', '--detach', then, rev], { cwd: ROOT, stdio: 'ignore' });
  symlinkSync(join(ROOT, 'node_modules'), join(then, 'node_modules'));
  const upstream = new FakeUpstream();
  const procs: ChildProcess[] = [];
  try {
    await upstream.start();
    mkdirSync(join(dir, 'usage'));
    writeFileSync(join(dir, 'gateway.json'), JSON.stringify(testConfig(upstream.baseUrl, { cache: { exact: { enabled: true } }, usage: { sink: 'jsonl', path: join(dir, 'usage', 'usage.jsonl') } })));
    const targets = {
      bare: await start([TSX, join(ROOT, 'bench', 'bare-proxy.ts'), upstream.baseUrl], ROOT),
      then: await start([TSX, join(then, 'bin', 'llm-finops.ts'), 'local', '--config', join(dir, 'gateway.json'), '--port', '0'], then),
      now: await start([TSX, join(ROOT, 'bin', 'llm-finops.ts'), 'local', '--config', join(dir, 'gateway.json'), '--port', '0'], ROOT),
    };
    procs.push(...Object.values(targets));
    let n = 0;
    const body = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: 'Say hi to the bench ([<id>]).' }] });
    const rps = async (url: string, s: number): Promise<number> => {
      const r = await autocannon({
        url: `${url}/chat/completions`, method: 'POST', connections: 16, duration: s,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.acme}` },
        requests: [{ setupRequest: (req) => ({ ...req, body: body.replace('[<id>]', String(n++)) }) }],
      });
      return Math.round(r.requests.total / r.duration);
    };
    for (const t of Object.values(targets)) await rps(t.url, 2);
    const runs: Record<keyof typeof targets, number[]> = { bare: [], then: [], now: [] };
    for (let i = 0; i < rounds; i++) for (const k of ['bare', 'then', 'now'] as const) runs[k].push(await rps(targets[k].url, seconds));
    const result = {
      date: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version }, rev, rounds, seconds, runs,
      medians: { bare: median(runs.bare), then: median(runs.then), now: median(runs.now) },
      now_over_then: Math.round((median(runs.now) / median(runs.then)) * 1000) / 1000,
      now_over_bare: Math.round((median(runs.now) / median(runs.bare)) * 1000) / 1000,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'hop-ab.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await upstream.stop();
    execFileSync('git', ['worktree', 'remove', '--force', then], { cwd: ROOT, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
