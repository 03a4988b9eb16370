import type { CachedCompletion, SemanticCandidate } from '../ports';
import { answersOtherSlot, failedGuards, sameContent, textSignals, type GuardName, type GuardSettings, type TextSignals } from './guards';
import { prepareText, type PreparedText, type Verifier } from './verifier';

export interface SemanticChoice {
  /** The best candidate every enabled guard and the verifier accept; undefined when none does. */
  readonly hit: SemanticCandidate | undefined;
  /** Why candidates over the threshold were refused, one entry per refused candidate (guard names, 'slot' or 'verifier'). */
  readonly refused: readonly (GuardName | 'verifier' | 'slot')[][];
}

/** Walks the candidates best first and serves the first one the false-hit guards and the verifier let through. */
export function chooseSemanticHit(
  query: string,
  candidates: readonly SemanticCandidate[],
  guards: GuardSettings,
  verifier: Verifier | undefined,
): SemanticChoice {
  if (candidates.length === 0) return { hit: undefined, refused: [] };
  // Guards need text signals only; the verifier's pair features are built just for candidates the guards pass.
  const qs = textSignals(query);
  let qp: PreparedText | undefined;
  const refused: (GuardName | 'verifier' | 'slot')[][] = [];
  for (const c of candidates) {
    const cs = textSignals(c.prompt);
    const failed: (GuardName | 'verifier' | 'slot')[] = failedGuards(qs, cs, guards);
    if (failed.length === 0 && guards.answerSlot !== false) {
      const answer = answerText(c.value);
      if (answer && answersOtherSlot(qs, cs, answer)) failed.push('slot');
    }
    if (failed.length === 0 && verifier && !sameWording(qs, cs)) {
      qp ??= prepareText(query);
      if (!verifier.accepts(qp, prepareText(c.prompt), c.score)) failed.push('verifier');
    }
    if (failed.length === 0) return { hit: c, refused };
    refused.push(failed);
  }
  return { hit: undefined, refused };
}

/**
 * The same content words in the same order, the same question words and grammatical persons: the prompts differ only
 * in case, punctuation or filler words. The verifier is skipped for these: it judges rewordings, and one fitted on
 * paraphrases (which always differ in many words) scores "no word differs" low.
 */
function sameWording(a: TextSignals, b: TextSignals): boolean {
  return a.question === b.question && a.person === b.person && sameContent(a, b);
}

/** The cached answer's text (first choice), for the answer-slot check; undefined when there is none to read. */
function answerText(value: CachedCompletion | undefined): string | undefined {
  const content = value?.completion?.choices?.[0]?.message?.content;
  return typeof content === 'string' ? content : undefined;
}
