/**
 * Buy-vs-build: what an API model costs per month against self-hosting on instances, as a function of monthly
 * tokens. Self-hosting is a step function: each instance serves a bounded number of tokens a month.
 */

export const HOURS_PER_MONTH = 730;

export interface CrossoverInput {
  /** Blended API price in USD per 1M tokens (input and output mixed by the caller's share). */
  readonly apiUsdPerMTok: number;
  /** On-demand price of one instance, USD per hour. */
  readonly instanceUsdPerHour: number;
  /** Instances kept running at least (redundancy). */
  readonly minInstances: number;
  /** Tokens per second one instance sustains at full load. */
  readonly tokensPerSecond: number;
  /** Share of that peak reached on average (traffic is not flat). */
  readonly utilisation: number;
  /** Discount of a savings-plan commitment, 0 for none. */
  readonly commitmentDiscount: number;
  /** People and tooling to run the endpoints, USD per month. */
  readonly opsUsdPerMonth: number;
  /**
   * Costs of self-hosting that grow with the tokens served, USD per 1M tokens: data transfer of responses out of the
   * VPC (internet egress, cross-AZ), which an API provider's price already includes. 0 when not given.
   */
  readonly transferUsdPerMTok?: number;
}

/** Another way to buy the capacity, drawn as its own curve: a commitment term, or committed throughput (PT, PTU). */
export interface CrossoverOption {
  readonly label: string;
  readonly input: CrossoverInput;
}

/**
 * Committed throughput (Bedrock Provisioned Throughput, Azure PTU) as capacity: a unit is an "instance" priced by the
 * hour that serves `tokensPerMinutePerUnit`, with no MLOps of its own (the provider runs it) and no egress beyond the
 * API's.
 */
export function committedThroughputInput(o: { usdPerUnitHour: number; tokensPerMinutePerUnit: number; utilisation: number; minUnits?: number }, apiUsdPerMTok: number): CrossoverInput {
  return {
    apiUsdPerMTok, instanceUsdPerHour: o.usdPerUnitHour, minInstances: o.minUnits ?? 1, tokensPerSecond: o.tokensPerMinutePerUnit / 60,
    utilisation: o.utilisation, commitmentDiscount: 0, opsUsdPerMonth: 0, transferUsdPerMTok: 0,
  };
}

export interface CrossoverResult {
  /** Tokens one instance serves in a month at the given utilisation. */
  readonly tokensPerInstanceMonth: number;
  /** Monthly tokens from which self-hosting costs no more than the API; null when it never does. */
  readonly breakEvenTokensPerMonth: number | null;
  /** Cost of self-hosting per 1M tokens at full utilisation of its instances (its floor). */
  readonly selfHostedFloorUsdPerMTok: number;
}

export function apiCost(input: CrossoverInput, tokensPerMonth: number): number {
  return (tokensPerMonth / 1e6) * input.apiUsdPerMTok;
}

export function instanceMonthUsd(input: CrossoverInput): number {
  return input.instanceUsdPerHour * HOURS_PER_MONTH * (1 - input.commitmentDiscount);
}

export function tokensPerInstanceMonth(input: CrossoverInput): number {
  return input.tokensPerSecond * input.utilisation * 3600 * HOURS_PER_MONTH;
}

export function instancesFor(input: CrossoverInput, tokensPerMonth: number): number {
  return Math.max(input.minInstances, Math.ceil(tokensPerMonth / tokensPerInstanceMonth(input)));
}

export function selfHostedCost(input: CrossoverInput, tokensPerMonth: number): number {
  return instancesFor(input, tokensPerMonth) * instanceMonthUsd(input) + input.opsUsdPerMonth + (tokensPerMonth / 1e6) * (input.transferUsdPerMTok ?? 0);
}

/**
 * The smallest monthly volume at which self-hosting is no dearer than the API. Within the range served by n
 * instances the self-hosted cost is flat, so the API line crosses it at cost(n) / price if that falls in the range.
 */
export function crossover(input: CrossoverInput): CrossoverResult {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(input)) if (v !== undefined && (!Number.isFinite(v) || v < 0)) problems.push(`${k} must be a finite number >= 0, got ${v}`);
  if (input.tokensPerSecond <= 0) problems.push('tokensPerSecond must be > 0');
  if (input.utilisation <= 0 || input.utilisation > 1) problems.push(`utilisation must be in (0, 1], got ${input.utilisation}`);
  if (input.commitmentDiscount >= 1) problems.push(`commitmentDiscount must be below 1, got ${input.commitmentDiscount}`);
  if (!Number.isInteger(input.minInstances) || input.minInstances < 1) problems.push(`minInstances must be a whole number >= 1, got ${input.minInstances}`);
  if (problems.length) throw new RangeError(`Invalid crossover input: ${problems.join('; ')}`);
  const perInstance = tokensPerInstanceMonth(input);
  const transfer = input.transferUsdPerMTok ?? 0;
  // What a token saves by moving off the API, once the instances are paid for: the API price less transfer.
  const perMTok = (input.apiUsdPerMTok - transfer) / 1e6;
  const floor = (instanceMonthUsd(input) / perInstance) * 1e6 + transfer;
  let breakEven: number | null = null;
  if (perMTok > 0) {
    // Beyond the first instances every added instance costs `floor` per 1M tokens: if the API is cheaper than that,
    // the lines can only cross in a finite range; search a bounded number of steps.
    for (let n = input.minInstances; n < input.minInstances + 100_000; n++) {
      const lo = n === input.minInstances ? 0 : (n - 1) * perInstance;
      const hi = n * perInstance;
      const cost = n * instanceMonthUsd(input) + input.opsUsdPerMonth;
      const t = cost / perMTok;
      if (t <= hi) {
        breakEven = Math.max(lo, t);
        break;
      }
      if (input.apiUsdPerMTok <= floor && n > input.minInstances + 2) break;
    }
  }
  return { tokensPerInstanceMonth: perInstance, breakEvenTokensPerMonth: breakEven === null ? null : Math.ceil(breakEven), selfHostedFloorUsdPerMTok: floor };
}

