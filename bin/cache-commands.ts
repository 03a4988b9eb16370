import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildEmbedder } from '../lambda/adapters/wiring';
import { evaluatePairs, parsePairs, sweepThresholds, type LabelledPair, type ScoredPair } from '../lambda/core/cache/evaluate';
import { ALL_GUARDS, GUARD_NAMES, NO_GUARDS, type GuardName, type GuardSettings } from '../lambda/core/cache/guards';
import { trainVerifier, Verifier } from '../lambda/core/cache/verifier';
import { DEFAULT_SEMANTIC_THRESHOLD } from '../lambda/core/config/resolve';
import { GatewayConfigSchema } from '../lambda/core/config/schema';
import type { Embedder } from '../lambda/core/ports';
import { readDataFile, UsageError } from './cli-support';

export const CACHE_USAGE = `  llm-finops cache eval --data PAIRS.jsonl [--threshold T | --sweep] [--guards all|none|LIST] [--verifier FILE]
      [--half all|even|odd] [EMBEDDER] --json
      For each pair {a, b, duplicate}: would b be served a's entry through the real embedder, guards and verifier?
      Prints {"default_threshold", "results": [{threshold, recall, false_hit_rate, wrong_hit_share, hits}]}.
  llm-finops cache train-verifier --data PAIRS.jsonl --out VERIFIER.json [--half all|even|odd] [--seed N]
      [--target-wrong-share 0.1] [EMBEDDER]
      Fit the learned pair verifier on labelled pairs (cache.semantic.verifier.path serves it).

EMBEDDER (cache eval and train-verifier; the similarities must come from the embedder you deploy):
  --embedder local|bedrock|openai-compatible   default local (hashed lexical features, no download)
  --dimensions N                 local: 1024; bedrock: 256, 512 or 1024
  --region REGION                bedrock
  --base-url URL --model M [--api-key-env VAR]   openai-compatible (e.g. http://localhost:11434/v1 for Ollama)
`;

const EMBEDDER_OPTIONS = {
  embedder: { type: 'string', default: 'local' },
  dimensions: { type: 'string' },
  region: { type: 'string' },
  'base-url': { type: 'string' },
  model: { type: 'string' },
  'api-key-env': { type: 'string' },
} as const;

type EmbedderFlags = { embedder?: string; dimensions?: string; region?: string; 'base-url'?: string; model?: string; 'api-key-env'?: string };

