/**
 * Router evaluation as in RouteLLM (arXiv 2406.18665): a router scores each prompt (higher = more in need of the
 * strong model); sweeping the cut sends the top share of prompts to the strong model. Quality at a share is the mean
 * outcome of the model each prompt was sent to; PGR = (quality - weak) / (strong - weak); APGR = the area under PGR
 * over the strong share in [0, 1] (trapezoids); CPT(x) = the smallest strong share whose PGR reaches x.
 * Ties in the score are cut together: the curve joins the tie's end points, the expectation of a random tie-break.
 */

import { jsonObjectLines } from '../jsonl';
import { FEATURE_TAG } from '../usage';

export interface OutcomeRow {
  readonly prompt: string;
  /** The request's feature tag (x-llm-feature), when known: a router trained on tagged rows learns a prior per tag. */
  readonly feature?: string;
  /** Score in [0, 1] per model id. */
  readonly outcomes: Readonly<Record<string, number>>;
}

export interface CurvePoint {
  readonly strong_share: number;
  readonly quality: number;
  /** The router score at this cut: route to strong when score >= threshold (null: nothing goes to strong). */
  readonly threshold: number | null;
  /** Cost of this mix as a share of sending everything to the strong model (with per-row costs given). */
  readonly cost_share?: number;
}

export interface Saving {
  readonly strong_share: number;
  /** 1 - cost of the mix / cost of always-strong. */
  readonly cost_saved: number;
}

export interface RouterEvaluation {
  readonly rows: number;
  readonly weak_quality: number;
  readonly strong_quality: number;
  readonly apgr: number;
  /** Strong share needed to recover 50% / 80% of the gap; null when never reached. */
  readonly cpt50: number | null;
  readonly cpt80: number | null;
  /** Smallest strong share whose quality reaches the strong model's own (PGR 1); null when never reached. */
  readonly cpt100: number | null;
  /** With costs: the saving against always-strong at PGR 50%, 80% and 100% (equal quality). */
  readonly savings?: { readonly pgr50: Saving | null; readonly pgr80: Saving | null; readonly pgr100: Saving | null };
  readonly points: readonly CurvePoint[];
}

/** Per-row cost (any unit) of answering with each model, for the savings. */
export interface RowCosts {
  readonly strong: readonly number[];
  readonly weak: readonly number[];
}

/**
 * Parses JSONL outcome rows. Every row must score both models, or with `partial` at least one of them (production
 * feedback scores the model that answered). Throws naming the first bad line.
 */
export function parseOutcomes(jsonl: string, strong: string, weak: string, source = 'data', partial = false): OutcomeRow[] {
  const rows: OutcomeRow[] = [];
  for (const { line, value } of jsonObjectLines(jsonl, source)) {
    const r = value as { prompt?: unknown; feature?: unknown; outcomes?: Record<string, unknown> };
    if (typeof r.prompt !== 'string' || !r.outcomes || typeof r.outcomes !== 'object') {
      throw new Error(`${source}:${line}: expected {"prompt": string, "outcomes": {"<model>": score, ...}}`);
    }
    if (r.feature !== undefined && (typeof r.feature !== 'string' || !FEATURE_TAG.test(r.feature))) {
      throw new Error(`${source}:${line}: "feature" must be a feature tag as x-llm-feature takes it (1-64 letters, digits, ".", "_" or "-"), got ${JSON.stringify(r.feature)}`);
    }
    if (partial && r.outcomes[strong] === undefined && r.outcomes[weak] === undefined) continue;
    for (const m of [strong, weak]) {
      const v = r.outcomes[m];
      if (partial && v === undefined) continue;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new Error(`${source}:${line}: outcomes["${m}"] must be a score in [0, 1]${v === undefined ? ` (models here: ${Object.keys(r.outcomes).join(', ')})` : `, got ${JSON.stringify(v)}`}`);
      }
    }
    rows.push({ prompt: r.prompt, ...(r.feature !== undefined ? { feature: r.feature as string } : {}), outcomes: r.outcomes as Record<string, number> });
  }
  if (rows.length === 0) throw new Error(`${source}: no rows`);
  return rows;
}

