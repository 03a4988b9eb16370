import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * Directory of a pre-built Lambda bundle (assets/lambda/<name>), found from this file whether it runs from the
 * TypeScript source (lib/) or the compiled package (dist/lib/).
 */
export function bundleDir(name: string): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'assets', 'lambda', name);
    if (existsSync(join(candidate, 'index.js'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`The Lambda bundle '${name}' is missing (assets/lambda/${name}/index.js). Run \`npm run build\` in cdk-llm-finops.`);
}

interface ConfigValidator {
  validateGatewayConfig(c: unknown): string[];
  gatewayConfigWarnings(c: unknown, nowMs: number): string[];
  catalogInstancePrice(instanceType: string): { usdPerHour: number; asOf: string; verified: boolean } | undefined;
}

function configValidator(): ConfigValidator {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'assets', 'config-validator', 'index.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    if (existsSync(file)) return require(file) as ConfigValidator;
    dir = dirname(dir);
  }
  throw new Error('The config validator is missing (assets/config-validator/index.js). Run `npm run build` in cdk-llm-finops.');
}

/** The bundled config validator (assets/config-validator): the router's own checks, run at synth. */
export function validateGatewayConfig(config: unknown): string[] {
  return configValidator().validateGatewayConfig(config);
}

/** Warnings for a valid config (models retired or retiring within 60 days), from the same bundle. */
export function gatewayConfigWarnings(config: unknown, nowMs: number): string[] {
  return configValidator().gatewayConfigWarnings(config, nowMs);
}

/** The price catalog's instance-hour price (from the same bundle), or undefined when the catalog has none. */
export function catalogInstancePrice(instanceType: string): { usdPerHour: number; asOf: string; verified: boolean } | undefined {
  return configValidator().catalogInstancePrice(instanceType);
}

/**
 * SHA-256 of a bundle's files (relative path and content, in path order): the custom asset hash of the CDK Lambda
 * code, from which both flavours' asset hash derives (bundleAssetHash), so they provably deploy the same bytes.
 */
export function bundleHash(name: string): string {
  const dir = bundleDir(name);
  // Read once per process: every function made from a bundle (and each config-in-code folder) asks again, and the
  // router's is 5 MB. Bundles are built before synth (npm run build), never during it.
  const known = BUNDLE_HASHES.get(dir);
  if (known) return known;
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(dir);
  const h = createHash('sha256');
  for (const f of files.map((p) => relative(dir, p).split('\\').join('/')).sort()) {
    h.update(f).update('\u0000').update(readFileSync(join(dir, f))).update('\u0000');
  }
  const hash = h.digest('hex');
  BUNDLE_HASHES.set(dir, hash);
  return hash;
}

const BUNDLE_HASHES = new Map<string, string>();

/**
 * The asset hash of a bundle in both flavours: CDK turns a custom asset hash into sha256(custom) (the S3 key of the
 * Lambda code), so the cdktf flavour uses that same value for its TerraformAsset.
 */
export function bundleAssetHash(name: string): string {
  return createHash('sha256').update(bundleHash(name)).digest('hex');
}
