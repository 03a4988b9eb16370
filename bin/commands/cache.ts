import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { builtinSentenceVerifier } from '../../lambda/adapters/sentence-verifier';
import { buildEmbedder } from '../../lambda/adapters/wiring';
import { evaluatePairs, parsePairs, scorePairs, sweepThresholds, type ScoredPair } from '../../lambda/core/cache/evaluate';
import { ALL_GUARDS, defaultGuards, GUARD_NAMES, NO_GUARDS, type GuardName, type GuardSettings } from '../../lambda/core/cache/guards';
import { trainVerifier, Verifier } from '../../lambda/core/cache/verifier';
import { DEFAULT_SEMANTIC_THRESHOLD, semanticGuards } from '../../lambda/core/config/resolve';
import { GatewayConfigSchema } from '../../lambda/core/config/schema';
import type { Embedder } from '../../lambda/core/ports';
import { action, collect, HALVES, integerIn, numberIn, readDataFile, UsageError, type Half } from '../cli-support';
import { progressBar } from '../progress';

const EMBEDDER_HEADING = 'Embedder (the similarities must come from the embedder you deploy):';

function withEmbedderOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--embedder <type>', 'sentence: Universal Sentence Encoder lite, offline (optional packages); local: hashed lexical features, no model').choices(['sentence', 'local', 'bedrock', 'openai-compatible']).default('sentence').helpGroup(EMBEDDER_HEADING))
    .addOption(new Option('--dimensions <n>', 'local: 1024; bedrock: 256, 512 or 1024').argParser(integerIn(1)).helpGroup(EMBEDDER_HEADING))
    .addOption(new Option('--region <region>', 'bedrock').helpGroup(EMBEDDER_HEADING))
    .addOption(new Option('--base-url <url>', 'openai-compatible, e.g. http://localhost:11434/v1 for Ollama').helpGroup(EMBEDDER_HEADING))
    .addOption(new Option('--model <model>', 'openai-compatible').helpGroup(EMBEDDER_HEADING))
    .addOption(new Option('--api-key-env <var>', 'openai-compatible: environment variable holding the API key').helpGroup(EMBEDDER_HEADING));
}

type EmbedderFlags = { embedder: string; dimensions?: number; region?: string; baseUrl?: string; model?: string; apiKeyEnv?: string };

