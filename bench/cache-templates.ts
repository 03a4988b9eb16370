/**
 * Templated FAQ traffic against the semantic cache (`npm run bench:cache-templates`, issue 34), written to
 * bench/results/cache-templates.json. A support bot's questions are mostly templates whose slot is the object asked
 * about ("How do I change my {invoices|returns|...} settings?"): two questions that differ only in the slot must never
 * be served each other's answer, while rewordings of the same question should hit.
 *
 * Pairs (lambda/core/cache/templated-pairs.ts): FAQ_TEMPLATES x FAQ_SLOTS x FAQ_SLOTS (slot a != slot b) as non-duplicates, and each template's rewording with the same
 * slot as duplicates. Through the local default (the sentence encoder, its default threshold, guards and built-in
 * verifier) with the function the gateway serves hits by (chooseSemanticHit): without the cached answers (as
 * evaluatePairs measures the dev pairs) and with answers that name their slot, as a support bot's do (the answer-slot
 * check reads them). Reports the hit rate on rewordings, the wrong share of hits, and the worst pairs served.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { SentenceEmbedder } from '../lambda/adapters/sentence-embedder';
import { builtinSentenceVerifier } from '../lambda/adapters/sentence-verifier';
import { cachedAnswer, evaluatePairs, scorePairs, type ScoredPair } from '../lambda/core/cache/evaluate';
import { FAQ_SLOTS, FAQ_TEMPLATES, templatedPairs } from '../lambda/core/cache/templated-pairs';
import { defaultGuards } from '../lambda/core/cache/guards';
import { chooseSemanticHit } from '../lambda/core/cache/semantic';
import { DEFAULT_SEMANTIC_THRESHOLD } from '../lambda/core/config/resolve';

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

async function main() {
  const pairs = templatedPairs({ answers: true });
  const threshold = DEFAULT_SEMANTIC_THRESHOLD.sentence;
  const guards = defaultGuards('sentence');
  const verifier = builtinSentenceVerifier();
  const scored = await scorePairs(pairs, new SentenceEmbedder());
  // Without the cached answers (as the dev pairs are measured: the answer-slot check cannot run) ...
  const [point] = evaluatePairs(scored.map(({ answer: _answer, ...p }) => p), { thresholds: [threshold], guards, verifier });
  // ... and as the gateway serves: each entry holds an answer that, as FAQ answers do, names what it is about.
  const served = (p: ScoredPair): boolean => p.similarity >= threshold
    && chooseSemanticHit(p.b, [{ score: p.similarity, prompt: p.a, value: cachedAnswer(p.answer) }], guards, verifier).hit !== undefined;
  const hits = scored.filter(served);
  const wrong = hits.filter((p) => !p.duplicate);
  const withAnswers = {
    recall: round(hits.filter((p) => p.duplicate).length / scored.filter((p) => p.duplicate).length),
    hits: hits.length,
    wrong_hits: wrong.length,
    wrong_hit_share: round(hits.length ? wrong.length / hits.length : 0),
  };
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
    setup: `the local default: sentence encoder, threshold ${threshold}, guards ${JSON.stringify(guards)}, built-in verifier`,
    templates: FAQ_TEMPLATES.length,
    slots: FAQ_SLOTS.length,
    duplicate_pairs: pairs.filter((p) => p.duplicate).length,
    non_duplicate_pairs: pairs.filter((p) => !p.duplicate).length,
    non_duplicates_over_threshold: scored.filter((p) => !p.duplicate && p.similarity >= threshold).length,
    without_answers: point,
    with_answers: withAnswers,
    worst_served: wrong.sort((x, y) => y.similarity - x.similarity).slice(0, 10).map((p) => ({ cached: p.a, asked: p.b, score: round(p.similarity) })),
  };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'cache-templates.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