const round = (x: number): number => Math.round(x * 10_000) / 10_000;

/** The quality curve of a router's scores over every distinct cut, and its PGR summary. */
export function evaluateRouter(rows: readonly OutcomeRow[], scores: readonly number[], strong: string, weak: string, costs?: RowCosts): RouterEvaluation {
  if (rows.length !== scores.length) throw new Error('one score per row');
  const n = rows.length;
  const order = rows.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let sumWeak = 0;
  let sumStrong = 0;
  for (const r of rows) {
    sumWeak += r.outcomes[weak];
    sumStrong += r.outcomes[strong];
  }
  const weakQ = sumWeak / n;
  const strongQ = sumStrong / n;
  // Start with everything on the weak model; move prompts to strong in score order, one tie group at a time.
  const allStrong = costs ? costs.strong.reduce((a, b) => a + b, 0) : 0;
  let cost = costs ? costs.weak.reduce((a, b) => a + b, 0) : 0;
  const share = (c: number): number | undefined => (costs ? (allStrong > 0 ? c / allStrong : 1) : undefined);
  const points: (CurvePoint & { cost_share?: number })[] = [{ strong_share: 0, quality: weakQ, threshold: null, cost_share: share(cost) }];
  let sum = sumWeak;
  for (let k = 0; k < n;) {
    const s = scores[order[k]];
    while (k < n && scores[order[k]] === s) {
      const i = order[k];
      sum += rows[i].outcomes[strong] - rows[i].outcomes[weak];
      if (costs) cost += costs.strong[i] - costs.weak[i];
      k++;
    }
    points.push({ strong_share: k / n, quality: sum / n, threshold: s, cost_share: share(cost) });
  }
  const gap = strongQ - weakQ;
  const pgr = (q: number): number => (gap === 0 ? 1 : (q - weakQ) / gap);
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    area += ((points[i].strong_share - points[i - 1].strong_share) * (pgr(points[i].quality) + pgr(points[i - 1].quality))) / 2;
  }
  // Where the curve first reaches a PGR, interpolated within the segment: the strong share and the cost share there.
  const reach = (target: number): { share: number; cost: number | undefined } | null => {
    for (let i = 1; i < points.length; i++) {
      const [p, q] = [points[i - 1], points[i]];
      const [a, b] = [pgr(p.quality), pgr(q.quality)];
      if (a >= target) return { share: p.strong_share, cost: p.cost_share };
      if (b >= target) {
        const t = (target - a) / (b - a);
        return { share: p.strong_share + t * (q.strong_share - p.strong_share), cost: p.cost_share === undefined ? undefined : p.cost_share + t * (q.cost_share! - p.cost_share) };
      }
    }
    return null;
  };
  const cpt = (target: number): number | null => {
    const r = reach(target);
    return r ? round(r.share) : null;
  };
  const saving = (target: number): Saving | null => {
    const r = reach(target);
    return r && r.cost !== undefined ? { strong_share: round(r.share), cost_saved: round(1 - r.cost) } : null;
  };
  return {
    rows: n,
    weak_quality: round(weakQ),
    strong_quality: round(strongQ),
    apgr: round(area),
    cpt50: cpt(0.5),
    cpt80: cpt(0.8),
    cpt100: cpt(1),
    ...(costs ? { savings: { pgr50: saving(0.5), pgr80: saving(0.8), pgr100: saving(1) } } : {}),
    points: points.map((p) => ({
      strong_share: round(p.strong_share), quality: round(p.quality), threshold: p.threshold === null ? null : round(p.threshold),
      ...(p.cost_share === undefined ? {} : { cost_share: round(p.cost_share) }),
    })),
  };
}

/** At most `max` points, evenly spread over the strong share (first and last kept), for printing. */
export function thinPoints(points: readonly CurvePoint[], max = 21): CurvePoint[] {
  if (points.length <= max) return [...points];
  const out: CurvePoint[] = [];
  for (let i = 0; i < max; i++) {
    const target = i / (max - 1);
    let best = points[0];
    for (const p of points) if (Math.abs(p.strong_share - target) < Math.abs(best.strong_share - target)) best = p;
    if (out.at(-1) !== best) out.push(best);
  }
  return out;
}
