import { parseOutcomes } from '../../../../lambda/core/routing/evaluate';
import { evaluatePairs, parsePairs, splitHalves, type ScoredPair } from '../../../../lambda/core/cache/evaluate';
import { ALL_GUARDS, defaultGuards, differingSpan, failedGuards, NO_GUARDS, textSignals, type GuardName } from '../../../../lambda/core/cache/guards';
import { chooseSemanticHit } from '../../../../lambda/core/cache/semantic';
import { prepareText, trainVerifier, Verifier, VERIFIER_FORMAT } from '../../../../lambda/core/cache/verifier';
import type { CachedCompletion, SemanticCandidate } from '../../../../lambda/core/ports';

const failed = (a: string, b: string): GuardName[] => failedGuards(textSignals(a), textSignals(b));

describe('guards', () => {
  describe('failedGuards', () => {
    it.each([
      ['numbers', 'Is 3 mg of melatonin too much?', 'Is 30 mg of melatonin too much?'],
      ['numbers', 'What are two ways to save money?', 'What are 3 ways to save money?'],
      ['negation', 'Why do I understand myself?', "Why can't I understand myself?"],
      ['identifiers', 'How do I fix error E1234 in my build?', 'How do I fix error E5678 in my build?'],
      ['identifiers', "How is the word 'candor' used in a sentence?", "How is the word 'atmosphere' used in a sentence?"],
      ['entities', 'What is the best way to learn Python?', 'What is the best way to learn Java?'],
      ['language', 'What is the capital of France and why?', 'Quelle est la capitale de la France et pourquoi?'],
      ['question', 'What was the first internet bank?', 'Who was the first internet bank?'],
      ['person', 'Why do you wear clothes?', 'Why do we wear clothes?'],
      ['content', 'What is the best grill marinade?', 'What is the best grill?'],
    ] as const)('rejects on %s: "%s" vs "%s"', (guard, a, b) => {
      expect(failed(a, b)).toContain(guard);
    });

    it('lets through a rewording with the same details', () => {
      expect(failed('How can I improve my English vocabulary?', 'How can I improve my english vocabulary quickly?')).toEqual(['content']);
      expect(failed('How can I improve my English vocabulary?', 'how can i improve my English vocabulary')).toEqual([]);
      expect(failed('What is 1,000 divided by 8?', 'What is 1000 divided by eight?')).toEqual([]);
    });

    it('reads entities case-insensitively in the other text, so capitalisation alone does not reject', () => {
      expect(failed('What is the best way to learn Python?', 'what is the best way to learn python?')).toEqual([]);
    });

    it('checks only the enabled guards', () => {
      expect(failedGuards(textSignals('Is 3 mg ok?'), textSignals('Is 30 mg ok?'), NO_GUARDS)).toEqual([]);
      expect(failedGuards(textSignals('Is 3 mg ok?'), textSignals('Is 30 mg ok?'), { ...NO_GUARDS, numbers: true })).toEqual(['numbers']);
    });

    it("content rule 'order' (the sentence encoder's) refuses only rearranged words, so rewordings pass", () => {
      const order = { ...ALL_GUARDS, contentRule: 'order' as const };
      const withOrder = (a: string, b: string) => failedGuards(textSignals(a), textSignals(b), order);
      expect(withOrder('How do I convert benzene into toluene?', 'How do I convert toluene into benzene?')).toEqual(['content']);
      expect(withOrder('Hugging Face Hub is a platform to host models.', 'Hugging Face Hub serves as a repository for models.')).toEqual([]);
      expect(withOrder('What is the best grill marinade?', 'What is the best grill?')).toEqual([]);
      // The other guards are unchanged by the rule.
      expect(withOrder('Is 3 mg of melatonin too much?', 'Is 30 mg of melatonin too much?')).toEqual(['numbers']);
    });

    it('defaults per embedder type: every guard for lexical, Titan and OpenAI-compatible; no question/person and the order rule for sentence', () => {
      expect(defaultGuards('local')).toBe(ALL_GUARDS);
      expect(defaultGuards('bedrock')).toBe(ALL_GUARDS);
      expect(defaultGuards('sentence')).toEqual({ ...ALL_GUARDS, question: false, person: false, contentRule: 'order' });
    });

    it('treats text too short to tell as any language', () => {
      expect(textSignals('Paris?').language).toBe('unknown');
      expect(textSignals('Что такое Париж?').language).toBe('cyrillic');
    });
  });
});

const pair = (a: string, b: string, duplicate: boolean, similarity: number): ScoredPair => ({ a, b, duplicate, similarity });

