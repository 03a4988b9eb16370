import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { builtinSentenceVerifier } from '../../lambda/adapters/sentence-verifier';
import { buildEmbedder } from '../../lambda/adapters/wiring';
import { calibrate, CalibrationFailed, type Calibration } from '../../lambda/core/cache/calibrate';
import { evaluatePairs, parsePairs, scorePairs, sweepThresholds, type LabelledPair, type ScoredPair } from '../../lambda/core/cache/evaluate';
import { ALL_GUARDS, defaultGuards, GUARD_NAMES, NO_GUARDS, type GuardName, type GuardSettings } from '../../lambda/core/cache/guards';
import { templatedPairs } from '../../lambda/core/cache/templated-pairs';
import { trainVerifier, Verifier } from '../../lambda/core/cache/verifier';
import { DEFAULT_SEMANTIC_THRESHOLD, semanticGuards } from '../../lambda/core/config/resolve';
import { GatewayConfigSchema } from '../../lambda/core/config/schema';
import { findCatalogPrice, PRICE_CATALOG } from '../../lambda/core/pricing/catalog';
import { estimateTokensFromBytes } from '../../lambda/core/tokens';
import type { Embedder } from '../../lambda/core/ports';
import { action, collect, HALVES, integerIn, numberIn, packagedFile, readDataFile, readParsed, UsageError, type Half } from '../cli-support';
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

