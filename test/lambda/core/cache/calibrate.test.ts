import { calibrate, CalibrationFailed } from '../../../../lambda/core/cache/calibrate';
import { evaluatePairs, parsePairs, type ScoredPair } from '../../../../lambda/core/cache/evaluate';
import { defaultGuards } from '../../../../lambda/core/cache/guards';
import { faqAnswer, templatedPairs } from '../../../../lambda/core/cache/templated-pairs';
import { Verifier } from '../../../../lambda/core/cache/verifier';

const pair = (a: string, b: string, duplicate: boolean, similarity: number, answer?: string): ScoredPair => ({ a, b, duplicate, similarity, ...(answer ? { answer } : {}) });

// Rewordings in other content words (the order rule passes them, the exact rule refuses), one-word-different
// questions the threshold must keep out, and case-only rewordings both rules pass.
const reworded = [
  pair('How do I reset my password?', 'How can I recover my password?', true, 0.9),
  pair('Where is my parcel?', 'Where is my package?', true, 0.88),
  pair('Can I cancel my plan?', 'Is cancelling my plan possible?', true, 0.86),
];
const caseOnly = [pair('What are your opening hours?', 'what are your opening hours', true, 0.99)];
const different = [
  pair('How do I reset my password?', 'How do I reset my username?', false, 0.87),
  pair('Where is my parcel?', 'Where is my invoice?', false, 0.84),
];

