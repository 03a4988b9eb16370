import { readFileSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Verifier } from '../core/cache/verifier';
import type { ResolvedConfig } from '../core/config/resolve';
import { LearnedRouter } from '../core/routing/learned';

/** Trained files the config names: the learned router and the semantic cache's pair verifier. */
export interface Artefacts {
  readonly router?: LearnedRouter;
  readonly verifier?: Verifier;
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
export async function loadArtefacts(config: ResolvedConfig, opts: { baseDir?: string; s3?: S3Client } = {}): Promise<Artefacts> {
  const r = refs(config);
  const baseDir = opts.baseDir ?? process.cwd();
  let s3 = opts.s3;
  const read = async (what: string, ref: Ref): Promise<string> => {
    if ('path' in ref) return readLocal(what, ref, baseDir);
    s3 ??= new S3Client({});
    return readS3(what, ref.s3Uri, s3);
  };
  const [router, verifier] = await Promise.all([
    r.router ? read('routing.learned', r.router).then((t) => parseAs('routing.learned', where(r.router!), t, LearnedRouter.parse)) : undefined,
    r.verifier ? read('cache.semantic.verifier', r.verifier).then((t) => parseAs('cache.semantic.verifier', where(r.verifier!), t, Verifier.parse)) : undefined,
  ]);
  return { router, verifier };
}

/** The same for file artefacts only, synchronously (tests and tools that build a gateway in one step). */
export function loadFileArtefacts(config: ResolvedConfig, baseDir = process.cwd()): Artefacts {
  const r = refs(config);
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
