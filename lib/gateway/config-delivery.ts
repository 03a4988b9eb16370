import { createHash } from 'node:crypto';
import { cpSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetHashType, FileSystem, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ENV_CONFIG_FILE, ENV_CONFIG_JSON, type GatewayConfigDocument } from '../../lambda/contract';
import { bundleCode } from '../bundle-code';
import { bundleDir, bundleHash } from '../bundles';

/**
 * Lambda allows 4 KB for all of a function's environment variables together
 * (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). A config up to this size travels in
 * the environment, leaving three quarters to the other variables (tables, topics, cache settings and the tenants'
 * inference profile ids, which grow with the tenants); a larger one (a few tenants with key hashes) ships inside the
 * function's code as gateway-config.json, read at cold start.
 */
export const MAX_INLINE_CONFIG_BYTES = 1024;
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
const CONFIG_FILE = 'gateway-config.json';

/** A bundle's code and the variable that tells it where its config is. */
export function configDelivery(bundle: string, config: GatewayConfigDocument): { code: lambda.Code; environment: Record<string, string> } {
  const json = JSON.stringify(config);
  if (Buffer.byteLength(json) <= MAX_INLINE_CONFIG_BYTES) return { code: bundleCode(bundle), environment: { [ENV_CONFIG_JSON]: json } };
  const hash = createHash('sha256').update(bundleHash(bundle)).update('\u0000').update(json).digest('hex');
  const code = lambda.Code.fromAsset(bundleWithConfig(bundle, json, hash), { assetHash: hash, assetHashType: AssetHashType.CUSTOM });
  // Relative to the function's working directory, /var/task, where the code is unpacked.
  return { code, environment: { [ENV_CONFIG_FILE]: CONFIG_FILE } };
}

/**
 * The bundle with the config beside it, in a folder of the system's temp directory named by the hash of both: every
 * synth of the same bundle and config reuses one folder instead of leaving a new copy of the bundle (5 MB for the
 * router) behind each time. Built under a unique name and renamed into place, so two synths at once cannot see a
 * half-written folder.
 */
function bundleWithConfig(bundle: string, json: string, hash: string): string {
  const dir = join(FileSystem.tmpdir, `llm-finops-${bundle}-${hash.slice(0, 32)}`);
  if (existsSync(join(dir, CONFIG_FILE))) return dir;
  const staging = FileSystem.mkdtemp(`llm-finops-${bundle}-staging-`);
  cpSync(bundleDir(bundle), staging, { recursive: true });
  writeFileSync(join(staging, CONFIG_FILE), json);
  try {
    renameSync(staging, dir);
  } catch (e) {
    // Another synth put the same folder in place first (renaming onto a non-empty folder fails): use it.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, CONFIG_FILE))) throw e;
  }
  return dir;
}

/** Characters an unresolved value is assumed to take: ARNs and names CloudFormation fills in at deploy. */
const TOKEN_CHARS = 128;

function renderedLength(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v).length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + renderedLength(x), 0);
  if (v && typeof v === 'object') {
    // A Bedrock application inference profile id is 12 characters; allow for growth.
    const getAtt = (v as Record<string, unknown>)['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'InferenceProfileId') return 32;
    const join = (v as Record<string, unknown>)['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) {
      const parts = join[1] as unknown[];
      return parts.reduce((n: number, x) => n + renderedLength(x), 0) + Math.max(0, parts.length - 1) * String(join[0]).length;
    }
    return TOKEN_CHARS;
  }
  return 0;
}

/**
 * Fails synth, naming each variable and its size, when a function's environment would pass Lambda's 4 KB: caught
 * here rather than as a CreateFunction error half-way through a deploy. Unresolved values count 128 characters.
 */
export function checkEnvironmentSize(fn: lambda.Function, what: string): void {
  fn.node.addValidation({
    validate: () => {
      const cfn = fn.node.defaultChild as lambda.CfnFunction;
      const env = (Stack.of(fn).resolve(cfn.environment) as { variables?: Record<string, unknown>; Variables?: Record<string, unknown> } | undefined);
      const vars = env?.variables ?? env?.Variables ?? {};
      const sizes = Object.entries(vars).map(([k, v]) => [k, Buffer.byteLength(k) + renderedLength(v)] as const);
      const total = sizes.reduce((n, [, s]) => n + s, 0);
      if (total <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return [];
      return [
        `${what}: its environment variables take about ${total} bytes; Lambda allows ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} in total ` +
          `(${sizes.sort((a, b) => b[1] - a[1]).map(([k, s]) => `${k} ${s}`).join(', ')}). ` +
          'Fewer tenant inference profiles per gateway, or run-time tenants (llm-finops tenants) instead of config tenants, keep it under.',
      ];
    },
  });
}
