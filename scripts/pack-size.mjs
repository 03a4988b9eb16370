// What `npm install` costs a user, measured: packs the construct package and the CLI package as built (npm run build
// first), installs each into a scratch folder from the npm registry next to aws-cdk-lib and constructs, and writes the
// sizes to bench/results/pack-size.json. Needs the npm registry; not part of npm test.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const cdkLib = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies['aws-cdk-lib'].replace(/^\^/, '');
const scratch = mkdtempSync(join(tmpdir(), 'llm-finops-pack-'));
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const mb = (dir) => Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;
const round = (x) => Math.round(x * 10) / 10;

function pack(workspace) {
  const out = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', scratch, ...(workspace ? ['-w', workspace] : [])], root))[0];
  return { file: join(scratch, out.filename), tarballMB: round(out.size / 1048576), unpackedMB: round(out.unpackedSize / 1048576), files: out.entryCount };
}

function install(name, specs) {
  const dir = join(scratch, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), '{"name":"scratch","version":"1.0.0","private":true}\n');
  const t0 = Date.now();
  npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', ...specs], dir);
  return { seconds: round((Date.now() - t0) / 1000), nodeModulesMB: round(mb(join(dir, 'node_modules'))) };
}

const constructs = pack();
const cli = pack('packages/cli');
const base = install('base', [`aws-cdk-lib@${cdkLib}`, 'constructs@10']);
const withConstructs = install('constructs', [`aws-cdk-lib@${cdkLib}`, 'constructs@10', constructs.file]);
const withCli = install('cli', [cli.file]);
// The lean install must still synthesise: the reference platform from the installed tarball, offline.
const app = `const { App } = require('aws-cdk-lib');
const { GatewayConfig, ReferencePlatformStack } = require('cdk-llm-finops');
const app = new App({ outdir: 'cdk.out' });
const stack = new ReferencePlatformStack(app, 'Smoke', { gatewayConfig: GatewayConfig.fromFile(${JSON.stringify(join(root, 'examples', 'platform', 'gateway.json'))}), setUpApiGatewayAccountLogging: false });
const t = app.synth().getStackByName('Smoke').template;
process.stdout.write(String(Object.keys(t.Resources).length));`;
writeFileSync(join(scratch, 'constructs', 'app.js'), app);
const smokeResources = Number(execFileSync(process.execPath, ['app.js'], { cwd: join(scratch, 'constructs'), encoding: 'utf8' }));
const cliVersion = execFileSync(join(scratch, 'cli', 'node_modules', '.bin', 'llm-finops'), ['--version'], { encoding: 'utf8' }).trim();

const result = {
  measuredAt: new Date().toISOString(),
  note: 'node_modules sizes by du on this machine; the construct figure is the install with aws-cdk-lib and constructs minus those alone',
  constructPackage: { ...constructs, file: undefined, installBeyondCdkMB: round(withConstructs.nodeModulesMB - base.nodeModulesMB), smokeSynthResources: smokeResources },
  cliPackage: { ...cli, file: undefined, installMB: withCli.nodeModulesMB, installedVersion: cliVersion },
  awsCdkLibAndConstructsMB: base.nodeModulesMB,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'pack-size.json'), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