function embedderFromFlags(v: EmbedderFlags): { embedder: Embedder; type: keyof typeof DEFAULT_SEMANTIC_THRESHOLD } {
  const type = v.embedder;
  const spec: Record<string, unknown> = { type };
  if (v.dimensions !== undefined) spec.dimensions = v.dimensions;
  if (type === 'bedrock' && v.region) spec.region = v.region;
  if (type === 'openai-compatible') {
    spec.baseUrl = v.baseUrl;
    spec.model = v.model;
    if (v.apiKeyEnv) spec.apiKeyEnv = v.apiKeyEnv;
  }
  const parsed = GatewayConfigSchema.shape.cache.unwrap().shape.semantic.unwrap().shape.embedder.safeParse(spec);
  if (!parsed.success) {
    throw new UsageError(`embedder flags: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'embedder'}: ${i.message}`).join('; ')}`);
  }
  return { embedder: buildEmbedder(parsed.data, process.env), type: parsed.data.type };
}

function parseGuards(spec: string, embedderType: keyof typeof DEFAULT_SEMANTIC_THRESHOLD): GuardSettings {
  if (spec === 'default') return semanticGuards(embedderType);
  if (spec === 'all') return ALL_GUARDS;
  if (spec === 'none') return NO_GUARDS;
  const out: Record<GuardName, boolean> = { ...NO_GUARDS };
  for (const g of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(GUARD_NAMES as readonly string[]).includes(g)) throw new UsageError(`unknown guard '${g}'; expected default, all, none or a list of ${GUARD_NAMES.join(', ')}`);
    out[g as GuardName] = true;
  }
  return { ...out, contentRule: defaultGuards(embedderType).contentRule };
}


type CommonFlags = EmbedderFlags & { data: string[]; half: Half };

/** The pairs of every --data file (each split into halves on its own, so --half keeps each file's mix). */
async function scoredPairs(o: CommonFlags, embedder: Embedder, json: boolean | undefined): Promise<ScoredPair[]> {
  const pairs = o.data.flatMap((file) => readDataFile(file, parsePairs, o.half));
  const bar = progressBar(`embedding pairs (${embedder.id})`, pairs.length, { json });
  try {
    return await scorePairs(pairs, embedder, (done) => bar.update(done));
  } finally {
    bar.stop();
  }
}

/** `cache eval`, `cache train-verifier`: measure and tune the semantic cache on labelled pairs. */
export function registerCacheCommands(program: Command): void {
  const cache = program.command('cache').summary('measure and tune the semantic cache on labelled pairs');

  withEmbedderOptions(
    cache
      .command('eval')
      .description(
        'For each pair {a, b, duplicate}: would b be served a\'s entry through the real embedder, guards and verifier? ' +
          'Prints recall, false-hit rate and wrong-hit share per threshold (--json: {"default_threshold", "results": [...]}).',
      )
      .requiredOption('--data <pairs.jsonl>', 'labelled pairs {a, b, duplicate} (repeat for several files)', collect)
      .addOption(new Option('--threshold <t>', 'one cosine threshold (default: the embedder\'s default)').argParser(numberIn(-1, 1, { min: true })).conflicts('sweep'))
      .addOption(new Option('--sweep', 'every threshold from 0.50 to 0.99').conflicts('threshold'))
      .option('--guards <spec>', `default (the embedder's, as the gateway serves), all, none or a list of ${GUARD_NAMES.join(', ')}`, 'default')
      .addOption(new Option('--verifier <file>', 'a learned pair verifier (cache train-verifier); default: the built-in one for --embedder sentence'))
      .option('--no-verifier', 'no verifier, not even the built-in one')
      .addOption(new Option('--half <half>', 'rows to use: the fixed even/odd split').choices(HALVES).default('all'))
      .option('--json', 'print JSON'),
  ).action(
    action<CommonFlags & { threshold?: number; sweep?: boolean; guards: string; verifier?: string | false; json?: boolean }>(async (o) => {
      const { embedder, type } = embedderFromFlags(o);
      const guards = parseGuards(o.guards, type);
      const defaultThreshold: number = DEFAULT_SEMANTIC_THRESHOLD[type];
      const thresholds = o.sweep ? sweepThresholds() : [o.threshold ?? defaultThreshold];
      let verifier: Verifier | undefined;
      let verifierName: string | null = null;
      if (typeof o.verifier === 'string') {
        try {
          verifier = Verifier.parse(JSON.parse(readFileSync(o.verifier, 'utf8')));
        } catch (err) {
          throw new UsageError(`--verifier ${o.verifier}: ${(err as Error).message}`);
        }
        verifierName = o.verifier;
      } else if (o.verifier === undefined && type === 'sentence') {
        verifier = builtinSentenceVerifier();
        verifierName = 'built-in';
      }
      const pairs = await scoredPairs(o, embedder, o.json);
      const results = evaluatePairs(pairs, { thresholds, guards, verifier });
      const out = {
        default_threshold: defaultThreshold,
        embedder: embedder.id,
        guards: GUARD_NAMES.filter((g) => guards[g]),
        verifier: verifierName,
        pairs: pairs.length,
        duplicates: pairs.filter((p) => p.duplicate).length,
        results,
      };
      if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        process.stdout.write(`${out.pairs} pairs (${out.duplicates} duplicates), ${out.embedder}, guards: ${out.guards.join(',') || 'none'}${verifierName ? `, verifier: ${verifierName}` : ''}\n`);
        process.stdout.write('threshold  recall  false-hit-rate  wrong-hit-share  hits\n');
        for (const r of results) {
          process.stdout.write(`${r.threshold.toFixed(2).padStart(9)}  ${(r.recall * 100).toFixed(1).padStart(5)}%  ${(r.false_hit_rate * 100).toFixed(1).padStart(13)}%  ${(r.wrong_hit_share * 100).toFixed(1).padStart(14)}%  ${r.hits}\n`);
        }
      }
    }),
  );

  withEmbedderOptions(
    cache
      .command('train-verifier')
      .description('Fit the learned pair verifier on labelled pairs (cache.semantic.verifier.path serves it).')
      .requiredOption('--data <pairs.jsonl>', 'labelled pairs {a, b, duplicate} (repeat for several files)', collect)
      .requiredOption('--out <verifier.json>', 'where to write the verifier')
      .addOption(new Option('--half <half>', 'rows to use: the fixed even/odd split').choices(HALVES).default('all'))
      .option('--seed <n>', 'random seed', integerIn(0), 1)
      .option('--target-wrong-share <share>', 'the wrong-hit share the acceptance threshold aims at', numberIn(0, 1, { min: true, max: true }), 0.1),
  ).action(
    action<CommonFlags & { out: string; seed: number; targetWrongShare: number }>(async (o) => {
      const { embedder } = embedderFromFlags(o);
      const pairs = await scoredPairs(o, embedder, false);
      let model;
      const bar = progressBar('training verifier (epochs)', 1);
      try {
        model = trainVerifier(pairs, { seed: o.seed, targetWrongShare: o.targetWrongShare, onProgress: (done, total) => bar.update(done, total) });
      } catch (err) {
        throw new UsageError((err as Error).message);
      } finally {
        bar.stop();
      }
      writeFileSync(o.out, `${JSON.stringify(model)}\n`);
      process.stdout.write(`verifier: ${pairs.length} pairs, accept at p >= ${model.threshold}, ${o.out} (${JSON.stringify(model).length} bytes)\n`);
    }),
  );
}
