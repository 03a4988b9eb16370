import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { builtinSentenceVerifier } from '../../lambda/adapters/sentence-verifier';
import { buildEmbedder } from '../../lambda/adapters/wiring';
import { evaluatePairs, parsePairs, scorePairs, sweepThresholds, type ScoredPair } from '../../lambda/core/cache/evaluate';
import { ALL_GUARDS, defaultGuards, GUARD_NAMES, NO_GUARDS, type GuardName, type GuardSettings } from '../../lambda/core/cache/guards';
import { trainVerifier, Verifier } from '../../lambda/core/cache/verifier';
import { DEFAULT_SEMANTIC_THRESHOLD, semanticGuards } from '../../lambda/core/config/resolve';
import { GatewayConfigSchema } from '../../lambda/core/config/schema';
import { findCatalogPrice, PRICE_CATALOG } from '../../lambda/core/pricing/catalog';
import { estimateTokensFromBytes } from '../../lambda/core/tokens';
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
    .addOption(new Option('--api-key-env <var>', 'openai-compatible: environment variable holding the API key').helpGroup(EMBEDDER_HEADING))
    .addOption(new Option('--price-per-mtok <usd>', 'what the embedder charges per 1M input tokens (default: the catalog\'s price for its model; 0 for a local server)').argParser(numberIn(0, 1000)).helpGroup(EMBEDDER_HEADING));
}

type EmbedderFlags = { embedder: string; dimensions?: number; region?: string; baseUrl?: string; model?: string; apiKeyEnv?: string; pricePerMTok?: number };

function embedderFromFlags(v: EmbedderFlags): { embedder: Embedder; type: keyof typeof DEFAULT_SEMANTIC_THRESHOLD; pricePerMTok: number | undefined } {
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
  const e = parsed.data;
  // What a remote embedder charges per 1M input tokens: the flag, else the catalog's row for its model; none locally.
  const pricePerMTok = e.type === 'local' || e.type === 'sentence' ? 0 : v.pricePerMTok ?? findCatalogPrice(e.model, PRICE_CATALOG)?.inputPerMTok;
  return { embedder: buildEmbedder(e, process.env), type: e.type, pricePerMTok };
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
      .command('calibrate')
      .description(
        'Choose the semantic threshold for the embedder you deploy, on your labelled pairs {a, b, duplicate}: embeds them through that ' +
          'embedder (its cost is stated first; a paid embedder runs only with --yes, and never past --max-usd), sweeps 0.50-0.99 with ' +
          'the gateway\'s guards, and picks the lowest threshold whose wrong-hit share is at most --target-wrong-share. With --config ' +
          'FILE --write, writes it to cache.semantic.threshold in that file (the rest untouched).',
      )
      .requiredOption('--data <pairs.jsonl>', 'labelled pairs {a, b, duplicate}, e.g. your own traffic labelled (repeat for several files)', collect)
      .option('--target-wrong-share <share>', 'the largest wrong share of hits to accept', numberIn(0, 1), 0.05)
      .option('--max-usd <usd>', 'refuse to embed when the estimate is above this', numberIn(0, 1000), 1)
      .option('--yes', 'embed through a paid embedder (the estimate is printed either way)')
      .option('--config <gateway.json>', 'the gateway config to write the threshold into (with --write)')
      .option('--write', 'write the chosen threshold into --config')
      .option('--json', 'print JSON'),
  ).action(
    action<CommonFlags & { targetWrongShare: number; maxUsd: number; yes?: boolean; config?: string; write?: boolean; json?: boolean }>(async (o) => {
      if (o.write && !o.config) throw new UsageError('--write needs --config FILE');
      const { embedder, type, pricePerMTok } = embedderFromFlags(o);
      if (pricePerMTok === undefined) throw new UsageError(`no price for this embedder's model in the catalog: pass --price-per-mtok (0 for a local server)`);
      const pairs = o.data.flatMap((file) => readDataFile(file, parsePairs, 'all'));
      const tokens = pairs.reduce((n, p) => n + estimateTokensFromBytes(Buffer.byteLength(p.a)) + estimateTokensFromBytes(Buffer.byteLength(p.b)), 0);
      const usd = (tokens * pricePerMTok) / 1_000_000;
      const estimate = `embedding ${pairs.length} pairs: about ${tokens} tokens at $${pricePerMTok}/1M = $${usd.toFixed(4)} (${embedder.id})`;
      process.stderr.write(`${estimate}\n`);
      if (usd > o.maxUsd) throw new UsageError(`the estimate $${usd.toFixed(4)} is above --max-usd ${o.maxUsd}`);
      if (usd > 0 && !o.yes) throw new UsageError('a paid embedder: run again with --yes to embed (the estimate is above)');
      const guards = semanticGuards(type);
      const scored = await scorePairs(pairs, embedder);
      const results = evaluatePairs(scored, { thresholds: sweepThresholds(), guards, verifier: type === 'sentence' ? builtinSentenceVerifier() : undefined });
      const chosen = results.find((r) => r.hits > 0 && r.wrong_hit_share <= o.targetWrongShare);
      if (!chosen) throw new UsageError(`no threshold from 0.50 to 0.99 keeps the wrong share of hits at or below ${o.targetWrongShare} on these pairs: add pairs, or accept more`);
      const out = { embedder: embedder.id, pairs: pairs.length, estimated_usd: Math.round(usd * 1e6) / 1e6, target_wrong_share: o.targetWrongShare, chosen, default_threshold: DEFAULT_SEMANTIC_THRESHOLD[type], written: null as string | null };
      if (o.write) {
        const file = o.config!;
        let doc: { cache?: { semantic?: Record<string, unknown> } };
        try {
          doc = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new UsageError(`--config ${file}: ${(err as Error).message}`);
        }
        doc.cache = { ...doc.cache, semantic: { ...doc.cache?.semantic, threshold: chosen.threshold } };
        writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
        out.written = file;
      }
      if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        process.stdout.write(
          `threshold ${chosen.threshold} (default ${out.default_threshold}): recall ${(chosen.recall * 100).toFixed(1)}%, wrong share of hits ${(chosen.wrong_hit_share * 100).toFixed(1)}% ` +
            `(${chosen.hits} hits of ${pairs.length} pairs)${out.written ? `; written to ${out.written} cache.semantic.threshold` : ''}\n`,
        );
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
