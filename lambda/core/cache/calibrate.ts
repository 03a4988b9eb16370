/**
 * Calibration of the semantic tier for the embedder a user deploys (`llm-finops cache calibrate`): from labelled pairs
 * whose similarities came from that embedder, choose the guards' content rule, the threshold and (optionally) a
 * verifier fitted for that embedder, and say what they give on pairs they were not chosen on. Pure: the caller embeds.
 *
 * What is chosen, and how:
 * - the content rule: the embedder's default guards with `contentRule` `exact` and with `order` are both swept; the
 *   one reaching the higher recall within the target wins (a tie, or `keepRule`, keeps the embedder's default).
 *   `exact` is what a lexical score needs; `order` lets a semantic embedder's rewordings through (the sentence
 *   encoder's default);
 * - the threshold: per rule, the lowest one of 0.50, 0.51, ... 0.99 (and not under `minThreshold`) whose wrong share of
 *   hits is at most the target on the pairs of every source (file) apart, so a file of easy duplicates cannot dilute
 *   another's wrong hits (recall falls as the threshold rises, so the lowest one passing is the one serving most);
 * - the verifier, with `train`: fitted on one half of the pairs (a stable hash of the pair decides which) and the
 *   rule and threshold chosen with it on the other half, so the reported figures are on pairs it never saw. Without
 *   `train`, the given verifier (the sentence encoder's built-in one, or none) and every pair.
 */
import { hashBucket } from '../numeric';
import { evaluatePairs, type EvalPoint, type ScoredPair } from './evaluate';
import type { ContentRule, GuardSettings } from './guards';
import { trainVerifier, Verifier, type VerifierModel } from './verifier';

/** A scored pair and the file it came from: the target holds within each source, so one file's easy pairs cannot dilute another's wrong hits. */
export type CalibrationPair = ScoredPair & { readonly source?: string };

export interface CalibrateOptions {
  /** The embedder's default guards (semanticGuards(type)): the rule is varied, the other guards kept. */
  readonly guards: GuardSettings;
  /** The largest wrong share of hits accepted. */
  readonly targetWrongShare: number;
  /** A verifier to serve with (not trained here), e.g. the sentence encoder's built-in one. */
  readonly verifier?: Verifier;
  /** Fit a verifier for this embedder on half the pairs (replaces `verifier`). */
  readonly train?: { readonly seed: number };
  /**
   * No threshold below this is chosen (the shipped pairs alone: their only near misses are one kind, so they may
   * confirm or raise a default, never lower it).
   */
  readonly minThreshold?: number;
  /**
   * Keep the embedder's default content rule (the other is measured and reported, not chosen): with the shipped pairs
   * alone, whose only near misses are one kind, a looser rule cannot be shown safe.
   */
  readonly keepRule?: boolean;
}

export interface RuleResult {
  readonly contentRule: ContentRule;
  /** The point chosen for this rule, or undefined when no threshold keeps within the target. */
  readonly chosen: EvalPoint | undefined;
}

export interface Calibration {
  readonly guards: GuardSettings;
  readonly threshold: number;
  /** Recall, wrong share and hits at the chosen settings, on `checkedOn` pairs. */
  readonly point: EvalPoint;
  readonly rules: readonly RuleResult[];
  /** The verifier fitted here (with `train`). */
  readonly verifier?: VerifierModel;
  /** Pairs the verifier was fitted on (0 without `train`). */
  readonly fittedOn: number;
  /** Pairs the rule and threshold were chosen on, and the point measured on. */
  readonly checkedOn: number;
  /** A lower threshold kept within the target, but minThreshold held it up. */
  readonly floored: boolean;
  /** The chosen settings on each source's pairs (each within the target). */
  readonly bySource: readonly { readonly source: string; readonly pairs: number; readonly point: EvalPoint }[];
}

/** Thrown when no rule and threshold keep the wrong share within the target (the caller turns it into a usage error). */
export class CalibrationFailed extends Error {
  override readonly name = 'CalibrationFailed';
}

