import { evaluateRouter, parseOutcomes, thinPoints, type OutcomeRow } from '../../../../lambda/core/routing/evaluate';
import { bucketsFor, DEFAULT_ROUTER_SIGNALS, EPOCH_CHOICES, LearnedRouter, ORIGINAL_ROUTER_SIGNALS, ROUTER_FORMAT, ROUTER_SIGNALS, trainRouter } from '../../../../lambda/core/routing/learned';
import { estimateTextTokens } from '../../../../lambda/core/tokens';

const S = 'strong';
const W = 'weak';
const row = (w: number, s: number, prompt = 'p'): OutcomeRow => ({ prompt, outcomes: { [W]: w, [S]: s } });

describe('evaluateRouter', () => {
  // Hand-computed. weak 2/4 = 0.5, strong 3/4 = 0.75, gap 0.25. In score order the curve is
  // (0, 0.5) (0.25, 0.75) (0.5, 0.75) (0.75, 1.0) (1, 0.75): PGR 0, 1, 1, 2, 1.
  // APGR = 0.25 x [(0+1)/2 + (1+1)/2 + (1+2)/2 + (2+1)/2] = 0.25 x 4.5 = 1.125.
  const rows = [row(0, 1), row(1, 1), row(0, 1), row(1, 0)];
  const scores = [0.9, 0.7, 0.4, 0.1];

  it('computes PGR, APGR and CPT on a hand-made dataset', () => {
    const ev = evaluateRouter(rows, scores, S, W);
    expect(ev).toMatchObject({ rows: 4, weak_quality: 0.5, strong_quality: 0.75, apgr: 1.125, cpt50: 0.125, cpt80: 0.2, cpt100: 0.25 });
    expect(ev.points.map((p) => [p.strong_share, p.quality, p.threshold])).toEqual([
      [0, 0.5, null], [0.25, 0.75, 0.9], [0.5, 0.75, 0.7], [0.75, 1, 0.4], [1, 0.75, 0.1],
    ]);
  });

  it('prices the mix against always-strong when per-row costs are given', () => {
    // strong 10, weak 1 a row: all-strong 40; all-weak 4 (0.1); after the first row 13 (0.325).
    // PGR 50% at share 0.125: cost 0.1 + 0.5 x 0.225 = 0.2125 -> saved 0.7875; PGR 100% at 0.25 -> saved 0.675.
    const ev = evaluateRouter(rows, scores, S, W, { strong: [10, 10, 10, 10], weak: [1, 1, 1, 1] });
    expect(ev.savings).toEqual({
      pgr50: { strong_share: 0.125, cost_saved: 0.7875 },
      pgr80: { strong_share: 0.2, cost_saved: 0.72 },
      pgr100: { strong_share: 0.25, cost_saved: 0.675 },
    });
    expect(ev.points[1].cost_share).toBe(0.325);
  });

  it('gives 0.5 to a router that cannot tell prompts apart (ties cut together)', () => {
    expect(evaluateRouter(rows, [0.3, 0.3, 0.3, 0.3], S, W)).toMatchObject({ apgr: 0.5, points: [{ strong_share: 0 }, { strong_share: 1 }] });
  });

  it('gives the oracle the best area and an inverted oracle the worst', () => {
    const oracle = evaluateRouter(rows, rows.map((r) => r.outcomes[S] - r.outcomes[W]), S, W).apgr;
    const inverse = evaluateRouter(rows, rows.map((r) => r.outcomes[W] - r.outcomes[S]), S, W).apgr;
    expect(oracle).toBeGreaterThan(1);
    expect(inverse).toBeLessThan(0.5);
  });

  it('needs every call on the strong model when the router ranks the only gain last', () => {
    // (0, 0.5) (0.5, 0.5) (1, 1): PGR 0, 0, 1.
    expect(evaluateRouter([row(0, 1), row(1, 1)], [0.1, 0.9], S, W)).toMatchObject({ apgr: 0.25, cpt50: 0.75, cpt100: 1 });
  });

  it('thins the curve for printing, keeping both ends', () => {
    const many = Array.from({ length: 100 }, (_, i) => row(i % 2, 1));
    const pts = thinPoints(evaluateRouter(many, many.map((_, i) => i), S, W).points, 11);
    expect(pts).toHaveLength(11);
    expect(pts[0].strong_share).toBe(0);
    expect(pts.at(-1)!.strong_share).toBe(1);
  });
});

