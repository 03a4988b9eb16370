import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import { testConfig } from './config';

const ROOT = join(__dirname, '..', '..');

/** Starts `llm-finops local` as a user would, on an ephemeral port; resolves with the process and its base URL. */
export async function startLocal(
  configPath: string, extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = process.env, opts: { readonly group?: boolean } = {},
): Promise<{ proc: ChildProcess; baseUrl: string }> {
  const proc = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), 'local', '--config', configPath, '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
    // Its own process group, so killGroup can kill tsx and the gateway it runs in a child process at once (SIGKILL
    // to tsx alone leaves the gateway running).
    detached: opts.group === true,
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+\/v1)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`llm-finops local exited ${code}: ${stderr}`)));
  });
  return { proc, baseUrl };
}

/** Kills a process started with `group: true` and everything it started, as a crash would; resolves once it has exited. */
export async function killGroup(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.once('exit', r));
  process.kill(-proc.pid!, 'SIGKILL');
  await exited;
}

/**
 * `llm-finops local` on a test config (test/support/config.ts with `overrides`) whose usage log is a JSONL file in a
 * fresh folder: the process, its base URL, and the request records written so far (feedback lines left out).
 */
export async function startLocalGateway(upstreamBaseUrl: string, overrides: Partial<GatewayConfigInput> = {}, prefix = 'llm-finops-it-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const usagePath = join(dir, 'usage.jsonl');
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(testConfig(upstreamBaseUrl, { usage: { sink: 'jsonl', path: 'usage.jsonl' }, ...overrides })));
  const { proc, baseUrl } = await startLocal(configPath);
  const records = (): Record<string, unknown>[] =>
    readFileSync(usagePath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.request_id);
  return { proc, baseUrl, usagePath, records };
}