const fmtTokens = (t: number): string =>
  t >= 1e12 ? `${(t / 1e12).toFixed(1)}T` : t >= 1e9 ? `${(t / 1e9).toFixed(1)}B` : t >= 1e6 ? `${(t / 1e6).toFixed(1)}M` : `${Math.round(t / 1e3)}k`;
const fmtUsd = (u: number): string => (u >= 1000 ? `$${(u / 1000).toFixed(1)}k` : `$${u.toFixed(0)}`);
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A self-contained SVG: both cost curves over monthly tokens, the crossover and the user's volume marked. */
export function crossoverSvg(
  input: CrossoverInput, result: CrossoverResult, opts: { userTokensPerMonth?: number; apiLabel: string; selfLabel: string; options?: readonly CrossoverOption[] },
): string {
  const W = 760;
  const H = 420;
  const m = { l: 70, r: 20, t: 40, b: 50 };
  const options = opts.options ?? [];
  const candidates = [result.breakEvenTokensPerMonth ?? 0, opts.userTokensPerMonth ?? 0, result.tokensPerInstanceMonth * input.minInstances];
  const xMax = Math.max(...candidates) * 1.6 || 1e9;
  const samples = 240;
  const xs = Array.from({ length: samples + 1 }, (_, i) => (xMax * i) / samples);
  const yMax = Math.max(...xs.map((x) => Math.max(apiCost(input, x), selfHostedCost(input, x)))) * 1.05 || 1;
  // Other options are drawn within the same axes (clipped at the top): they are compared, not rescaled for.
  const OPTION_COLOURS = ['#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
  const px = (x: number): number => m.l + (x / xMax) * (W - m.l - m.r);
  const py = (y: number): number => H - m.b - (y / yMax) * (H - m.t - m.b);
  const path = (f: (x: number) => number): string => xs.map((x, i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(f(x)).toFixed(1)}`).join(' ');
  const ticks = Array.from({ length: 6 }, (_, i) => i / 5);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12" role="img" aria-label="API versus self-hosted monthly cost">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">Monthly cost: ${esc(opts.apiLabel)} vs ${esc(opts.selfLabel)}</text>`,
    ...ticks.map((f) => `<line x1="${m.l}" x2="${W - m.r}" y1="${py(yMax * f)}" y2="${py(yMax * f)}" stroke="#eee"/><text x="${m.l - 6}" y="${py(yMax * f) + 4}" text-anchor="end">${fmtUsd(yMax * f)}</text>`),
    ...ticks.map((f) => `<text x="${px(xMax * f)}" y="${H - m.b + 18}" text-anchor="middle">${fmtTokens(xMax * f)}</text>`),
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">tokens per month</text>`,
    `<path class="api-curve" d="${path((x) => apiCost(input, x))}" fill="none" stroke="#d62728" stroke-width="2"/>`,
    `<path class="self-curve" d="${path((x) => selfHostedCost(input, x))}" fill="none" stroke="#1f77b4" stroke-width="2"/>`,
    `<text x="${m.l + 10}" y="${m.t + 14}" fill="#d62728">${esc(opts.apiLabel)} (API)</text>`,
    `<text x="${m.l + 10}" y="${m.t + 30}" fill="#1f77b4">${esc(opts.selfLabel)} (self-hosted)</text>`,
    `<clipPath id="plot"><rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}"/></clipPath>`,
    ...options.map((o, i) => {
      const colour = OPTION_COLOURS[i % OPTION_COLOURS.length];
      return `<path class="option-curve" d="${path((x) => selfHostedCost(o.input, x))}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-dasharray="6 3" clip-path="url(#plot)"/>` +
        `<text class="option-label" x="${m.l + 10}" y="${m.t + 46 + 16 * i}" fill="${colour}">${esc(o.label)}</text>`;
    }),
  ];
  if (result.breakEvenTokensPerMonth !== null && result.breakEvenTokensPerMonth <= xMax) {
    const x = px(result.breakEvenTokensPerMonth);
    const y = py(apiCost(input, result.breakEvenTokensPerMonth));
    parts.push(`<g class="crossover"><circle cx="${x}" cy="${y}" r="5" fill="#2ca02c"/><text x="${x + 8}" y="${y - 8}" fill="#2ca02c">break-even ${fmtTokens(result.breakEvenTokensPerMonth)} tokens/month</text></g>`);
  }
  if (opts.userTokensPerMonth !== undefined) {
    const x = px(opts.userTokensPerMonth);
    parts.push(`<g class="user-volume"><line x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}" stroke="#555" stroke-dasharray="4 3"/><text x="${x + 4}" y="${H - m.b - 8}" fill="#555">you: ${fmtTokens(opts.userTokensPerMonth)}</text></g>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
