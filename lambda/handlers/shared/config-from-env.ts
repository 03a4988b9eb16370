import { readFileSync } from 'node:fs';
import { ENV_CONFIG_FILE, ENV_CONFIG_JSON } from '../../contract';

/** The gateway config document a Lambda was deployed with: inline JSON, or a file in its bundle. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): unknown {
  const inline = env[ENV_CONFIG_JSON];
  if (inline) return JSON.parse(inline);
  const file = env[ENV_CONFIG_FILE];
  if (file) return JSON.parse(readFileSync(file, 'utf8'));
  throw new Error(`Set ${ENV_CONFIG_JSON} (JSON) or ${ENV_CONFIG_FILE} (path) to the gateway config.`);
}