describe('evaluatePairs', () => {
  // Hand-computed: at 0.8 the hits are p1 (dup), p3 (non-dup) -> recall 1/2, false-hit rate 1/2, wrong share 1/2.
  // At 0.95 only p1 hits -> recall 1/2, fhr 0, wrong 0. With guards, p3 (3 vs 4 apples) is refused.
  const pairs = [
    pair('how do I reset my password', 'how do I reset my password please', true, 0.97),
    pair('what is a cat', 'tell me about cats', true, 0.6),
    pair('why do I have 3 apples', 'why do I have 4 apples', false, 0.9),
    pair('how tall is a giraffe', 'how heavy is a giraffe', false, 0.7),
  ];

  it('computes recall, false-hit rate and wrong-hit share per threshold', () => {
    expect(evaluatePairs(pairs, { thresholds: [0.8, 0.95, 0.99], guards: NO_GUARDS })).toEqual([
      { threshold: 0.8, recall: 0.5, false_hit_rate: 0.5, wrong_hit_share: 0.5, hits: 2 },
      { threshold: 0.95, recall: 0.5, false_hit_rate: 0, wrong_hit_share: 0, hits: 1 },
      { threshold: 0.99, recall: 0, false_hit_rate: 0, wrong_hit_share: 0, hits: 0 },
    ]);
  });

  it('counts a pair refused by a guard as a miss', () => {
    const [at65] = evaluatePairs(pairs, { thresholds: [0.65], guards: { ...NO_GUARDS, numbers: true } });
    expect(at65).toEqual({ threshold: 0.65, recall: 0.5, false_hit_rate: 0.5, wrong_hit_share: 0.5, hits: 2 });
  });
});

describe('parsePairs', () => {
  it('reads 0/1 and booleans and names the first bad line', () => {
    expect(parsePairs('{"a":"x","b":"y","duplicate":1}\n\n{"a":"x","b":"z","duplicate":false}\n')).toEqual([
      { a: 'x', b: 'y', duplicate: true },
      { a: 'x', b: 'z', duplicate: false },
    ]);
    expect(() => parsePairs('{"a":"x","b":"y","duplicate":1}\n{"a":"x"}', 'p.jsonl')).toThrow('p.jsonl:2: expected');
    expect(() => parsePairs('nope', 'p.jsonl')).toThrow('p.jsonl:1: not JSON');
    expect(() => parsePairs('\n', 'p.jsonl')).toThrow('p.jsonl: no pairs');
  });

  it('splits into even and odd rows', () => {
    expect(splitHalves([0, 1, 2, 3, 4])).toEqual({ even: [0, 2, 4], odd: [1, 3] });
  });
});

function syntheticPairs(n: number): ScoredPair[] {
  const topics = ['python', 'java', 'rust', 'golang', 'kotlin', 'swift', 'ruby', 'perl', 'scala', 'haskell'];
  const out: ScoredPair[] = [];
  for (let i = 0; i < n; i++) {
    const t = topics[i % topics.length];
    const u = topics[(i + 3) % topics.length];
    if (i % 2 === 0) out.push(pair(`how do I learn ${t} fast`, `how can I learn ${t} quickly`, true, 0.8));
    else out.push(pair(`how do I learn ${t} fast`, `how do I learn ${u} fast`, false, 0.85));
  }
  return out;
}

describe('trainVerifier', () => {
  it('is deterministic for a seed and learns that a swapped topic is a different question', () => {
    const data = syntheticPairs(200);
    const m1 = trainVerifier(data, { seed: 7 });
    const m2 = trainVerifier(data, { seed: 7 });
    expect(m1).toEqual(m2);
    expect(m1.format).toBe(VERIFIER_FORMAT);
    const v = Verifier.parse(JSON.parse(JSON.stringify(m1)));
    expect(v.accepts(prepareText('how can I learn ocaml quickly'), prepareText('how do I learn ocaml fast'), 0.8)).toBe(true);
    expect(v.accepts(prepareText('how do I learn ocaml fast'), prepareText('how do I learn elixir fast'), 0.85)).toBe(false);
  });

  it('refuses too little data', () => {
    expect(() => trainVerifier(syntheticPairs(10))).toThrow('need at least 20 labelled pairs');
  });

  it('rejects a file that is not a verifier', () => {
    expect(() => Verifier.parse({ format: 'other' })).toThrow('not a cache verifier');
    const m = trainVerifier(syntheticPairs(40));
    expect(() => Verifier.parse({ ...m, weights: [1] })).toThrow('malformed');
  });
});

