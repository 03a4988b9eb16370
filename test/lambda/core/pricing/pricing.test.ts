import { findCatalogPrice, PRICE_CATALOG } from '../../../../lambda/core/pricing/catalog';
import { formatUsd, usdToMicros } from '../../../../lambda/core/pricing/money';
import { costMicros, costMicrosCeil, toTokenPrice } from '../../../../lambda/core/pricing/prices';

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
