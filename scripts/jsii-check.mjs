// The construct library for other languages, checked: compiles lib/ with jsii (the rules that make a TypeScript API
// usable from Python, Java, .NET and Go), generates the Python package's source with jsii-pacmak and byte-compiles
// it with python3, and generates the API reference with jsii-docgen, which must equal the checked-in API.md
// (`--write` updates it). Runs in a scratch copy, so the repository's dist/ is never rewritten while tests read it.
// Part of `npm test` (about a minute on 2 cores). Offline: everything comes from node_modules.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const write = process.argv.includes('--write');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const scratch = mkdtempSync(join(tmpdir(), 'llm-finops-jsii-'));
// jsii tools print a banner on Node versions past their end of life; the check runs on whatever Node the machine has.
const env = { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '1', JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION: '1', JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION: '1' };

function run(step, file, args) {
  const t0 = Date.now();
  const r = spawnSync(file, args, { cwd: scratch, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // Warnings that name our sources are worth reading; the rest (peer-dependency advice) is noise here.
  const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /(^|\s)lib\/\S+\.ts:\d+/.test(l));
  for (const l of ours) process.stdout.write(`  ${l.replace(/\x1b\[[0-9;]*m/g, '')}\n`);
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}\n${r.stderr}\n`);
    throw new Error(`${step} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
  }
  process.stdout.write(`${step}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}

try {
  for (const f of ['package.json', 'tsconfig.jsii.json', 'README.md', 'LICENSE']) cpSync(join(root, f), join(scratch, f));
  for (const d of ['lib', 'lambda']) cpSync(join(root, d), join(scratch, d), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');

  run('jsii', bin('jsii'), []);
  const assembly = JSON.parse(readFileSync(join(scratch, '.jsii'), 'utf8'));
  const types = Object.keys(assembly.types ?? {}).length;

  const outdir = join(scratch, 'dist', 'packages');
  run('jsii-pacmak (python, source only)', bin('jsii-pacmak'), ['--targets', 'python', '--code-only', '--no-fingerprint', '--outdir', outdir, '--pack-command', 'npm pack --ignore-scripts', '--no-rosetta-translate-live']);
  const pySrc = join(outdir, 'python', 'src', 'cdk_llm_finops');
  if (!existsSync(join(pySrc, '__init__.py'))) throw new Error(`jsii-pacmak wrote no Python module at ${pySrc}`);
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (python.status === 0) run('python3 -m compileall (the generated package)', 'python3', ['-m', 'compileall', '-q', pySrc]);
  else process.stdout.write('python3 not found: the generated Python source was not byte-compiled\n');

  run('jsii-docgen', bin('jsii-docgen'), ['-o', 'API.md']);
  const generated = readFileSync(join(scratch, 'API.md'), 'utf8');
  const apiMd = join(root, 'API.md');
  if (write) {
    writeFileSync(apiMd, generated);
    process.stdout.write(`wrote API.md (${generated.split('\n').length} lines, ${types} types)\n`);
  } else {
    const current = existsSync(apiMd) ? readFileSync(apiMd, 'utf8') : '';
    if (current !== generated) {
      const a = current.split('\n');
      const b = generated.split('\n');
      const at = a.findIndex((line, i) => line !== b[i]);
      throw new Error(`API.md is out of date with lib/ (first difference at line ${at + 1}: ${JSON.stringify(a[at] ?? '<end>')} vs ${JSON.stringify(b[at] ?? '<end>')}). Run \`npm run api:write\` and commit API.md.`);
    }
    process.stdout.write(`API.md matches lib/ (${types} types; Python module ${readdirSync(pySrc).length} entries)\n`);
  }
} catch (e) {
  process.stderr.write(`api:check: ${e.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
