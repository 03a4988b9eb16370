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