describe('parseOutcomes', () => {
  it('names the line and the missing model', () => {
    expect(parseOutcomes('{"prompt":"a","outcomes":{"strong":1,"weak":0}}', S, W)).toHaveLength(1);
    expect(() => parseOutcomes('{"prompt":"a","outcomes":{"gpt":1}}', S, W, 'f.jsonl')).toThrow('f.jsonl:1: outcomes["strong"] must be a score in [0, 1] (models here: gpt)');
    expect(() => parseOutcomes('{"prompt":"a","outcomes":{"strong":2,"weak":0}}', S, W, 'f.jsonl')).toThrow('got 2');
    expect(() => parseOutcomes('{"prompt":1}', S, W, 'f.jsonl')).toThrow('f.jsonl:1: expected');
  });
});

describe('parseOutcomes feature tags', () => {
  it('keeps a row\'s feature tag and refuses one x-llm-feature would refuse', () => {
    expect(parseOutcomes('{"prompt":"a","feature":"support-bot","outcomes":{"strong":1,"weak":0}}', S, W)).toEqual([{ prompt: 'a', feature: 'support-bot', outcomes: { strong: 1, weak: 0 } }]);
    expect(() => parseOutcomes('{"prompt":"a","feature":"no spaces","outcomes":{"strong":1,"weak":0}}', S, W, 'f.jsonl')).toThrow(
      'f.jsonl:1: "feature" must be a feature tag as x-llm-feature takes it (1-64 letters, digits, ".", "_" or "-"), got "no spaces"');
    expect(() => parseOutcomes('{"prompt":"a","feature":3,"outcomes":{"strong":1,"weak":0}}', S, W, 'f.jsonl')).toThrow('got 3');
  });
});

