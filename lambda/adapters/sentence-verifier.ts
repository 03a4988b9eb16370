import { Verifier } from '../core/cache/verifier';
import model from './sentence-verifier.json';

/**
 * The pair verifier the sentence embedder serves with when the config names none: logistic regression on pair
 * features and the encoder's score, fitted on the even rows of the two dev pair files (QQP and the paraphrases) so
 * the odd rows stay a fair check. Regenerate with `npm run train:sentence-verifier` (the command is in package.json).
 */
let parsed: Verifier | undefined;

export function builtinSentenceVerifier(): Verifier {
  parsed ??= Verifier.parse(model);
  return parsed;
}