describe('chooseSemanticHit', () => {
  const value = { modelId: 'm' } as unknown as CachedCompletion;
  const cand = (prompt: string, score: number): SemanticCandidate => ({ prompt, score, value });

  it('skips a closer candidate refused by a guard and serves the next one', () => {
    const out = chooseSemanticHit('Is 3 mg of melatonin too much?', [cand('Is 30 mg of melatonin too much?', 0.97), cand('is 3 mg of melatonin too much', 0.9)], ALL_GUARDS, undefined);
    expect(out.hit?.prompt).toBe('is 3 mg of melatonin too much');
    expect(out.refused).toEqual([['numbers']]);
  });

  it('skips the verifier for the same wording (case, punctuation, filler words), which a verifier fitted on rewordings may score low', () => {
    const refusesAll = { accepts: () => false } as unknown as Verifier;
    expect(chooseSemanticHit('how fast do you ship orders', [cand('How fast do you ship orders?', 0.96)], ALL_GUARDS, refusesAll).hit?.prompt).toBe('How fast do you ship orders?');
    expect(chooseSemanticHit('how quickly do you ship orders', [cand('How fast do you ship orders?', 0.93)], ALL_GUARDS, refusesAll)).toEqual({ hit: undefined, refused: [['content']] });
    const orderRule = { ...ALL_GUARDS, contentRule: 'order' as const };
    expect(chooseSemanticHit('how quickly do you ship orders', [cand('How fast do you ship orders?', 0.93)], orderRule, refusesAll)).toEqual({ hit: undefined, refused: [['verifier']] });
  });

  it('serves nothing when every candidate is refused', () => {
    expect(chooseSemanticHit('learn Python', [cand('learn Java', 0.9)], ALL_GUARDS, undefined)).toEqual({ hit: undefined, refused: [['entities', 'content']] });
  });

  it('refuses a template\'s other slot when the cached answer speaks of its own slot (the answer-slot check)', () => {
    const answered = (prompt: string, content: string): SemanticCandidate => ({
      prompt, score: 0.93, value: { modelId: 'm', completion: { choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] } } as unknown as CachedCompletion,
    });
    const sentence = defaultGuards('sentence');
    const returns = answered('How do I update the returns on my account?', 'Open Account > Returns to update your returns.');
    // One slot swapped and the answer is about returns: refused, whatever the score.
    expect(chooseSemanticHit('How do I update the payment on my account?', [returns], sentence, undefined)).toEqual({ hit: undefined, refused: [['slot']] });
    // The same question, or a synonym the answer also names, or an answer that names neither: served.
    expect(chooseSemanticHit('How do I update the returns on my account?', [returns], sentence, undefined).hit).toBe(returns);
    expect(chooseSemanticHit('How do I update the refunds on my account?', [answered('How do I update the returns on my account?', 'Returns and refunds: open Account > Returns.')], sentence, undefined).hit).toBeDefined();
    expect(chooseSemanticHit('How do I update the payment on my account?', [answered('How do I update the returns on my account?', 'Open the Account page and edit it there.')], sentence, undefined).hit).toBeDefined();
    // Off when configured so.
    expect(chooseSemanticHit('How do I update the payment on my account?', [returns], { ...sentence, answerSlot: false }, undefined).hit).toBe(returns);
  });
});

describe('differingSpan', () => {
  it('finds the one short span in which two prompts differ, and nothing when they differ in more places', () => {
    const span = (a: string, b: string) => differingSpan(textSignals(a), textSignals(b));
    expect(span('How do I change my invoices settings?', 'How do I change my returns settings?')).toEqual({ a: ['invoices'], b: ['returns'] });
    expect(span('Transformers is a cutting edge library', 'Transformers is a modern library')).toEqual({ a: ['cutting', 'edge'], b: ['modern'] });
    // Longer than 3 words on a side ("state of the art"): not a slot.
    expect(span('Transformers is a state-of-the-art library', 'Transformers is a cutting-edge library')).toBeUndefined();
    expect(span('How do I change my invoices settings?', 'How can I change my returns settings?')).toBeUndefined();
    expect(span('same words', 'same words')).toBeUndefined();
  });
});

describe('JSONL rows', () => {
  it('names the line of a row that is JSON but not an object (null used to crash the outcome parser)', () => {
    expect(() => parseOutcomes('\nnull\n', 'big', 'small', 'o.jsonl')).toThrow('o.jsonl:2: expected a JSON object');
    expect(() => parsePairs('[1, 2]', 'p.jsonl')).toThrow('p.jsonl:1: expected a JSON object');
  });
});
