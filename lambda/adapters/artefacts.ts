import { readFileSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { s3Client, secretsManagerClient } from './lazy';
import { awsClientConfig } from './aws-client-config';
import { Verifier } from '../core/cache/verifier';
import type { ResolvedConfig } from '../core/config/resolve';
import { LearnedRouter } from '../core/routing/learned';

/**
 * What the gateway reads once at start-up besides its config: the learned router, the semantic cache's pair
 * verifier, and provider API keys held in Secrets Manager (by provider id).
 */
export interface Artefacts {
  readonly router?: LearnedRouter;
  readonly verifier?: Verifier;
  readonly providerKeys?: ReadonlyMap<string, string>;
  /** The semantic index's API key (Pinecone `apiKeySecret`) or password (Valkey `passwordSecret`). */
  readonly indexKey?: string;
  /**
   * Why that key could not be read (no route to Secrets Manager, access denied, a deleted secret). The gateway then
   * starts without its semantic tier (buildCache) rather than not at all: a cache is an optimisation, the gateway is
   * not.
   */
  readonly indexKeyError?: string;
}

function secretProviders(config: ResolvedConfig): { id: string; secret: string }[] {
  return config.raw.providers.flatMap((p) => ('apiKeySecret' in p && p.apiKeySecret ? [{ id: p.id, secret: p.apiKeySecret }] : []));
}

/** A secret holds the key as plain text or as JSON {"apiKey": "..."} (the shape of a console key/value secret). */
export function keyFromSecret(value: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) {
    let parsed: { apiKey?: unknown };
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error('secret is neither a plain key nor JSON');
    }
    if (typeof parsed.apiKey !== 'string' || !parsed.apiKey) throw new Error('secret JSON has no "apiKey" string');
    return parsed.apiKey;
  }
  if (!trimmed) throw new Error('secret is empty');
  return trimmed;
}

type Ref = { readonly path: string } | { readonly s3Uri: string };

function refs(config: ResolvedConfig): { router?: Ref; verifier?: Ref } {
  const sem = config.raw.cache.semantic;
  return { router: config.raw.routing.learned, verifier: sem.enabled ? sem.verifier : undefined };
}

function parseAs<T>(what: string, where: string, text: string, parse: (json: unknown) => T): T {
  try {
    return parse(JSON.parse(text));
  } catch (err) {
    throw new Error(`${what}: cannot load ${where}: ${(err as Error).message}`, { cause: err });
  }
}

function readLocal(what: string, ref: { path: string }, baseDir: string): string {
  const file = isAbsolute(ref.path) ? ref.path : resolvePath(baseDir, ref.path);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot load ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function readS3(what: string, uri: string, s3: S3Client): Promise<string> {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!;
  try {
    const { GetObjectCommand } = s3Client();
    const out = await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }));
    if (!out.Body) throw new Error('empty object');
    return await out.Body.transformToString('utf8');
  } catch (err) {
    throw new Error(`${what}: cannot load ${uri}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Loads every artefact the config names, from files or S3 (once, at start-up: a Lambda cold start, `llm-finops
 * local`). A missing or malformed artefact stops start-up with its field and location: a gateway must not quietly
 * route or cache without the model it was configured with.
 */
export async function loadArtefacts(config: ResolvedConfig, opts: { baseDir?: string; s3?: S3Client; secrets?: SecretsManagerClient } = {}): Promise<Artefacts> {
  const r = refs(config);
  const baseDir = opts.baseDir ?? process.cwd();
  let s3 = opts.s3;
  const read = async (what: string, ref: Ref): Promise<string> => {
    if ('path' in ref) return readLocal(what, ref, baseDir);
    s3 ??= new (s3Client().S3Client)(awsClientConfig('artefacts'));
    return readS3(what, ref.s3Uri, s3);
  };
  let sm = opts.secrets;
  /** The key a Secrets Manager secret holds; an error names the config field and the secret. */
  const secretKey = async (field: string, secret: string): Promise<string> => {
    try {
      const { GetSecretValueCommand, SecretsManagerClient } = secretsManagerClient();
      sm ??= new SecretsManagerClient(awsClientConfig('secrets'));
      const out = await sm.send(new GetSecretValueCommand({ SecretId: secret }));
      if (out.SecretString === undefined) throw new Error('the secret has no string value');
      return keyFromSecret(out.SecretString);
    } catch (err) {
      throw new Error(`${field}: cannot read ${secret}: ${(err as Error).message}`, { cause: err });
    }
  };
  const keys = Promise.all(secretProviders(config).map(async ({ id, secret }) => [id, await secretKey(`providers '${id}'.apiKeySecret`, secret)] as const));
  const ix = config.raw.cache.semantic.enabled ? config.raw.cache.semantic.index : undefined;
  const indexKey = ix?.type === 'pinecone' && ix.apiKeySecret ? secretKey('cache.semantic.index.apiKeySecret', ix.apiKeySecret)
    : ix?.type === 'valkey' && ix.passwordSecret ? secretKey('cache.semantic.index.passwordSecret', ix.passwordSecret) : undefined;
  const [router, verifier, providerKeys, index] = await Promise.all([
    r.router ? read('routing.learned', r.router).then((t) => parseAs('routing.learned', where(r.router!), t, LearnedRouter.parse)) : undefined,
    r.verifier ? read('cache.semantic.verifier', r.verifier).then((t) => parseAs('cache.semantic.verifier', where(r.verifier!), t, Verifier.parse)) : undefined,
    keys,
    indexKey?.then((key) => ({ key }), (err: Error) => ({ error: err.message })),
  ]);
  return { router, verifier, providerKeys: new Map(providerKeys), indexKey: index && 'key' in index ? index.key : undefined, indexKeyError: index && 'error' in index ? index.error : undefined };
}

/** The same for file artefacts only, synchronously (tests and tools that build a gateway in one step). */
export function loadFileArtefacts(config: ResolvedConfig, baseDir = process.cwd()): Artefacts {
  const r = refs(config);
  const secret = secretProviders(config)[0];
  if (secret) throw new Error(`providers '${secret.id}'.apiKeySecret: Secrets Manager keys are read by loadArtefacts() before building the gateway`);
  const read = (what: string, ref: Ref): string => {
    if ('s3Uri' in ref) throw new Error(`${what}: ${ref.s3Uri} is an S3 object; load it with loadArtefacts() before building the gateway`);
    return readLocal(what, ref, baseDir);
  };
  return {
    router: r.router ? parseAs('routing.learned', where(r.router), read('routing.learned', r.router), LearnedRouter.parse) : undefined,
    verifier: r.verifier ? parseAs('cache.semantic.verifier', where(r.verifier), read('cache.semantic.verifier', r.verifier), Verifier.parse) : undefined,
  };
}

function where(ref: Ref): string {
  return 'path' in ref ? ref.path : ref.s3Uri;
}
