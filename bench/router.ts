/**
 * Learned-router benchmark (`npm run bench`), written to bench/results/router.json.
 *  1. APGR on ../shared/data/router-dev-gsm8k.jsonl (RouteLLM's GSM8K outcomes, Mixtral-8x7B weak, GPT-4-1106
 *     strong) with the fixed split: train on even rows, test on odd rows, and the reverse; next to the heuristic and
 *     a seeded random router (the same commands as `llm-finops router train|eval --half even|odd`).
 *  2. Sentence-encoder features (issue 19): a router on the encoder's vectors, alone and mixed with the lexical one.
 *  3. Time to train and evaluate on 14k rows (the GSM8K rows repeated to 14,000 with a row number appended, so the
 *     hashed features differ), the CI budget being one minute on the 2-core machine.
 * Machine-dependent: compare the times as orders of magnitude, not exact values.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SentenceEmbedder } from '../lambda/adapters/sentence-embedder';
import { seededRandom, sigmoid } from '../lambda/core/numeric';
import { splitHalves } from '../lambda/core/cache/evaluate';
import { evaluateRouter, parseOutcomes, type OutcomeRow } from '../lambda/core/routing/evaluate';
import { scoreComplexity } from '../lambda/core/routing/heuristic';
import { LearnedRouter, trainRouter } from '../lambda/core/routing/learned';

const ROOT = join(__dirname, '..');
const DATA = join(ROOT, '..', 'shared', 'data', 'router-dev-gsm8k.jsonl');
const STRONG = 'gpt-4-1106-preview';
const WEAK = 'mistralai/Mixtral-8x7B-Instruct-v0.1';

const rows = parseOutcomes(readFileSync(DATA, 'utf8'), STRONG, WEAK, DATA);
const { even, odd } = splitHalves(rows);

function compare(train: OutcomeRow[], test: OutcomeRow[]) {
  const router = new LearnedRouter(trainRouter(train, STRONG, WEAK, { seed: 1 }));
  const rand = seededRandom(1);
  const summary = (scores: number[]) => {
    const e = evaluateRouter(test, scores, STRONG, WEAK);
    return { apgr: e.apgr, cpt50: e.cpt50, cpt80: e.cpt80 };
  };
  return {
    train_rows: train.length,
    test_rows: test.length,
    learned: summary(test.map((r) => router.score(r.prompt))),
    heuristic: summary(test.map((r) => scoreComplexity({ model: 'auto', messages: [{ role: 'user', content: r.prompt }] }).score)),
    random: summary(test.map(() => rand())),
  };
}

const split = { train_even_test_odd: compare(even, odd), train_odd_test_even: compare(odd, even) };
for (const [k, v] of Object.entries(split)) {
  process.stdout.write(`${k}: learned APGR ${v.learned.apgr}, heuristic ${v.heuristic.apgr}, random ${v.random.apgr}\n`);
}

/**
 * Issue 19's question: do sentence-encoder features route better? Logistic regression on the encoder's 512-d vector
 * (the same label and SGD as trainRouter, L2 0.001 per step; 0.01-0.1 made the fit depend on the last rows seen), alone and mixed with the lexical
 * router (0.3 x its logit + 0.7 x the lexical router's). Bench-only: the product router stays lexical (README).
 */
async function sentenceFeatures() {
  const t0 = performance.now();
  const { vectors } = await new SentenceEmbedder().embed(rows.map((r) => r.prompt));
  const embedMs = (performance.now() - t0) / rows.length;
  const byPrompt = new Map(rows.map((r, i) => [r.prompt, vectors[i]]));
  const label = (r: OutcomeRow): number => ((r.outcomes[STRONG] ?? 0.5) - (r.outcomes[WEAK] ?? 0.5) + 1) / 2;
  const fit = (train: OutcomeRow[]): ((r: OutcomeRow) => number) => {
    const w = new Float64Array(512);
    let b = 0;
    const rand = seededRandom(1);
    const x = (r: OutcomeRow): Float32Array => byPrompt.get(r.prompt)!;
    const z = (r: OutcomeRow): number => {
      const v = x(r);
      let s = b;
      for (let k = 0; k < 512; k++) s += w[k] * v[k] * Math.sqrt(512);
      return s;
    };
    for (let e = 0; e < 20; e++) {
      const rate = 0.05 / (1 + e * 0.1);
      for (const r of train.map((t) => ({ t, k: rand() })).sort((p, q) => p.k - q.k).map((p) => p.t)) {
        const g = sigmoid(z(r)) - label(r);
        b -= rate * g;
        const v = x(r);
        for (let k = 0; k < 512; k++) w[k] -= rate * (g * v[k] * Math.sqrt(512) + 1e-3 * w[k]);
      }
    }
    return z;
  };
  const out: Record<string, { sentence_only: number; mixed: number; lexical: number }> = {};
  for (const [name, train, test] of [['train_even_test_odd', even, odd], ['train_odd_test_even', odd, even]] as const) {
    const emb = fit(train);
    const lexical = new LearnedRouter(trainRouter(train, STRONG, WEAK, { seed: 1 }));
    const logit = (p: number): number => Math.log(p / (1 - p));
    const apgr = (scores: number[]): number => evaluateRouter(test, scores, STRONG, WEAK).apgr;
    out[name] = {
      lexical: apgr(test.map((r) => lexical.score(r.prompt))),
      sentence_only: apgr(test.map((r) => sigmoid(emb(r)))),
      mixed: apgr(test.map((r) => 0.3 * emb(r) + 0.7 * logit(lexical.score(r.prompt)))),
    };
  }
  return { embed_ms_per_prompt: Math.round(embedMs * 10) / 10, ...out };
}

const big: OutcomeRow[] = Array.from({ length: 14_000 }, (_, i) => ({ ...rows[i % rows.length], prompt: `${rows[i % rows.length].prompt} (#${i})` }));
const t0 = performance.now();
const model = trainRouter(big, STRONG, WEAK, { seed: 1 });
const trainMs = performance.now() - t0;
const router = new LearnedRouter(model);
const t1 = performance.now();
evaluateRouter(big, big.map((r) => router.score(r.prompt)), STRONG, WEAK);
const evalMs = performance.now() - t1;
const scoreUs = (evalMs * 1000) / big.length;
process.stdout.write(`14k rows: train ${Math.round(trainMs)} ms, evaluate ${Math.round(evalMs)} ms (${scoreUs.toFixed(1)} µs per prompt), artefact ${JSON.stringify(model).length} bytes\n`);

(async () => {
const sentence = await sentenceFeatures();
process.stdout.write(`sentence-encoder features: ${JSON.stringify(sentence)}\n`);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'router.json'), `${JSON.stringify({
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(),
  data: 'router-dev-gsm8k.jsonl (1,307 rows; split: even rows / odd rows)', strong: STRONG, weak: WEAK,
  split, sentence_features: sentence,
  scale: { rows: big.length, train_ms: Math.round(trainMs), eval_ms: Math.round(evalMs), score_us_per_prompt: Math.round(scoreUs * 10) / 10, artefact_bytes: JSON.stringify(model).length },
}, null, 2)}\n`);
})();
