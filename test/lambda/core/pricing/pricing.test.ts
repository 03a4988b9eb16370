import { findCatalogPrice, PRICE_CATALOG } from '../../../../lambda/core/pricing/catalog';
import { formatUsd, usdToMicros } from '../../../../lambda/core/pricing/money';
import { costMicros, costMicrosCeil, priceUsage, toTokenPrice, usageProblem } from '../../../../lambda/core/pricing/prices';

describe('costMicros', () => {
  const sonnet = toTokenPrice({ inputPerMTok: 3, outputPerMTok: 15, cacheWritePerMTok: 3.75, cacheReadPerMTok: 0.3 });

  it('sums all four token types at their own prices', () => {
    // 1000 x 3 + 500 x 15 + 2000 x 0.30 + 400 x 3.75 = 3000 + 7500 + 600 + 1500 micros
    expect(costMicros({ inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, cacheWriteTokens: 400 }, sonnet)).toBe(12_600);
  });

  it('charges cache tokens at the input price when the model has no cache prices', () => {
    const p = toTokenPrice({ inputPerMTok: 1, outputPerMTok: 2 });
    expect(costMicros({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 1000, cacheWriteTokens: 1000 }, p)).toBe(2000);
  });

  it('rounds once, half up, to the micro-dollar', () => {
    const micro = toTokenPrice({ inputPerMTok: 0.035, outputPerMTok: 0.14 });
    expect(costMicros({ inputTokens: 10, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, micro)).toBe(0); // 0.35
    expect(costMicros({ inputTokens: 100, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, micro)).toBe(4); // 3.5
    expect(costMicrosCeil(10, 0, micro)).toBe(1);
  });
});

describe('money', () => {
  it.each([
    [0, '0.000000'],
    [1, '0.000001'],
    [1_800, '0.001800'],
    [12_345_678, '12.345678'],
    [-5, '-0.000005'],
  ])('formats %i micros as %s', (m, s) => expect(formatUsd(m)).toBe(s));

  it('converts decimal prices without float drift', () => {
    expect(usdToMicros(0.00875)).toBe(8750);
    expect(usdToMicros(16.5)).toBe(16_500_000);
  });
});

describe('price catalog', () => {
  it('dates and sources every entry', () => {
    for (const e of [...PRICE_CATALOG.models, ...PRICE_CATALOG.instances]) {
      expect(e.source).toMatch(/^https:\/\//);
      expect(e.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(typeof e.verified).toBe('boolean');
    }
  });

  it.each([
    'anthropic.claude-3-5-sonnet-20241022-v2:0', 'anthropic.claude-3-7-sonnet-20250219-v1:0', 'anthropic.claude-sonnet-4-20250514-v1:0',
    'anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic.claude-3-haiku-20240307-v1:0', 'anthropic.claude-3-5-haiku-20241022-v1:0',
    'anthropic.claude-haiku-4-5-20251001-v1:0', 'amazon.nova-micro-v1:0', 'amazon.nova-lite-v1:0', 'amazon.nova-pro-v1:0',
    'meta.llama3-1-8b-instruct-v1:0', 'meta.llama3-1-70b-instruct-v1:0', 'meta.llama3-3-70b-instruct-v1:0', 'mistral.mistral-large-2402-v1:0',
    'deepseek.r1-v1:0', 'amazon.titan-embed-text-v2:0', 'gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano',
    'claude-sonnet-4-5', 'claude-haiku-4-5',
  ])('prices %s', (id) => expect(findCatalogPrice(id)).toBeDefined());

  it.each(['ml.inf2.xlarge', 'ml.inf2.8xlarge', 'ml.g5.xlarge', 'ml.g5.2xlarge', 'ml.g6.xlarge'])('has an instance-hour price for %s', (id) => {
    expect(PRICE_CATALOG.instances.find((i) => i.id === id)?.usdPerHour).toBeGreaterThan(0);
  });

  it('prices cross-region inference profiles as their base model', () => {
    expect(findCatalogPrice('global.anthropic.claude-haiku-4-5-20251001-v1:0')?.id).toBe('anthropic.claude-haiku-4-5-20251001-v1:0');
    expect(findCatalogPrice('eu.amazon.nova-lite-v1:0')?.inputPerMTok).toBe(0.06);
  });
});

describe('price rules', () => {
  const sonnet45 = (id: string) => toTokenPrice(findCatalogPrice(id)!);
  const u = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0, cacheWrite1hTokens?: number) =>
    ({ inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, ...(cacheWrite1hTokens ? { cacheWrite1hTokens } : {}) });

  it('prices Bedrock ids by profile class: global below geographic and in-Region', () => {
    const usage = u(1000, 1000);
    // global: 1000 x 3 + 1000 x 15 = 18,000; us./eu./in-Region: 1000 x 3.30 + 1000 x 16.50 = 19,800.
    expect(costMicros(usage, sonnet45('global.anthropic.claude-sonnet-4-5-20250929-v1:0'))).toBe(18_000);
    expect(costMicros(usage, sonnet45('us.anthropic.claude-sonnet-4-5-20250929-v1:0'))).toBe(19_800);
    expect(costMicros(usage, sonnet45('eu.anthropic.claude-sonnet-4-5-20250929-v1:0'))).toBe(19_800);
    expect(costMicros(usage, sonnet45('anthropic.claude-sonnet-4-5-20250929-v1:0'))).toBe(19_800);
    expect(findCatalogPrice('global.amazon.nova-2-lite-v1:0')).toMatchObject({ profileClass: 'global', inputPerMTok: 0.3, outputPerMTok: 2.5, cacheReadPerMTok: 0.075 });
    expect(findCatalogPrice('us.amazon.nova-2-lite-v1:0')).toMatchObject({ profileClass: 'geo', inputPerMTok: 0.33, outputPerMTok: 2.75 });
    expect(findCatalogPrice('gpt-4o')?.profileClass).toBe('none');
  });

  it('bills a request past the long-context threshold wholly at the long-context row', () => {
    const p = sonnet45('global.anthropic.claude-sonnet-4-5-20250929-v1:0');
    // 200,000 input tokens is not above the threshold: 200,000 x 3 + 1,000 x 15 = 615,000.
    expect(priceUsage(u(200_000, 1000), p)).toMatchObject({ micros: 615_000, row: 'standard', flags: [] });
    // 200,001: every token at 6 / 22.50 = 1,200,006 + 22,500.
    expect(priceUsage(u(200_001, 1000), p)).toMatchObject({ micros: 1_222_506, row: 'long_context', flags: ['long_context'] });
    // Cache reads count toward the threshold: 1,000 input + 250,000 read x 0.60 + 1,000 x 6 input.
    expect(priceUsage(u(1000, 0, 250_000), p).micros).toBe(1000 * 6 + 250_000 * 0.6);
  });

  it('prices 1-hour cache writes apart from 5-minute ones', () => {
    const p = sonnet45('global.anthropic.claude-sonnet-4-5-20250929-v1:0');
    // 1,000 writes of which 400 at 1 h: 600 x 3.75 + 400 x 6 = 2,250 + 2,400.
    expect(priceUsage(u(0, 0, 0, 1000, 400), p)).toMatchObject({ micros: 4650, flags: [] });
    // Without a 1-hour price: twice the input price, flagged.
    const plain = toTokenPrice({ inputPerMTok: 1, outputPerMTok: 2, cacheWritePerMTok: 1.25, cacheReadPerMTok: 0.1 });
    expect(priceUsage(u(0, 0, 0, 1000, 400), plain)).toMatchObject({ micros: 600 * 1.25 + 400 * 2, flags: ['cache_write_1h_derived'] });
  });

  it('flags cache reads billed at the input price because the entry has no cache-read price', () => {
    const p = toTokenPrice({ inputPerMTok: 1, outputPerMTok: 2 });
    expect(priceUsage(u(0, 0, 1000), p)).toMatchObject({ micros: 1000, flags: ['cache_read_unpriced'] });
  });

  it('prices service tiers on their own rows and flags a tier without one', () => {
    const p = toTokenPrice(findCatalogPrice('gpt-5.4')!);
    // priority 5 / 30: 1000 x 5 + 1000 x 30; flex 1.25 / 7.50; standard 2.50 / 15.
    expect(priceUsage(u(1000, 1000), p, { serviceTier: 'priority' })).toMatchObject({ micros: 35_000, row: 'tier:priority' });
    expect(priceUsage(u(1000, 1000), p, { serviceTier: 'flex' })).toMatchObject({ micros: 8750, row: 'tier:flex' });
    expect(priceUsage(u(1000, 1000), p, { serviceTier: 'default' })).toMatchObject({ micros: 17_500, row: 'standard' });
    expect(priceUsage(u(1000, 1000), p, { serviceTier: 'scale' })).toMatchObject({ micros: 17_500, flags: ['service_tier_unpriced'] });
    // A reservation for priority covers the priority row.
    expect(costMicrosCeil(1000, 1000, p, { serviceTier: 'priority' })).toBe(35_000);
  });

  it.each([
    [{ inputTokens: -1, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, 'inputTokens is negative (-1)'],
    [{ inputTokens: 1.5, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, 'inputTokens is 1.5, not an integer'],
    [{ inputTokens: '5' as unknown as number, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, 'inputTokens is "5", not an integer'],
    [{ inputTokens: NaN, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, 'inputTokens is NaN, not an integer'],
    [{ inputTokens: 0, outputTokens: 20_000_000, cacheReadTokens: 0, cacheWriteTokens: 0 }, 'outputTokens is 20000000, above 10000000'],
    [{ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 5, cacheWrite1hTokens: 9 }, 'cacheWrite1hTokens (9) exceeds cacheWriteTokens (5)'],
  ])('refuses the usage %j', (usage, problem) => expect(usageProblem(usage)).toBe(problem));
});

describe('the December 2026 Claude catalog (PRICES.md)', () => {
  const price = (id: string) => toTokenPrice(findCatalogPrice(id)!);
  const u = { inputTokens: 1200, outputTokens: 60, cacheReadTokens: 20_000, cacheWriteTokens: 9000, cacheWrite1hTokens: 9000 };

  it('prices a Claude Code turn on Opus 5.5 as Claude Code does: 1-hour writes 2x input, reads 0.05x', () => {
    // 1200 x 4 + 60 x 20 + 9000 x 8 + 20000 x 0.20, micro-dollars
    expect(costMicros(u, price('claude-opus-5-5'))).toBe(4800 + 1200 + 72000 + 4000);
  });

  it('reads the cache at each model\'s own rate', () => {
    // 100k: the most Haiku 5.5 reads at its lower band.
    const read = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 100_000, cacheWriteTokens: 0 };
    expect(Object.fromEntries(['claude-opus-5-5', 'claude-opus-5', 'claude-sonnet-5-5', 'claude-sonnet-5', 'claude-haiku-5-5', 'claude-fable-5-1', 'claude-haiku-4-5']
      .map((id) => [id, costMicros(read, price(id))]))).toEqual({
      'claude-opus-5-5': 20_000, 'claude-opus-5': 50_000, 'claude-sonnet-5-5': 10_000, 'claude-sonnet-5': 20_000,
      'claude-haiku-5-5': 1_000, 'claude-fable-5-1': 25_000, 'claude-haiku-4-5': 10_000,
    });
  });

  it('bills every token of a Haiku 5.5 request at the higher band once its prompt passes 100k tokens', () => {
    const short = { inputTokens: 90_000, outputTokens: 1000, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const long = { inputTokens: 60_000, outputTokens: 1000, cacheReadTokens: 50_000, cacheWriteTokens: 0 };
    expect(priceUsage(short, price('claude-haiku-5-5'))).toMatchObject({ micros: 9000 + 500, row: 'standard' });
    // 60000 x 0.50 + 1000 x 2.50 + 50000 x 0.05
    expect(priceUsage(long, price('claude-haiku-5-5'))).toMatchObject({ micros: 30_000 + 2500 + 2500, row: 'long_context' });
  });

  it('knows Claude 5.x on Bedrock by profile: global at the list price, geographic at 1.1x (unverified)', () => {
    expect(findCatalogPrice('global.anthropic.claude-opus-5-5')).toMatchObject({ profileClass: 'global', inputPerMTok: 4, outputPerMTok: 20, verified: false });
    expect(findCatalogPrice('us.anthropic.claude-sonnet-5-5')).toMatchObject({ profileClass: 'geo', inputPerMTok: 2.2, outputPerMTok: 11 });
  });
});

describe('model lifecycle in the catalog', () => {
  it('carries the shutdown dates OpenAI publishes, with a replacement in the catalog', () => {
    const ids = new Set(PRICE_CATALOG.models.map((m) => m.id));
    expect(findCatalogPrice('gpt-5')?.lifecycle).toMatchObject({ shutdownOn: '2026-12-11', replacement: 'gpt-5.5' });
    expect(findCatalogPrice('gpt-4.1-nano')?.lifecycle?.shutdownOn).toBe('2026-10-23');
    expect(findCatalogPrice('gpt-4o')?.lifecycle?.shutdownOn).toBe('2027-01-14');
    for (const m of PRICE_CATALOG.models) {
      if (m.lifecycle?.replacement) expect(ids).toContain(m.lifecycle.replacement);
    }
  });
});
