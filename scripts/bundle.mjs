// Bundles every Lambda entry in lambda/handlers into assets/lambda/<name>/index.js, at library build time, so
// consumers synthesise with Code.fromAsset and need neither Docker nor esbuild.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const handlersDir = join(root, 'lambda', 'handlers');
const outRoot = join(root, 'assets', 'lambda');
rmSync(outRoot, { recursive: true, force: true });

const entries = readdirSync(handlersDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
for (const file of entries) {
  const name = basename(file, '.ts');
  const result = await build({
    entryPoints: [join(handlersDir, file)],
    outfile: join(outRoot, name, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node22' /* runs on the nodejs24.x runtime the constructs use; node22 keeps the bundle loadable in tests on Node 20+ */,
    format: 'cjs',
    minify: true,
    // No source maps: they doubled the published assets (and each Lambda's code size), and reading them needs
    // --enable-source-maps, which slows every cold start. Errors carry our own messages and the request id.
    sourcemap: false,
    legalComments: 'none',
    // The sentence encoder (30 MB of weights read from its package's files) runs in llm-finops local only; the
    // construct refuses it for the Lambda at synth (lambda/tools/validate-config.ts).
    external: ['@energetic-ai/*'],
    mainFields: ['module', 'main'],
    metafile: true,
    logLevel: 'warning',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
  process.stdout.write(`bundled lambda/handlers/${file} -> assets/lambda/${name}/index.js (${(bytes / 1024).toFixed(0)} KiB)\n`);
}

// The config validator for the constructs (not a Lambda): the same checks at synth as at cold start.
const validator = join(root, 'assets', 'config-validator');
rmSync(validator, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'lambda', 'tools', 'validate-config.ts')],
  outfile: join(validator, 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
process.stdout.write('bundled lambda/tools/validate-config.ts -> assets/config-validator/index.js\n');
