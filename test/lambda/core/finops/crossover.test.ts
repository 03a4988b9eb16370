import { apiCost, crossover, crossoverSvg, instancesFor, selfHostedCost, type CrossoverInput } from '../../../../lambda/core/finops/crossover';

/**
 * The documented case: API at $1 per 1M tokens; one instance at $1/hour (730 h = $730/month) plus $270/month of
 * operations = $1,000/month; 1,000 tokens/s at 50% utilisation = 1.314B tokens per instance-month.
 * Break-even: $1,000 / ($1 / 1M) = 1.0B tokens/month, inside one instance's capacity.
 */
const base: CrossoverInput = {
  apiUsdPerMTok: 1,
  instanceUsdPerHour: 1,
  minInstances: 1,
  tokensPerSecond: 1000,
  utilisation: 0.5,
  commitmentDiscount: 0,
  opsUsdPerMonth: 270,
};

describe('crossover', () => {
  it('finds the documented break-even volume', () => {
    const r = crossover(base);
    expect(r.tokensPerInstanceMonth).toBe(1_314_000_000);
    expect(r.breakEvenTokensPerMonth).toBe(1_000_000_000);
    expect(r.selfHostedFloorUsdPerMTok).toBeCloseTo(730 / 1314, 10);
  });

  it('costs both sides as step and line', () => {
    expect(apiCost(base, 2e9)).toBe(2000);
    expect(instancesFor(base, 2e9)).toBe(2);
    expect(selfHostedCost(base, 2e9)).toBe(1730);
  });

  it('crosses in a later instance step when one instance is not enough', () => {
    // One instance: 730 + 1,000 = 1,730 -> 1.73B, beyond its 1.314B capacity.
    // Two instances: 1,460 + 1,000 = 2,460 -> 2.46B, inside (1.314B, 2.628B].
    const r = crossover({ ...base, opsUsdPerMonth: 1000 });
    expect(r.breakEvenTokensPerMonth).toBe(2_460_000_000);
  });

  it('applies the commitment discount to the instance price', () => {
    // 730 x 0.5 + 270 = 635 -> 635M tokens
    expect(crossover({ ...base, commitmentDiscount: 0.5 }).breakEvenTokensPerMonth).toBe(635_000_000);
  });

  it('reports no break-even when the API is cheaper per token than a full instance', () => {
    expect(crossover({ ...base, apiUsdPerMTok: 0.5, opsUsdPerMonth: 0 }).breakEvenTokensPerMonth).toBeNull();
  });

  it('rejects impossible inputs, naming them', () => {
    expect(() => crossover({ ...base, utilisation: 1.5 })).toThrow(/utilisation must be in \(0, 1\]/);
    expect(() => crossover({ ...base, minInstances: 0 })).toThrow(/minInstances must be a whole number >= 1/);
  });
});

describe('crossoverSvg', () => {
  it('draws both curves, the crossover and the user volume in a self-contained SVG', () => {
    const svg = crossoverSvg(base, crossover(base), { userTokensPerMonth: 1.5e9, apiLabel: 'api-model', selfLabel: '1 x ml.x' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    for (const cls of ['api-curve', 'self-curve', 'crossover', 'user-volume']) expect(svg).toContain(`class="${cls}"`);
    expect(svg).toContain('break-even 1.0B tokens/month');
    expect(svg).not.toMatch(/href=|<script/);
  });
});

describe('crossover with data transfer', () => {
  // API $2 per 1M tokens; one $1/h instance (730 h = $730 a month) serving 1,000 tok/s fully = 2,628M tokens a month;
  // transfer $0.50 per 1M tokens served. Break-even: 730 / (2 - 0.5) = 486.67M tokens (hand-computed).
  const input = { apiUsdPerMTok: 2, instanceUsdPerHour: 1, minInstances: 1, tokensPerSecond: 1000, utilisation: 1, commitmentDiscount: 0, opsUsdPerMonth: 0, transferUsdPerMTok: 0.5 };

  it('charges transfer per token served, and the break-even moves out by it', () => {
    expect(crossover(input).breakEvenTokensPerMonth).toBe(Math.ceil(730e6 / 1.5));
    expect(crossover({ ...input, transferUsdPerMTok: 0 }).breakEvenTokensPerMonth).toBe(365e6);
    expect(selfHostedCost(input, 1e9)).toBeCloseTo(730 + 500, 6);
  });

  it('never breaks even when transfer alone costs what the API does', () => {
    expect(crossover({ ...input, transferUsdPerMTok: 2 }).breakEvenTokensPerMonth).toBeNull();
  });
});
