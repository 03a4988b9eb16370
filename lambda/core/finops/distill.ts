import { crossover, crossoverSvg, instancesFor, selfHostedCost, type CrossoverInput } from './crossover';
import { SWITCHED_BACK } from '../routing/route';
import { SHADOW_PREFIX, shadowFeature } from '../shadow/shadow';
import { DAYS_PER_MONTH, daysSpanned } from './usage-span';

/**
 * The distillation plan (issue 36): which features of a usage log are worth moving from the premium model to a small
 * one, and what each hosting option would cost and save at the feature's current volume. Pure: records in, plan out.
 */


/** A way to run the small model: a per-token price (a Bedrock custom model on demand, a small API model) or instances. */
export interface DistillHosting {
  readonly label: string;
  readonly usdPerMTok?: { readonly input: number; readonly output: number };
  /** Self-hosted, as the crossover prices it: instance price, the minimum kept up, sustained tokens/s, average load, ops. */
  readonly instance?: { readonly usdPerHour: number; readonly minInstances: number; readonly tokensPerSecond: number; readonly utilisation: number; readonly opsUsdPerMonth: number };
}

export interface DistillCriteria {
  /** The premium models whose answers a small model would learn (and replace). */
  readonly teachers: ReadonlySet<string>;
  /** Captured examples per feature (from the capture directory). */
  readonly examples: ReadonlyMap<string, number>;
  readonly minExamples: number;
  readonly minRequestsPerMonth: number;
  /** Largest coefficient of variation of answer length a candidate may have (a stable task answers alike). */
  readonly maxOutputCv: number;
  /**
   * Largest standard deviation of the router's complexity score over the feature's automatically routed requests (a
   * task of uniform difficulty scores alike; one that spans easy and hard prompts is a poor fit for one small model).
   * Features without automatically routed requests are not judged on it.
   */
  readonly maxScoreSd: number;
  readonly hostings: readonly DistillHosting[];
}

export interface HostingCost {
  readonly label: string;
  readonly usdPerMonth: number;
  readonly savingUsdPerMonth: number;
  /** Share of the feature's premium spend saved. */
  readonly savingShare: number;
  /** Instances needed at the current volume (self-hosted options). */
  readonly instances?: number;
  /** Premium requests a month from which the option costs no more than the premium model; 0 for a cheaper per-token price. */
  readonly breakEvenRequestsPerMonth: number | null;
}

export interface FeaturePlan {
  readonly feature: string;
  readonly requestsPerMonth: number;
  /** Of those, answered by a teacher. */
  readonly premiumRequestsPerMonth: number;
  readonly premiumUsdPerMonth: number;
  readonly inputTokens: { readonly mean: number; readonly cv: number };
  readonly outputTokens: { readonly mean: number; readonly cv: number };
  /** Premium tokens (input and output) a month: the volume a small model would take over. */
  readonly premiumTokensPerMonth: number;
  /**
   * The router's complexity score (from `route_reason`, `heuristic:0.300:...` or `learned:0.412`) over the feature's
   * automatically routed requests; null when none was (explicit models, a feature routed by `routing.features`).
   */
  readonly routeScore: { readonly mean: number; readonly sd: number; readonly n: number } | null;
  readonly examples: number;
  /** Why it is not a candidate; empty for a candidate. */
  readonly blockers: readonly string[];
  readonly options: readonly HostingCost[];
  readonly best: HostingCost | null;
}

export interface DistillPlan {
  readonly days: number;
  /** Candidates first, by the best option's monthly saving; then the rest by premium spend. */
  readonly features: readonly FeaturePlan[];
}

interface Rec {
  readonly ts?: unknown; readonly feature?: unknown; readonly model?: unknown; readonly status?: unknown; readonly cache?: unknown; readonly cost_micros?: unknown;
  readonly input_tokens?: unknown; readonly output_tokens?: unknown; readonly route_reason?: unknown;
}

/** The complexity score an automatic route was chosen by, from its reason (`heuristic:0.300:code`, `learned:0.412->large`). */
const ROUTE_SCORE = /^(?:heuristic|learned):(\d+(?:\.\d+)?)/;

function routeScores(rs: readonly Rec[]): { mean: number; sd: number; n: number } | null {
  const xs = rs.flatMap((r) => {
    const m = typeof r.route_reason === 'string' ? ROUTE_SCORE.exec(r.route_reason) : null;
    return m ? [Number(m[1])] : [];
  });
  if (!xs.length) return null;
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  return { mean: round(mean, 3), sd: round(Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length), 3), n: xs.length };
}

/** A cache hit (hit-exact, hit-semantic): no model was called. */
const isHit = (r: Rec): boolean => typeof r.cache === 'string' && r.cache.startsWith('hit');

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