describe('calibrate', () => {
  const guards = defaultGuards('bedrock'); // every guard, the exact content rule

  it('chooses the content rule with more recall within the target, and the lowest threshold that keeps it', () => {
    const c = calibrate([...reworded, ...caseOnly, ...different], { guards, targetWrongShare: 0 });
    // exact: only the case-only pair passes (recall 1/4 at any threshold up to 0.99); order: the rewordings too,
    // with no wrong hit from 0.88 up (0.87 lets "username" in).
    expect(c.rules).toEqual([
      { contentRule: 'exact', chosen: { threshold: 0.5, recall: 0.25, false_hit_rate: 0, wrong_hit_share: 0, hits: 1 } },
      { contentRule: 'order', chosen: { threshold: 0.88, recall: 0.75, false_hit_rate: 0, wrong_hit_share: 0, hits: 3 } },
    ]);
    expect(c).toMatchObject({ threshold: 0.88, guards: { ...guards, contentRule: 'order' }, fittedOn: 0, checkedOn: 6, floored: false });
  });

  it('keeps the default rule when told to (the shipped pairs alone), measuring the other all the same', () => {
    const c = calibrate([...reworded, ...caseOnly, ...different], { guards, targetWrongShare: 0, keepRule: true });
    expect(c).toMatchObject({ threshold: 0.5, guards: { contentRule: 'exact' }, point: { recall: 0.25 } });
    expect(c.rules[1]).toMatchObject({ contentRule: 'order', chosen: { threshold: 0.88, recall: 0.75 } });
  });

  it('keeps the default rule on a tie, and lets a wider target lower the threshold', () => {
    const c = calibrate([...caseOnly, ...different], { guards, targetWrongShare: 0 });
    expect(c.guards.contentRule).toBe('exact');
    expect(calibrate([...reworded, ...caseOnly, ...different], { guards, targetWrongShare: 0.25 }).threshold).toBe(0.85);
  });

  it('never goes under minThreshold, and says so when a lower one would have kept within the target', () => {
    const c = calibrate([...reworded, ...caseOnly, ...different], { guards, targetWrongShare: 0.25, minThreshold: 0.86 });
    // 0.85 would keep within 25% (5 hits, 1 wrong); the floor holds at 0.86, with the same hits.
    expect(c).toMatchObject({ threshold: 0.86, floored: true, point: { hits: 5, wrong_hit_share: 0.2 } });
    // A floor under the choice changes nothing; one off the grid is itself a candidate.
    expect(calibrate([...reworded, ...caseOnly, ...different], { guards, targetWrongShare: 0.25, minThreshold: 0.82 })).toMatchObject({ threshold: 0.85, floored: false });
    expect(calibrate([...reworded, ...caseOnly, ...different], { guards, targetWrongShare: 0, minThreshold: 0.875 })).toMatchObject({ threshold: 0.875, floored: false, point: { hits: 3 } });
  });

  it('holds the target within each source, so one file\'s easy duplicates cannot dilute another\'s wrong hits', () => {
    const yours = [pair('How do I reset my password?', 'How can I recover my password?', true, 0.9), pair('How do I reset my password?', 'How do I reset my username?', false, 0.86)];
    const easy = Array.from({ length: 10 }, (_, i) => pair(`Is shop ${'abcdefghij'[i]} open today?`, `is shop ${'abcdefghij'[i]} open today`, true, 0.9));
    // Pooled, every threshold up to 0.86 is 1 wrong hit in 12 (8.3%); your file alone is 1 in 2 there, so 0.87 is the
    // lowest within 10% on each.
    expect(calibrate([...yours, ...easy], { guards, targetWrongShare: 0.1 }).threshold).toBe(0.5);
    const c = calibrate([...yours.map((p) => ({ ...p, source: 'yours.jsonl' })), ...easy.map((p) => ({ ...p, source: 'shipped' }))], { guards, targetWrongShare: 0.1 });
    expect(c.threshold).toBe(0.87);
    expect(c.bySource).toEqual([
      { source: 'yours.jsonl', pairs: 2, point: { threshold: 0.87, recall: 1, false_hit_rate: 0, wrong_hit_share: 0, hits: 1 } },
      { source: 'shipped', pairs: 10, point: { threshold: 0.87, recall: 1, false_hit_rate: 0, wrong_hit_share: 0, hits: 10 } },
    ]);
  });

  it('refuses pairs of one label, and a target no threshold meets', () => {
    expect(() => calibrate(reworded, { guards, targetWrongShare: 0.1 })).toThrow(new CalibrationFailed('the pairs calibrated on need both labels: got 3 duplicates and 0 others'));
    const identical = [pair('Is it open?', 'is it open', true, 0.99), pair('Is it open?', 'Is it closed?', false, 0.995)];
    expect(() => calibrate(identical, { guards: { ...guards, content: false }, targetWrongShare: 0 })).toThrow(/no threshold from 0.50 to 0.99 keeps the wrong share of hits at or below 0/);
    // Too few pairs to fit a verifier on half of them: said as a calibration failure (the CLI's usage error).
    expect(() => calibrate([...reworded, ...different], { guards, targetWrongShare: 0.1, train: { seed: 1 } })).toThrow(/^the verifier's half of the pairs: need at least 20 labelled pairs with 5 of each label; got 2 pairs, 1 duplicates$/);
  });

  it('serves with the verifier given, and with train fits one on half the pairs and chooses on the other half', () => {
    const pairs = templatedPairs({ answers: true }).map((p, i) => ({ ...p, similarity: p.duplicate ? 0.9 : 0.8 + (i % 10) / 100 }));
    const c = calibrate(pairs, { guards: defaultGuards('sentence'), targetWrongShare: 0.05, train: { seed: 1 } });
    expect(c.verifier?.format).toBe('llm-finops-cache-verifier');
    expect(c.fittedOn + c.checkedOn).toBe(800);
    expect(c.fittedOn).toBeGreaterThan(300);
    expect(c.checkedOn).toBeGreaterThan(300);
    expect(c.point.wrong_hit_share).toBeLessThanOrEqual(0.05);
    // The halves come from the pairs' text, not their order.
    expect(calibrate([...pairs].reverse(), { guards: defaultGuards('sentence'), targetWrongShare: 0.05, train: { seed: 1 } })).toMatchObject({ fittedOn: c.fittedOn, checkedOn: c.checkedOn });
    // Deterministic for a seed.
    expect(calibrate(pairs, { guards: defaultGuards('sentence'), targetWrongShare: 0.05, train: { seed: 1 } })).toEqual(c);
    const refuseAll = new Verifier({ ...c.verifier!, threshold: 2 });
    expect(() => calibrate([...reworded, ...different], { guards, targetWrongShare: 0, verifier: refuseAll })).toThrow(CalibrationFailed);
  });
});

describe('pairs with the cached answer', () => {
  it('parses an optional answer and refuses one that is not a string', () => {
    expect(parsePairs('{"a":"x","b":"y","duplicate":1,"answer":"z"}')).toEqual([{ a: 'x', b: 'y', duplicate: true, answer: 'z' }]);
    expect(() => parsePairs('{"a":"x","b":"y","duplicate":1,"answer":3}', 'p.jsonl')).toThrow('p.jsonl:1: expected');
  });

  it('runs the answer-slot check on it, as the gateway serves', () => {
    const swap = pair('How do I change my invoices settings?', 'How do I change my returns settings?', false, 0.9);
    const guards = defaultGuards('sentence');
    expect(evaluatePairs([swap], { thresholds: [0.82], guards })[0].hits).toBe(1);
    expect(evaluatePairs([{ ...swap, answer: faqAnswer('invoices') }], { thresholds: [0.82], guards })[0].hits).toBe(0);
    expect(evaluatePairs([{ ...swap, answer: faqAnswer('invoices') }], { thresholds: [0.82], guards: { ...guards, answerSlot: false } })[0].hits).toBe(1);
  });

  it('templated pairs: 80 rewordings and 720 slot swaps, answers naming the slot when asked for', () => {
    const plain = templatedPairs();
    expect([plain.filter((p) => p.duplicate).length, plain.filter((p) => !p.duplicate).length]).toEqual([80, 720]);
    expect(plain[0].answer).toBeUndefined();
    expect(templatedPairs({ answers: true })[1]).toEqual({
      a: 'How do I change my invoices settings?', b: 'How do I change my returns settings?', duplicate: false,
      answer: 'Open Account > Invoices: everything about your invoices is there, and our invoices team can help.',
    });
  });
});
