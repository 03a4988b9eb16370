import type { SemanticCandidate } from '../ports';
import { failedGuards, type GuardName, type GuardSettings } from './guards';
import { prepareText, type Verifier } from './verifier';

export interface SemanticChoice {
  /** The best candidate every enabled guard and the verifier accept; undefined when none does. */
  readonly hit: SemanticCandidate | undefined;
  /** Why candidates over the threshold were refused, one entry per refused candidate (guard names or 'verifier'). */
  readonly refused: readonly (GuardName | 'verifier')[][];
}

/** Walks the candidates best first and serves the first one the false-hit guards and the verifier let through. */
export function chooseSemanticHit(
  query: string,
  candidates: readonly SemanticCandidate[],
  guards: GuardSettings,
  verifier: Verifier | undefined,
): SemanticChoice {
  if (candidates.length === 0) return { hit: undefined, refused: [] };
  const q = prepareText(query);
  const refused: (GuardName | 'verifier')[][] = [];
  for (const c of candidates) {
    const cached = prepareText(c.prompt);
    const failed: (GuardName | 'verifier')[] = failedGuards(q.signals, cached.signals, guards);
    if (failed.length === 0 && verifier && !verifier.accepts(q, cached, c.score)) failed.push('verifier');
    if (failed.length === 0) return { hit: c, refused };
    refused.push(failed);
  }
  return { hit: undefined, refused };
}