function embedderFromFlags(v: EmbedderFlags): { embedder: Embedder; type: keyof typeof DEFAULT_SEMANTIC_THRESHOLD; spec: Record<string, unknown>; pricePerMTok: number | undefined } {
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
  // Bulk: thousands of texts a run, so a Bedrock client that paces itself when throttled.
  return { embedder: buildEmbedder(e, process.env, { bulk: true }), type: e.type, spec, pricePerMTok };
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


const SHIPPED_PAIRS_NOTE = '999 paraphrase pairs from GPTCache\'s benchmark (MIT) and 800 templated FAQ pairs with their answers, 720 of them questions that differ in their subject; alone they never loosen the embedder\'s defaults: no lower threshold, no other content rule';

/**
 * The pairs `cache calibrate` embeds when the user has none of their own: GPTCache's paraphrases (every pair a
 * duplicate; examples/calibration, MIT) and the templated FAQ pairs, whose slot swaps are the hard negatives.
 */
function shippedPairs(): (LabelledPair & { source: string })[] {
  const file = packagedFile(join('examples', 'calibration', 'paraphrases.jsonl'), 'pass --data FILE with --no-shipped-pairs');
  return [
    ...readDataFile(file, parsePairs, 'all').map((p) => ({ ...p, source: 'shipped paraphrases' })),
    ...templatedPairs({ answers: true }).map((p) => ({ ...p, source: 'shipped FAQ templates' })),
  ];
}

type SemanticDoc = { embedder?: { type?: string }; verifier?: unknown; builtinVerifier?: boolean; guards?: Record<string, unknown> } & Record<string, unknown>;
type ConfigDoc = { cache?: { semantic?: SemanticDoc } & Record<string, unknown> } & Record<string, unknown>;

function readConfigDoc(file: string): ConfigDoc {
  return readParsed(file, (text) => {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`--config ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`--config ${file}: not a JSON object`);
    return doc as ConfigDoc;
  });
}

/** Refuses, before anything is embedded, a write whose figures would not hold for what the config serves. */
function checkWritable(doc: ConfigDoc, type: string, training: boolean): void {
  const sem = doc.cache?.semantic;
  const named = sem?.embedder?.type;
  if (named && named !== type) {
    throw new UsageError(`the config's cache.semantic.embedder is ${named}, not ${type}: a threshold measured on one embedder does not hold for another; run with --embedder ${named}, or change the config's embedder first`);
  }
  if (!training && sem?.verifier !== undefined) {
    throw new UsageError('the config serves with its own verifier (cache.semantic.verifier), which this run would not measure: pass --train-verifier FILE to fit one for this embedder, or remove it');
  }
  if (!training && type === 'sentence' && sem?.builtinVerifier === false) {
    throw new UsageError('the config turns the built-in verifier off (builtinVerifier: false), but it is what this run measures with: pass --train-verifier FILE, or remove builtinVerifier');
  }
}

/** Writes the calibrated settings into cache.semantic of the config file (the rest untouched), checked by the schema first. */
function writeCalibration(file: string, doc: ConfigDoc, c: { spec: Record<string, unknown>; threshold: number; guards: GuardSettings; verifierFile?: string }): void {
  const sem = doc.cache?.semantic ?? {};
  const guards: Record<string, unknown> = { ...sem.guards };
  for (const g of GUARD_NAMES) guards[g] = c.guards[g];
  guards.contentRule = c.guards.contentRule;
  const semantic: SemanticDoc = { ...sem, embedder: sem.embedder ?? c.spec, threshold: c.threshold, guards };
  if (c.verifierFile) semantic.verifier = { path: relative(dirname(resolve(file)), resolve(c.verifierFile)) };
  const cache = { ...doc.cache, semantic };
  const checked = GatewayConfigSchema.shape.cache.safeParse(cache);
  if (!checked.success) throw new UsageError(`--config ${file}: the calibrated cache section does not validate: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  writeFileSync(file, `${JSON.stringify({ ...doc, cache }, null, 2)}\n`);
}

/** `cache calibrate`'s human-readable report: the choice, each source, each content rule, what was written. */
function printCalibration(result: Calibration, o: { verifierName: string | null; defaultThreshold: number; written: string | null; verifierFile?: string; embedderWritten: boolean; keptRule: boolean }): void {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `threshold ${result.threshold} (default ${o.defaultThreshold}), content rule ${result.guards.contentRule}, verifier ${o.verifierName ?? 'none'}: ` +
      `recall ${pct(result.point.recall)}, wrong share of hits ${pct(result.point.wrong_hit_share)} (${result.point.hits} hits, on ${result.checkedOn} pairs` +
      `${result.fittedOn ? ` the verifier was not fitted on; fitted on ${result.fittedOn}` : ''})`,
    ...(result.floored ? ['  a lower threshold kept within the target on the shipped pairs, but their only near misses are FAQ subjects swapped: pass --data with pairs from your traffic to go below the default'] : []),
    ...(o.keptRule ? result.rules.filter((r) => r.contentRule !== result.guards.contentRule && r.chosen && r.chosen.recall > result.point.recall)
      .map((r) => `  the content rule ${r.contentRule} would serve more (${pct(r.chosen!.recall)}); on the shipped pairs alone the default is kept: pass --data with pairs from your traffic to choose it`) : []),
    ...result.bySource.map((s) => `  ${s.source} (${s.pairs} pairs): recall ${pct(s.point.recall)}, wrong ${pct(s.point.wrong_hit_share)} (${s.point.hits} hits)`),
    ...result.rules.map((r) => `  content rule ${r.contentRule}: ${r.chosen ? `threshold ${r.chosen.threshold}, recall ${pct(r.chosen.recall)}, wrong ${pct(r.chosen.wrong_hit_share)}` : 'no threshold within the target'}`),
    ...(o.written ? [`written to ${o.written}: cache.semantic.${[...(o.embedderWritten ? ['embedder'] : []), 'threshold', 'guards', ...(o.verifierFile ? ['verifier'] : [])].join(', ')}`] : []),
    ...(o.verifierFile ? [`verifier: ${o.verifierFile} (for the Lambda, upload it and name it as cache.semantic.verifier.s3Uri)`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

type CommonFlags = EmbedderFlags & { data: string[]; half: Half };

/** The pairs of every --data file (each split into halves on its own, so --half keeps each file's mix). */
async function scoredPairs(o: CommonFlags, embedder: Embedder, json: boolean | undefined): Promise<(ScoredPair & { source: string })[]> {
  const pairs = o.data.flatMap((file) => readDataFile(file, parsePairs, o.half).map((p) => ({ ...p, source: file })));
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
      // Several files: each one's figures too, as pooled a file of easy duplicates dilutes another's wrong hits.
      const byFile = o.data.length > 1
        ? o.data.map((file) => {
          const mine = pairs.filter((p) => p.source === file);
          return { file, pairs: mine.length, duplicates: mine.filter((p) => p.duplicate).length, results: evaluatePairs(mine, { thresholds, guards, verifier }) };
        })
        : undefined;
      const out = {
        default_threshold: defaultThreshold,
        embedder: embedder.id,
        guards: GUARD_NAMES.filter((g) => guards[g]),
        verifier: verifierName,
        pairs: pairs.length,
        duplicates: pairs.filter((p) => p.duplicate).length,
        results,
        ...(byFile ? { by_file: byFile } : {}),
      };
      if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        process.stdout.write(`${out.pairs} pairs (${out.duplicates} duplicates), ${out.embedder}, guards: ${out.guards.join(',') || 'none'}${verifierName ? `, verifier: ${verifierName}` : ''}\n`);
        const table = (rows: typeof results): void => {
          process.stdout.write('threshold  recall  false-hit-rate  wrong-hit-share  hits\n');
          for (const r of rows) {
            process.stdout.write(`${r.threshold.toFixed(2).padStart(9)}  ${(r.recall * 100).toFixed(1).padStart(5)}%  ${(r.false_hit_rate * 100).toFixed(1).padStart(13)}%  ${(r.wrong_hit_share * 100).toFixed(1).padStart(14)}%  ${r.hits}\n`);
          }
        };
        table(results);
        for (const f of byFile ?? []) {
          process.stdout.write(`\n${f.file}: ${f.pairs} pairs (${f.duplicates} duplicates)\n`);
          table(f.results);
        }
      }
    }),
  );

  withEmbedderOptions(
    cache
      .command('calibrate')
      .description(
        'Calibrate the semantic tier for the embedder you deploy: embeds labelled pairs {a, b, duplicate} through that embedder (the ' +
          'pairs shipped with the CLI, and yours with --data; its cost is stated first, a paid embedder runs only with --yes and never ' +
          'past --max-usd), then chooses the guards\' content rule and the lowest threshold whose wrong share of hits is at most ' +
          '--target-wrong-share on each pair file apart; with --train-verifier, fits a verifier for that embedder on half the pairs and chooses on the other half. ' +
          'With --config FILE --write, writes the embedder, threshold, guards and verifier into cache.semantic of that file (the rest untouched).',
      )
      .addOption(new Option('--data <pairs.jsonl>', 'your labelled pairs {a, b, duplicate, answer?} (answer: the one cached for a), e.g. your own traffic labelled (repeat for several files)').argParser(collect).default([], 'none: the shipped pairs only'))
      .option('--no-shipped-pairs', `leave out the pairs shipped with the CLI (${SHIPPED_PAIRS_NOTE})`)
      .option('--train-verifier <verifier.json>', 'fit a verifier for this embedder on half the pairs, write it here, and choose the rest with it on the other half')
      .option('--seed <n>', 'random seed of the verifier\'s training', integerIn(0), 1)
      .option('--target-wrong-share <share>', 'the largest wrong share of hits to accept', numberIn(0, 1), 0.05)
      .option('--max-usd <usd>', 'refuse to embed when the estimate is above this', numberIn(0, 1000), 1)
      .option('--yes', 'embed through a paid embedder (the estimate is printed either way)')
      .option('--config <gateway.json>', 'the gateway config to write the results into (with --write)')
      .option('--write', 'write the embedder, threshold, guards and verifier into --config')
      .option('--json', 'print JSON'),
  ).action(
    action<EmbedderFlags & { data: string[]; shippedPairs: boolean; trainVerifier?: string; seed: number; targetWrongShare: number; maxUsd: number; yes?: boolean; config?: string; write?: boolean; json?: boolean }>(async (o) => {
      if (o.write && !o.config) throw new UsageError('--write needs --config FILE');
      if (o.trainVerifier && o.data.length === 0) {
        throw new UsageError('--train-verifier needs --data: a verifier fitted on the shipped pairs alone learns their one kind of near miss and could pass others the built-in one refuses');
      }
      const { embedder, type, spec, pricePerMTok } = embedderFromFlags(o);
      if (pricePerMTok === undefined) throw new UsageError(`no price for this embedder's model in the catalog: pass --price-per-mtok (0 for a local server)`);
      const doc = o.config ? readConfigDoc(o.config) : undefined;
      if (doc && o.write) checkWritable(doc, type, Boolean(o.trainVerifier));
      // Each pair keeps its file: the target holds within each one (calibrate's bySource).
      const pairs = [...(o.shippedPairs ? shippedPairs() : []), ...o.data.flatMap((file) => readDataFile(file, parsePairs, 'all').map((p) => ({ ...p, source: file })))];
      if (pairs.length === 0) throw new UsageError('no pairs: pass --data FILE, or keep the shipped pairs');
      const tokens = pairs.reduce((n, p) => n + estimateTokensFromBytes(Buffer.byteLength(p.a)) + estimateTokensFromBytes(Buffer.byteLength(p.b)), 0);
      const usd = (tokens * pricePerMTok) / 1_000_000;
      process.stderr.write(`embedding ${pairs.length} pairs: about ${tokens} tokens at $${pricePerMTok}/1M = $${usd.toFixed(4)} (${embedder.id})\n`);
      if (usd > o.maxUsd) throw new UsageError(`the estimate $${usd.toFixed(4)} is above --max-usd ${o.maxUsd}`);
      if (usd > 0 && !o.yes) throw new UsageError('a paid embedder: run again with --yes to embed (the estimate is above)');
      const bar = progressBar(`embedding pairs (${embedder.id})`, pairs.length, { json: o.json });
      let scored: (ScoredPair & { source?: string })[];
      try {
        scored = await scorePairs(pairs, embedder, (done) => bar.update(done));
      } finally {
        bar.stop();
      }
      let result: Calibration;
      try {
        result = calibrate(scored, {
          guards: semanticGuards(type),
          targetWrongShare: o.targetWrongShare,
          ...(o.trainVerifier ? { train: { seed: o.seed } } : type === 'sentence' ? { verifier: builtinSentenceVerifier() } : {}),
          // The shipped pairs' only near misses are slot swaps: alone, they may confirm or tighten the defaults (the
          // threshold, the content rule), never loosen them.
          ...(o.data.length === 0 ? { minThreshold: DEFAULT_SEMANTIC_THRESHOLD[type], keepRule: true } : {}),
        });
      } catch (err) {
        if (err instanceof CalibrationFailed) throw new UsageError(err.message);
        throw err;
      }
      if (o.trainVerifier && result.verifier) writeFileSync(o.trainVerifier, `${JSON.stringify(result.verifier)}\n`);
      const verifierName = o.trainVerifier ?? (type === 'sentence' ? 'built-in' : null);
      const out = {
        embedder: embedder.id, pairs: pairs.length, estimated_usd: Math.round(usd * 1e6) / 1e6, target_wrong_share: o.targetWrongShare,
        threshold: result.threshold, default_threshold: DEFAULT_SEMANTIC_THRESHOLD[type], content_rule: result.guards.contentRule,
        guards: GUARD_NAMES.filter((g) => result.guards[g]), verifier: verifierName, fitted_on: result.fittedOn, checked_on: result.checkedOn,
        floored: result.floored, chosen: result.point, by_source: result.bySource, rules: result.rules, written: null as string | null,
      };
      if (o.write && doc) {
        writeCalibration(o.config!, doc, { spec, threshold: result.threshold, guards: result.guards, verifierFile: o.trainVerifier });
        out.written = o.config!;
      }
      if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else printCalibration(result, { verifierName, defaultThreshold: out.default_threshold, written: out.written, verifierFile: o.trainVerifier, embedderWritten: !doc?.cache?.semantic?.embedder, keptRule: o.data.length === 0 });
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
