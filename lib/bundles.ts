import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

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

/** The price catalog's instance-hour price (from the same bundle), or undefined when the catalog has none. */
export function catalogInstancePrice(instanceType: string): { usdPerHour: number; asOf: string; verified: boolean } | undefined {
  return configValidator().catalogInstancePrice(instanceType);
}