function meanCv(xs: readonly number[]): { mean: number; cv: number } {
  if (!xs.length) return { mean: 0, cv: 0 };
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  return { mean, cv: mean > 0 ? sd / mean : 0 };
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** Plans every feature of the log: its volume, premium spend, stability, examples, and each hosting option's cost. */
export function planDistillation(records: readonly Rec[], c: DistillCriteria): DistillPlan {
  // Answered requests only: a cache hit costs nothing to move, an error teaches nothing.
  const live = records.filter((r) => typeof r.feature === 'string' && r.feature && !r.feature.startsWith(SHADOW_PREFIX) && r.status === 200 && !isHit(r));
  const days = daysSpanned(records);
  const perMonth = DAYS_PER_MONTH / days;
  const byFeature = new Map<string, Rec[]>();
  for (const r of live) byFeature.set(r.feature as string, [...(byFeature.get(r.feature as string) ?? []), r]);
  const plans = [...byFeature].map(([feature, rs]) => planFeature(feature, rs, perMonth, c));
  const candidates = plans.filter((p) => !p.blockers.length).sort((a, b) => (b.best?.savingUsdPerMonth ?? 0) - (a.best?.savingUsdPerMonth ?? 0));
  const rest = plans.filter((p) => p.blockers.length).sort((a, b) => b.premiumUsdPerMonth - a.premiumUsdPerMonth);
  return { days: round(days, 3), features: [...candidates, ...rest] };
}

function planFeature(feature: string, rs: readonly Rec[], perMonth: number, c: DistillCriteria): FeaturePlan {
  const premium = rs.filter((r) => c.teachers.has(String(r.model)));
  const premiumUsdPerMonth = (premium.reduce((s, r) => s + num(r.cost_micros), 0) / 1e6) * perMonth;
  const inTokens = premium.map((r) => num(r.input_tokens));
  const outTokens = premium.map((r) => num(r.output_tokens));
  const monthIn = inTokens.reduce((s, x) => s + x, 0) * perMonth;
  const monthOut = outTokens.reduce((s, x) => s + x, 0) * perMonth;
  const premiumRequestsPerMonth = premium.length * perMonth;
  const output = meanCv(outTokens);
  const examples = c.examples.get(feature) ?? 0;
  const blockers: string[] = [];
  if (!premium.length) blockers.push('no answers from a premium model to learn from');
  else if (premiumRequestsPerMonth < c.minRequestsPerMonth) blockers.push(`${Math.floor(premiumRequestsPerMonth)} premium requests a month, under ${c.minRequestsPerMonth}`);
  if (premium.length && output.cv > c.maxOutputCv) blockers.push(`answer lengths vary too much (coefficient of variation ${round(output.cv)}, over ${c.maxOutputCv})`);
  const routeScore = routeScores(rs);
  if (routeScore && routeScore.sd > c.maxScoreSd) blockers.push(`prompts vary in difficulty (routing score standard deviation ${routeScore.sd}, over ${c.maxScoreSd})`);
  if (examples < c.minExamples) blockers.push(`${examples} captured examples, under ${c.minExamples}`);
  const costPerRequest = premium.length ? premiumUsdPerMonth / premiumRequestsPerMonth : 0;
  const options = premium.length ? c.hostings.map((h) => hostingCost(h, monthIn, monthOut, premiumUsdPerMonth, premiumRequestsPerMonth, costPerRequest)) : [];
  const best = options.length ? options.reduce((a, b) => (b.savingUsdPerMonth > a.savingUsdPerMonth ? b : a)) : null;
  return {
    feature, requestsPerMonth: round(rs.length * perMonth, 1), premiumRequestsPerMonth: round(premiumRequestsPerMonth, 1), premiumUsdPerMonth: round(premiumUsdPerMonth, 4),
    inputTokens: roundStats(meanCv(inTokens)), outputTokens: roundStats(output), premiumTokensPerMonth: Math.round(monthIn + monthOut), routeScore, examples, blockers, options, best,
  };
}

function roundStats(s: { mean: number; cv: number }): { mean: number; cv: number } {
  return { mean: round(s.mean, 1), cv: round(s.cv, 3) };
}

/** A self-hosted option as the crossover prices it, against the premium model at its blended price for these tokens. */
function crossoverInput(instance: NonNullable<DistillHosting['instance']>, premiumUsd: number, tokens: number): CrossoverInput {
  return {
    apiUsdPerMTok: tokens > 0 ? premiumUsd / (tokens / 1e6) : 0, instanceUsdPerHour: instance.usdPerHour, minInstances: instance.minInstances,
    tokensPerSecond: instance.tokensPerSecond, utilisation: instance.utilisation, commitmentDiscount: 0, opsUsdPerMonth: instance.opsUsdPerMonth,
  };
}

/**
 * `distill plan --svg`: the crossover chart of one feature: its premium model as the API line (at its blended price
 * for the feature's tokens), the first self-hosted option as the self-hosted line, the others dashed, and the feature's
 * volume marked. Undefined when the plan has no self-hosted option (a per-token option is cheaper at any volume or
 * never, which needs no chart).
 */
export function distillChart(f: FeaturePlan, hostings: readonly DistillHosting[], premiumLabel: string): string | undefined {
  const selfHosted = hostings.filter((h): h is DistillHosting & { instance: NonNullable<DistillHosting['instance']> } => !!h.instance);
  if (!selfHosted.length || f.premiumTokensPerMonth <= 0) return undefined;
  const [first, ...others] = selfHosted.map((h) => ({ label: h.label, input: crossoverInput(h.instance, f.premiumUsdPerMonth, f.premiumTokensPerMonth) }));
  return crossoverSvg(first.input, crossover(first.input), {
    userTokensPerMonth: f.premiumTokensPerMonth, apiLabel: `${f.feature} on ${premiumLabel}`, selfLabel: first.label, options: others,
  });
}

function hostingCost(h: DistillHosting, monthIn: number, monthOut: number, premiumUsd: number, premiumRequests: number, costPerRequest: number): HostingCost {
  let usd: number;
  let instances: number | undefined;
  let breakEven: number | null;
  if (h.usdPerMTok) {
    usd = (monthIn / 1e6) * h.usdPerMTok.input + (monthOut / 1e6) * h.usdPerMTok.output;
    const perRequest = premiumRequests > 0 ? usd / premiumRequests : 0;
    // A per-token price scales with volume: cheaper at any volume, or never.
    breakEven = perRequest < costPerRequest ? 0 : null;
  } else if (h.instance) {
    const tokens = monthIn + monthOut;
    // The crossover's own sums, the premium model as the API line at its blended price for this feature's tokens.
    const input = crossoverInput(h.instance, premiumUsd, tokens);
    usd = selfHostedCost(input, tokens);
    instances = instancesFor(input, tokens);
    const crossAt = crossover(input).breakEvenTokensPerMonth;
    breakEven = crossAt === null || premiumRequests <= 0 ? null : Math.ceil(crossAt / (tokens / premiumRequests));
  } else {
    throw new Error(`hosting option '${h.label}' has neither usdPerMTok nor instance`);
  }
  const saving = premiumUsd - usd;
  return {
    label: h.label, usdPerMonth: round(usd, 4), savingUsdPerMonth: round(saving, 4), savingShare: premiumUsd > 0 ? round(saving / premiumUsd, 4) : 0,
    ...(instances !== undefined ? { instances } : {}), breakEvenRequestsPerMonth: breakEven,
  };
}

export interface ShadowFeatureReport {
  readonly feature: string;
  /** The candidate models shadowed (usually one). */
  readonly candidates: readonly string[];
  readonly shadowCalls: number;
  /** Of those, answered and scored (a feedback line). */
  readonly scored: number;
  /** Mean agreement with the premium answer, in [0, 1]; null before any score. */
  readonly agreement: number | null;
  /** Share of scored answers in full agreement (score 1). */
  readonly fullAgreement: number | null;
  readonly candidateUsdPerRequest: number | null;
  readonly premiumUsdPerRequest: number | null;
  /** 1 - candidate / premium cost per request: the share of the feature's spend a switch would save. */
  readonly costSaving: number | null;
  /**
   * What a guarded switch saves at worst: costSaving less the share not in full agreement, as if the guard escalated
   * every disagreeing answer to the premium model (it escalates only those its check catches). Before shadow calls
   * of the switch's own guard (each a premium call: about sampleRate more).
   */
  readonly switchSavingFloor: number | null;
  readonly candidateLatencyMsP50: number | null;
  readonly premiumLatencyMsP50: number | null;
  /**
   * The feature is switched to a small model (its requests routed by `routing.features`): then `candidates` are the
   * models that served it, the shadow calls are the premium model's (`reference`), agreement is the served answers'
   * with the premium ones, and the candidate cost is what the feature's requests cost, escalations included.
   */
  readonly switched: null | {
    readonly reference: readonly string[];
    /** Requests the cascade's check sent on to a later (premium) model, of the switched requests. */
    readonly escalated: number;
    /** Requests answered by the premium model because the switch's guard had sent the feature back. */
    readonly switchedBack: number;
    readonly requests: number;
  };
}

interface ReportRec extends Rec {
  readonly type?: unknown; readonly request_id?: unknown; readonly score?: unknown; readonly latency_ms?: unknown; readonly route_reason?: unknown; readonly cascade?: unknown;
}

const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * `llm-finops distill report`: per shadowed feature, how often the candidate agreed with the premium answer (the
 * feedback lines the shadow tests wrote), and what it cost and how fast it answered against the premium model.
 */
export function shadowReport(lines: readonly ReportRec[]): ShadowFeatureReport[] {
  const scores = new Map<string, number>();
  for (const l of lines) if (l.type === 'feedback' && typeof l.request_id === 'string' && typeof l.score === 'number') scores.set(l.request_id, l.score);
  const requests = lines.filter((l) => l.type !== 'feedback' && typeof l.feature === 'string');
  const features = new Set(requests.filter((r) => (r.feature as string).startsWith(SHADOW_PREFIX)).map((r) => (r.feature as string).slice(SHADOW_PREFIX.length)));
  return [...features].sort().map((feature) => {
    const shadow = requests.filter((r) => r.feature === shadowFeature(feature));
    const answered = shadow.filter((r) => r.status === 200);
    const routed = requests.filter((r) => r.feature === feature && typeof r.route_reason === 'string' && r.route_reason.startsWith(`feature:${feature}`));
    if (routed.length) return switchedReport(feature, shadow, answered, routed, scores);
    const candidates = [...new Set(shadow.map((r) => String(r.model)))].sort();
    const premium = requests.filter((r) => r.feature === feature && r.status === 200 && !isHit(r) && !candidates.includes(String(r.model)));
    const agreed = agreementOf(answered, scores);
    const cand = meanUsd(answered);
    const prem = meanUsd(premium);
    return {
      feature, candidates, shadowCalls: shadow.length, ...agreed,
      candidateUsdPerRequest: cand === null ? null : round(cand, 6), premiumUsdPerRequest: prem === null ? null : round(prem, 6),
      costSaving: cand !== null && prem ? round(1 - cand / prem, 4) : null,
      switchSavingFloor: cand !== null && prem && agreed.fullAgreement !== null ? round(1 - cand / prem - (1 - agreed.fullAgreement), 4) : null,
      candidateLatencyMsP50: median(answered.map((r) => num(r.latency_ms))), premiumLatencyMsP50: median(premium.map((r) => num(r.latency_ms))),
      switched: null,
    };
  });
}

/** The scores of the answered shadow calls: how many, their mean, and the share in full agreement. */
function agreementOf(answered: readonly ReportRec[], scores: ReadonlyMap<string, number>): Pick<ShadowFeatureReport, 'scored' | 'agreement' | 'fullAgreement'> {
  const got = answered.map((r) => scores.get(String(r.request_id))).filter((s): s is number => s !== undefined);
  return {
    scored: got.length,
    agreement: got.length ? round(got.reduce((s, x) => s + x, 0) / got.length, 4) : null,
    fullAgreement: got.length ? round(got.filter((x) => x >= 1).length / got.length, 4) : null,
  };
}

/** The mean cost of the records in USD (unrounded), or null without records. */
function meanUsd(rs: readonly ReportRec[]): number | null {
  return rs.length ? rs.reduce((s, r) => s + num(r.cost_micros), 0) / rs.length / 1e6 : null;
}

const perRequestUsd = (rs: readonly ReportRec[]): number | null => {
  const usd = meanUsd(rs);
  return usd === null ? null : round(usd, 6);
};

/** A switched feature: the served answers (small, escalated or switched back) against the premium model's shadow calls. */
function switchedReport(feature: string, shadow: readonly ReportRec[], answered: readonly ReportRec[], routed: readonly ReportRec[], scores: ReadonlyMap<string, number>): ShadowFeatureReport {
  const served = routed.filter((r) => r.status === 200 && !isHit(r));
  const back = served.filter((r) => String(r.route_reason).includes(SWITCHED_BACK));
  const onSwitch = served.filter((r) => !back.includes(r));
  const escalated = onSwitch.filter((r) => Array.isArray(r.cascade) && r.cascade.length > 1).length;
  const cand = perRequestUsd(served);
  const prem = perRequestUsd(answered);
  return {
    feature, candidates: [...new Set(onSwitch.filter((r) => !(Array.isArray(r.cascade) && r.cascade.length > 1)).map((r) => String(r.model)))].sort(),
    shadowCalls: shadow.length, ...agreementOf(answered, scores),
    candidateUsdPerRequest: cand, premiumUsdPerRequest: prem, costSaving: cand !== null && prem ? round(1 - cand / prem, 4) : null, switchSavingFloor: null,
    candidateLatencyMsP50: median(served.map((r) => num(r.latency_ms))), premiumLatencyMsP50: median(answered.map((r) => num(r.latency_ms))),
    switched: { reference: [...new Set(shadow.map((r) => String(r.model)))].sort(), escalated, switchedBack: back.length, requests: served.length },
  };
}
