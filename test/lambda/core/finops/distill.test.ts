import { distillChart, planDistillation, type DistillCriteria } from '../../../../lambda/core/finops/distill';

/**
 * A replayed usage log over exactly one month (30.42 days, so monthly figures equal the log's sums): a ticket
 * classifier and a JSON extractor on the premium model (stable, short answers), a chat feature that spends more but
 * answers at every length, and a rare feature. Prices: the premium model's cost is in each record; the small model
 * at $0.10 / $0.40 per 1M tokens on demand, or one ml.inf2.xlarge at $0.99 an hour serving 500 tokens/s at half load.
 */
const T0 = Date.UTC(2026, 10, 1);
const MONTH_MS = 30.42 * 86_400_000;

function records(feature: string, n: number, f: (i: number) => { input: number; output: number; micros: number; model?: string; reason?: string }) {
  return Array.from({ length: n }, (_, i) => {
    const r = f(i);
    return {
      ts: new Date(T0 + (n > 1 ? (i / (n - 1)) * MONTH_MS : 0)).toISOString(), feature, model: r.model ?? 'sonnet', status: 200, cache: 'miss', cost_micros: r.micros,
      input_tokens: r.input, output_tokens: r.output, route_reason: r.reason ?? 'explicit-model',
    };
  });
}

const log = [
  // Tickets are routed automatically (the router scores them alike); the others name their model.
  ...records('tickets', 10_000, (i) => ({ input: 500, output: 5, micros: 1575, reason: i % 2 ? 'learned:0.710->large' : 'learned:0.690->large' })),
  ...records('extract', 5_000, (i) => ({ input: 1000, output: i % 2 ? 180 : 220, micros: 6000 })),
  // Answers of stable length, but prompts the router scores anywhere from trivial to hard: one small model fits badly.
  ...records('faq', 3_000, (i) => ({ input: 400, output: 60, micros: 2100, reason: i % 2 ? 'heuristic:0.050:trivial->small' : 'heuristic:0.850:code+math->large' })),
  ...records('chat', 2_000, (i) => ({ input: 800, output: i % 2 ? 10 : 2000, micros: 20_000 })),
  ...records('rare', 50, () => ({ input: 300, output: 20, micros: 1200 })),
  // Not the teacher's answers, cache hits and errors: none of them counts.
  ...records('tickets', 500, () => ({ input: 500, output: 5, micros: 50, model: 'nova-lite' })),
  { ts: new Date(T0).toISOString(), feature: 'tickets', model: 'sonnet', status: 200, cache: 'hit-exact', cost_micros: 0, input_tokens: 500, output_tokens: 5 },
  { ts: new Date(T0).toISOString(), feature: 'tickets', model: 'sonnet', status: 500, cache: 'miss', cost_micros: 0, input_tokens: 500, output_tokens: 0 },
];

const criteria: DistillCriteria = {
  teachers: new Set(['sonnet']),
  examples: new Map([['tickets', 1200], ['extract', 800], ['chat', 5000], ['rare', 10], ['faq', 900]]),
  minExamples: 500,
  minRequestsPerMonth: 1000,
  maxOutputCv: 0.5,
  maxScoreSd: 0.15,
  hostings: [
    { label: 'small model on demand', usdPerMTok: { input: 0.1, output: 0.4 } },
    { label: 'ml.inf2.xlarge', instance: { usdPerHour: 0.99, minInstances: 1, tokensPerSecond: 500, utilisation: 0.5, opsUsdPerMonth: 0 } },
  ],
};

describe('the distillation plan', () => {
  const plan = planDistillation(log, criteria);

  it('ranks the stable, high-volume features with examples first, by saving; the others after, each with why', () => {
    expect(plan.days).toBe(30.42);
    expect(plan.features.map((f) => [f.feature, f.blockers])).toEqual([
      ['extract', []],
      ['tickets', []],
      ['chat', ['answer lengths vary too much (coefficient of variation 0.99, over 0.5)']],
      ['faq', ['prompts vary in difficulty (routing score standard deviation 0.4, over 0.15)']],
      ['rare', ['50 premium requests a month, under 1000', '10 captured examples, under 500']],
    ]);
  });

  it('prices each option as a hand computation does', () => {
    const tickets = plan.features.find((f) => f.feature === 'tickets')!;
    // 10,000 answers of 500 in and 5 out at 1,575 micro-dollars: $15.75 a month, 5M + 50k tokens.
    expect(tickets).toMatchObject({ premiumRequestsPerMonth: 10_000, premiumUsdPerMonth: 15.75, inputTokens: { mean: 500, cv: 0 }, outputTokens: { mean: 5, cv: 0 } });
    // On demand: 5M x $0.10 + 0.05M x $0.40 = $0.52, saving $15.23 (96.7%), cheaper at any volume.
    expect(tickets.options[0]).toEqual({ label: 'small model on demand', usdPerMonth: 0.52, savingUsdPerMonth: 15.23, savingShare: 0.967, breakEvenRequestsPerMonth: 0 });
    // One inf2.xlarge: 0.99 x 730 = $722.70 a month, one instance carries 657M tokens; break-even where the premium
    // model's blended $3.1188 per 1M (15.75 / 5.05) reaches $722.70: 231,722,858 tokens, 458,858 requests of 505 tokens.
    expect(tickets.options[1]).toEqual({ label: 'ml.inf2.xlarge', usdPerMonth: 722.7, savingUsdPerMonth: -706.95, savingShare: -44.8857, instances: 1, breakEvenRequestsPerMonth: 458_858 });
    expect(tickets.best!.label).toBe('small model on demand');
    // The router's scores of the tickets: 0.69 and 0.71 alike, sd 0.01; the extractor named its model, so no score.
    expect(tickets.routeScore).toEqual({ mean: 0.7, sd: 0.01, n: 10_000 });
    expect(plan.features.find((f) => f.feature === 'extract')!.routeScore).toBeNull();
    expect(tickets.premiumTokensPerMonth).toBe(5_050_000);
    const extract = plan.features.find((f) => f.feature === 'extract')!;
    // $30.00 a month; on demand 5M x $0.10 + 1M x $0.40 = $0.90, saving $29.10; answers 200 +-20 tokens (cv 0.1).
    expect(extract).toMatchObject({ premiumUsdPerMonth: 30, outputTokens: { mean: 200, cv: 0.1 }, best: { savingUsdPerMonth: 29.1, savingShare: 0.97 } });
  });

  it('draws a feature\'s crossover: the premium model against the self-hosted option, its volume and break-even marked', () => {
    const tickets = plan.features.find((f) => f.feature === 'tickets')!;
    const svg = distillChart(tickets, criteria.hostings, 'sonnet')!;
    expect(svg).toContain('Monthly cost: tickets on sonnet vs ml.inf2.xlarge');
    // Break-even at 231.7M tokens a month (the hand computation above); the feature's 5.05M marked (drawn as 5.0M).
    expect(svg).toMatch(/break-even 231\.7M tokens\/month/);
    expect(svg).toContain('you: 5.0M');
    expect(distillChart(tickets, [criteria.hostings[0]], 'sonnet')).toBeUndefined();
  });
});