/** 0.50, 0.51, ... 0.99: finer than `cache eval --sweep`, as a threshold is chosen here, not only read. */
const CALIBRATION_THRESHOLDS: readonly number[] = Array.from({ length: 50 }, (_, i) => (50 + i) / 100);

/** A pair's half, from its text: the same pair lands in the same half whatever the file's order. */
function fitHalf(p: CalibrationPair): boolean {
  return hashBucket(`${p.a}\u0000${p.b}`, 2) === 0;
}

export function calibrate(pairs: readonly CalibrationPair[], opts: CalibrateOptions): Calibration {
  let verifier = opts.verifier;
  let model: VerifierModel | undefined;
  let check = pairs;
  let fitted = 0;
  if (opts.train) {
    const fit = pairs.filter(fitHalf);
    check = pairs.filter((p) => !fitHalf(p));
    try {
      model = trainVerifier(fit, { seed: opts.train.seed, targetWrongShare: opts.targetWrongShare });
    } catch (err) {
      throw new CalibrationFailed(`the verifier's half of the pairs: ${(err as Error).message}`);
    }
    verifier = new Verifier(model);
    fitted = fit.length;
  }
  if (!check.some((p) => p.duplicate) || !check.some((p) => !p.duplicate)) {
    throw new CalibrationFailed(`the pairs calibrated on need both labels: got ${check.filter((p) => p.duplicate).length} duplicates and ${check.filter((p) => !p.duplicate).length} others`);
  }
  const defaultRule: ContentRule = opts.guards.contentRule ?? 'exact';
  const rules: ContentRule[] = [defaultRule, defaultRule === 'exact' ? 'order' : 'exact'];
  const floor = opts.minThreshold ?? -1;
  // The floor itself is a candidate: a default such as 0.82 need not be on the grid.
  const thresholds = [...new Set([...CALIBRATION_THRESHOLDS, ...(floor > CALIBRATION_THRESHOLDS[0] ? [floor] : [])])].sort((x, y) => x - y);
  const sources = [...new Set(check.map((p) => p.source ?? 'pairs'))].map((source) => ({ source, pairs: check.filter((p) => (p.source ?? 'pairs') === source) }));
  // Per rule: its choice, and whether a threshold under the floor would have kept within the target too. A threshold
  // is within when something hits and no source's wrong share of hits is over the target.
  const judged = rules.map((contentRule) => {
    const settings = { thresholds, guards: { ...opts.guards, contentRule }, verifier };
    const overall = evaluatePairs(check, settings);
    const perSource = sources.map((s) => evaluatePairs(s.pairs, settings));
    const within = (i: number): boolean => overall[i].hits > 0 && perSource.every((points) => points[i].wrong_hit_share <= opts.targetWrongShare);
    const at = thresholds.findIndex((t, i) => t >= floor && within(i));
    return {
      contentRule,
      chosen: at < 0 ? undefined : overall[at],
      bySource: at < 0 ? [] : sources.map((s, k) => ({ source: s.source, pairs: s.pairs.length, point: perSource[k][at] })),
      under: thresholds.some((t, i) => t < floor && within(i)),
    };
  });
  const results: RuleResult[] = judged.map(({ contentRule, chosen }) => ({ contentRule, chosen }));
  // The default rule first: the other replaces it only with strictly more recall (and never with keepRule).
  let best: (typeof judged)[number] | undefined;
  for (const r of opts.keepRule ? judged.slice(0, 1) : judged) if (r.chosen && (!best?.chosen || r.chosen.recall > best.chosen.recall)) best = r;
  if (!best?.chosen) {
    throw new CalibrationFailed(`no threshold from 0.50 to 0.99 keeps the wrong share of hits at or below ${opts.targetWrongShare} on these pairs, with ${opts.keepRule ? `the content rule ${defaultRule}` : 'either content rule'}: add pairs, or accept more`);
  }
  return {
    guards: { ...opts.guards, contentRule: best.contentRule },
    threshold: best.chosen.threshold,
    point: best.chosen,
    rules: results,
    ...(model ? { verifier: model } : {}),
    fittedOn: fitted,
    checkedOn: check.length,
    floored: best.under && best.chosen.threshold === floor,
    bySource: best.bySource,
  };
}
