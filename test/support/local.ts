import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** Starts `llm-finops local` as a user would, on an ephemeral port; resolves with the process and its base URL. */
export async function startLocal(configPath: string, extraArgs: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<{ proc: ChildProcess; baseUrl: string }> {
  const proc = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), 'local', '--config', configPath, '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
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
