// Bundles the llm-finops CLI (bin/llm-finops.ts and the lambda/ code it runs) into packages/cli/dist/llm-finops.js,
// with every npm package left external: they are the CLI package's dependencies (test/packaging.test.ts checks that
// the two lists agree). Also copies the files the CLI falls back to: replay's default config and the pairs
// `cache calibrate` embeds when given none (with their licence).
import { build } from 'esbuild';
import { chmodSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = join(root, 'packages', 'cli');
rmSync(join(pkg, 'dist'), { recursive: true, force: true });
rmSync(join(pkg, 'examples'), { recursive: true, force: true });

export const CLI_BUILD = {
  entryPoints: [join(root, 'bin', 'llm-finops.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  legalComments: 'none',
  logLevel: 'warning',
};

const outfile = join(pkg, 'dist', 'llm-finops.js');
const result = await build({ ...CLI_BUILD, outfile, metafile: true });
chmodSync(outfile, 0o755);
mkdirSync(join(pkg, 'examples'), { recursive: true });
cpSync(join(root, 'examples', 'replay'), join(pkg, 'examples', 'replay'), { recursive: true });
cpSync(join(root, 'examples', 'calibration'), join(pkg, 'examples', 'calibration'), { recursive: true });
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
process.stdout.write(`bundled bin/llm-finops.ts -> packages/cli/dist/llm-finops.js (${(bytes / 1024).toFixed(0)} KiB)\n`);