function embedderFromFlags(v: EmbedderFlags): { embedder: Embedder; type: keyof typeof DEFAULT_SEMANTIC_THRESHOLD } {
  const type = v.embedder ?? 'local';
  const spec: Record<string, unknown> = { type };
  if (v.dimensions !== undefined) spec.dimensions = Number(v.dimensions);
  if (type === 'bedrock' && v.region) spec.region = v.region;
  if (type === 'openai-compatible') {
    spec.baseUrl = v['base-url'];
    spec.model = v.model;
    if (v['api-key-env']) spec.apiKeyEnv = v['api-key-env'];
  }
  const parsed = GatewayConfigSchema.shape.cache.unwrap().shape.semantic.unwrap().shape.embedder.safeParse(spec);
  if (!parsed.success) {
    throw new UsageError(`embedder flags: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'embedder'}: ${i.message}`).join('; ')}`);
  }
  return { embedder: buildEmbedder(parsed.data, process.env), type: parsed.data.type };
}

function parseGuards(spec: string): GuardSettings {
  if (spec === 'all') return ALL_GUARDS;
  if (spec === 'none') return NO_GUARDS;
  const out: Record<GuardName, boolean> = { ...NO_GUARDS };
  for (const g of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(GUARD_NAMES as readonly string[]).includes(g)) throw new UsageError(`unknown guard '${g}'; expected all, none or a list of ${GUARD_NAMES.join(', ')}`);
    out[g as GuardName] = true;
  }
  return out;
}


/** Similarity of each pair through the embedder, in batches (a remote embedder bills each call). */
async function score(pairs: readonly LabelledPair[], embedder: Embedder): Promise<ScoredPair[]> {
  const out: ScoredPair[] = [];
  const batch = 64;
  for (let i = 0; i < pairs.length; i += batch) {
    const chunk = pairs.slice(i, i + batch);
    const { vectors } = await embedder.embed(chunk.flatMap((p) => [p.a, p.b]));
    chunk.forEach((p, j) => {
      const [va, vb] = [vectors[2 * j], vectors[2 * j + 1]];
      let dot = 0;
      for (let k = 0; k < va.length; k++) dot += va[k] * vb[k];
      out.push({ ...p, similarity: dot });
    });
  }
  return out;
}

export async function cacheCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'eval') return cacheEval(rest);
  if (sub === 'train-verifier') return trainVerifierCommand(rest);
  throw new UsageError(`unknown cache command '${sub ?? ''}'; expected eval or train-verifier`);
}

async function cacheEval(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string' }, threshold: { type: 'string' }, sweep: { type: 'boolean' }, guards: { type: 'string', default: 'all' },
      verifier: { type: 'string' }, half: { type: 'string' }, json: { type: 'boolean' }, ...EMBEDDER_OPTIONS,
    },
  });
  if (values.sweep && values.threshold !== undefined) throw new UsageError('give --threshold T or --sweep, not both');
  const guards = parseGuards(values.guards);
  const { embedder, type } = embedderFromFlags(values);
  const defaultThreshold: number = DEFAULT_SEMANTIC_THRESHOLD[type];
  let thresholds = [defaultThreshold];
  if (values.sweep) thresholds = sweepThresholds();
  else if (values.threshold !== undefined) {
    const t = Number(values.threshold);
    if (!(t > -1 && t <= 1)) throw new UsageError(`--threshold must be a cosine in (-1, 1], got ${values.threshold}`);
    thresholds = [t];
  }
  let verifier: Verifier | undefined;
  if (values.verifier) {
    try {
      verifier = Verifier.parse(JSON.parse(readFileSync(values.verifier, 'utf8')));
    } catch (err) {
      throw new UsageError(`--verifier ${values.verifier}: ${(err as Error).message}`);
    }
  }
  const pairs = await score(readDataFile(values.data, 'PAIRS.jsonl', parsePairs, values.half), embedder);
  const results = evaluatePairs(pairs, { thresholds, guards, verifier });
  const out = {
    default_threshold: defaultThreshold,
    embedder: embedder.id,
    guards: GUARD_NAMES.filter((g) => guards[g]),
    verifier: values.verifier ?? null,
    pairs: pairs.length,
    duplicates: pairs.filter((p) => p.duplicate).length,
    results,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`${out.pairs} pairs (${out.duplicates} duplicates), ${out.embedder}, guards: ${out.guards.join(',') || 'none'}${verifier ? ', verifier' : ''}\n`);
    process.stdout.write('threshold  recall  false-hit-rate  wrong-hit-share  hits\n');
    for (const r of results) {
      process.stdout.write(`${r.threshold.toFixed(2).padStart(9)}  ${(r.recall * 100).toFixed(1).padStart(5)}%  ${(r.false_hit_rate * 100).toFixed(1).padStart(13)}%  ${(r.wrong_hit_share * 100).toFixed(1).padStart(14)}%  ${r.hits}\n`);
    }
  }
  return 0;
}

async function trainVerifierCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, out: { type: 'string' }, half: { type: 'string' }, seed: { type: 'string', default: '1' }, 'target-wrong-share': { type: 'string', default: '0.1' }, ...EMBEDDER_OPTIONS },
  });
  if (!values.out) throw new UsageError('--out VERIFIER.json is required');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${values.seed}`);
  const target = Number(values['target-wrong-share']);
  if (!(target > 0 && target < 1)) throw new UsageError(`--target-wrong-share must be in (0, 1), got ${values['target-wrong-share']}`);
  const { embedder } = embedderFromFlags(values);
  const pairs = await score(readDataFile(values.data, 'PAIRS.jsonl', parsePairs, values.half), embedder);
  let model;
  try {
    model = trainVerifier(pairs, { seed, targetWrongShare: target });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  writeFileSync(values.out, `${JSON.stringify(model)}\n`);
  process.stdout.write(`verifier: ${pairs.length} pairs, accept at p >= ${model.threshold}, ${values.out} (${JSON.stringify(model).length} bytes)\n`);
  return 0;
}