describe('trainRouter', () => {
  // Long multi-number word problems need the strong model; one-line lookups do not.
  const data: OutcomeRow[] = Array.from({ length: 120 }, (_, i) =>
    i % 2
      ? row(0, 1, `A farm has ${i} cows and ${i + 7} goats. Each cow gives ${i % 9 + 2} litres a day. After ${i % 5 + 2} weeks half are sold. How many litres in total?`)
      : row(1, 1, `What is the capital of country number ${i}?`));

  it('is deterministic for a seed and ranks the hard prompts above the easy ones', () => {
    const a = trainRouter(data, S, W, { seed: 4 });
    expect(trainRouter(data, S, W, { seed: 4 })).toEqual(a);
    expect(a).toMatchObject({ format: ROUTER_FORMAT, strong: S, weak: W, trainedOn: { rows: 120, seed: 4, target: 'win-rate' } });
    const r = LearnedRouter.parse(JSON.parse(JSON.stringify(a)));
    const hard = r.score('A shop sells 14 apples and 23 pears. Each apple costs 3 dollars. After 2 days half are sold. How much money in total?');
    const easy = r.score('What is the capital of France?');
    expect(hard).toBeGreaterThan(easy);
    // Half the rows gain 1, half 0: a perfect ranking reaches PGR 1 at share 0.5, so APGR = 0.25 + 0.5 = 0.75.
    expect(evaluateRouter(data, data.map((d) => r.score(d.prompt)), S, W).apgr).toBe(0.75);
  });

  it('scores an artefact trained on fewer signals (an older version) with exactly the signals it names', () => {
    // Only log_tokens weighted: score = sigmoid(bias + w x (log1p(tokens) - mean) / scale), tokens ~ chars / 4.
    const old = { ...trainRouter(data, S, W), dense: ['log_tokens', 'numbers'], mean: [2, 0], scale: [0.5, 1], weights: [1.5, 0], bias: -0.25 };
    old.hashedWeights = old.hashedWeights.map(() => 0);
    const r = LearnedRouter.parse(JSON.parse(JSON.stringify(old)));
    const prompt = 'x'.repeat(40);
    expect(r.score(prompt)).toBeCloseTo(1 / (1 + Math.exp(-(-0.25 + (1.5 * (Math.log1p(estimateTextTokens(prompt)) - 2)) / 0.5))), 12);
    expect(trainRouter(data, S, W).dense).toEqual(DEFAULT_ROUTER_SIGNALS);
    expect(DEFAULT_ROUTER_SIGNALS).toEqual(expect.arrayContaining([...ORIGINAL_ROUTER_SIGNALS, 'fraction_words', 'age_words', 'pronouns']));
    // ratio_words is out of the default set (bench/router-select.ts) but still computed for artefacts that name it.
    expect(DEFAULT_ROUTER_SIGNALS).not.toContain('ratio_words');
    expect(trainRouter(data, S, W, { dense: ROUTER_SIGNALS }).dense).toContain('ratio_words');
    // A router fitted on the original 17 signals (as every artefact before issue 19 was) still ranks and round-trips.
    const v1 = LearnedRouter.parse(JSON.parse(JSON.stringify(trainRouter(data, S, W, { dense: ORIGINAL_ROUTER_SIGNALS }))));
    expect(v1.model.weights).toHaveLength(17);
    expect(evaluateRouter(data, data.map((d) => v1.score(d.prompt)), S, W).apgr).toBe(0.75);
    expect(() => trainRouter(data, S, W, { dense: ['log_tokens', 'vibes'] })).toThrow('unknown numeric signals: vibes (known: log_tokens,');
  });

  it('refuses an artefact naming a signal this version does not compute, or without its names', () => {
    const m = trainRouter(data, S, W);
    expect(() => LearnedRouter.parse({ ...m, dense: [...m.dense.slice(1), 'sentiment'] })).toThrow(
      'trained router uses numeric signals this version does not compute (sentiment): retrain it');
    expect(() => LearnedRouter.parse({ ...m, dense: undefined })).toThrow('"dense" must list the names');
    expect(() => LearnedRouter.parse({ ...m, dense: m.dense.slice(1) })).toThrow('one weight, mean and scale per dense signal');
  });

  it('chooses the training length by 5-fold cross-validation on the rows scoring both models, and records it', () => {
    const seen: [number, number][] = [];
    const m = trainRouter(data, S, W, { seed: 2, onProgress: (done, total) => seen.push([done, total]) });
    const cv = m.trainedOn.cv!;
    expect(cv).toMatchObject({ folds: 5, rows: 120 });
    // Lengths are tried in order while each scores better than the one before; the best is kept.
    const tried = Object.keys(cv.apgr).map(Number);
    expect(tried).toEqual(EPOCH_CHOICES.slice(0, tried.length));
    const scores = tried.map((e) => cv.apgr[String(e)]);
    expect(scores.slice(0, -1).every((a, i) => i === 0 || a > scores[i - 1])).toBe(true);
    if (tried.length < EPOCH_CHOICES.length) expect(scores.at(-1)!).toBeLessThanOrEqual(scores.at(-2)!);
    expect(cv.epochs).toBe(tried[scores.indexOf(Math.max(...scores))]);
    expect(m.trainedOn.epochs).toBe(cv.epochs);
    // One run per fold to the longest length tried, then the final fit: progress counts every pass and ends at its total.
    const all = 5 * tried.at(-1)! + cv.epochs;
    expect(seen.at(-1)).toEqual([all, all]);
    expect(seen.map(([d]) => d)).toEqual(Array.from({ length: all }, (_, i) => i + 1));
    expect(seen.every(([d, t]) => t >= d)).toBe(true);
    // Given a length, or too few rows scoring both models (feedback rows score one), it trains without validating.
    expect(trainRouter(data, S, W, { epochs: 10 }).trainedOn).toMatchObject({ epochs: 10 });
    expect(trainRouter(data, S, W, { epochs: 10 }).trainedOn.cv).toBeUndefined();
    const partial = data.map((r, i) => (i < 30 ? r : { prompt: r.prompt, outcomes: { [S]: r.outcomes[S] } }));
    expect(trainRouter(partial, S, W).trainedOn).toMatchObject({ epochs: 20, rows: 120 });
    expect(trainRouter(partial, S, W).trainedOn.cv).toBeUndefined();
  });

  it('sizes the hash table to the prompts: twice their distinct words and bigrams, as a power of two, capped', () => {
    expect(bucketsFor(['What is 2 + 2?'])).toBe(16_384);
    // 12,000 distinct words and as many bigrams: 24,000 terms -> 48,000 -> 65,536.
    const word = (i: number): string => [...i.toString(26)].map((c) => String.fromCharCode(97 + parseInt(c, 26))).join('');
    expect(bucketsFor([Array.from({ length: 12_000 }, (_, i) => word(i)).join(' ')])).toBe(65_536);
    expect(bucketsFor([Array.from({ length: 200_000 }, (_, i) => word(i)).join(' ')])).toBe(262_144);
    expect(trainRouter(data, S, W).buckets).toBe(bucketsFor(data.map((d) => d.prompt)));
  });

  it('learns a prior per feature tag when the rows carry two or more, and scores with the request\'s tag', () => {
    // The same kinds of prompts: under "tax-advice" the weak model always fails, under "chit-chat" it never does.
    const tagged: OutcomeRow[] = Array.from({ length: 120 }, (_, i) => ({
      prompt: `Question ${i % 40}: how should I think about item ${i % 40}?`,
      ...(i % 3 === 2 ? {} : { feature: i % 3 ? 'tax-advice' : 'chit-chat' }),
      outcomes: i % 3 === 1 ? { [S]: 1, [W]: 0 } : { [S]: 1, [W]: 1 },
    }));
    const m = trainRouter(tagged, S, W, { seed: 3 });
    expect(m).toMatchObject({ tags: true, trainedOn: { tags: 3 } });
    const r = LearnedRouter.parse(JSON.parse(JSON.stringify(m)));
    const p = 'Question 7: how should I think about item 7?';
    expect(r.score(p, 'tax-advice')).toBeGreaterThan(r.score(p, 'chit-chat') + 0.3);
    // Untagged requests score as "default" (the untagged rows here), an unseen tag as a bucket it never trained.
    expect(r.score(p)).toBe(r.score(p, 'default'));
    expect(r.score(p, 'tax-advice')).toBeGreaterThan(r.score(p));
    // A router trained without tags ignores them, and one tag alone is no signal.
    expect(trainRouter(tagged, S, W, { tags: false }).tags).toBeUndefined();
    const plain = new LearnedRouter(trainRouter(data, S, W));
    expect(plain.score(p, 'tax-advice')).toBe(plain.score(p));
    expect(trainRouter(data.map((d) => ({ ...d, feature: 'one' })), S, W).tags).toBeUndefined();
    expect(() => LearnedRouter.parse({ ...m, tags: 'yes' })).toThrow('malformed');
  });

  it('refuses too little data and a file that is not a router', () => {
    expect(() => trainRouter(data.slice(0, 5), S, W)).toThrow('need at least 20 outcome rows');
    expect(() => LearnedRouter.parse({ format: 'x' })).toThrow('not a trained router');
    expect(() => LearnedRouter.parse({ ...trainRouter(data, S, W), weights: [] })).toThrow('malformed');
  });
});
