import { effectiveLimits, mergeLimits, planCounters, windowsAt } from '../../../../lambda/core/quota/policy';

describe('windowsAt', () => {
  it('gives UTC minute, day and month windows with their ends', () => {
    const w = windowsAt(Date.UTC(2026, 11, 31, 23, 59, 59));
    expect(w.minute).toEqual({ window: 'minute', label: '2026-12-31T23:59', endsAtMs: Date.UTC(2027, 0, 1) });
    expect(w.day).toEqual({ window: 'day', label: '2026-12-31', endsAtMs: Date.UTC(2027, 0, 1) });
    expect(w.month).toEqual({ window: 'month', label: '2026-12', endsAtMs: Date.UTC(2027, 0, 1) });
  });
});

describe('mergeLimits', () => {
  it('lets a stored field win, a stored null remove a limit, and an absent field keep the config', () => {
    expect(mergeLimits({ dailyUsd: 5, monthlyUsd: 50, dailyTokens: 100 }, { dailyUsd: 1, monthlyUsd: null })).toEqual({ dailyUsd: 1, monthlyUsd: undefined, dailyTokens: 100 });
  });
});

describe('planCounters', () => {
  it('tracks tenant counters always, adds feature, global and per-minute counters where limited, limited first', () => {
    const limits = effectiveLimits(
      { tenant: { dailyUsd: 2, requestsPerMinute: 60 }, defaults: {}, feature: { monthlyTokens: 1000 }, global: { monthlyUsd: 500 } },
      {},
    );
    const plans = planCounters(limits, 'acme', 'bot', Date.UTC(2026, 10, 29, 10, 5), { usdMicros: 50, tokens: 70 });
    expect(plans.map((p) => [p.key, p.limit, p.amount])).toEqual([
      ['tenant#acme#usd#2026-11-29', 2_000_000, 50],
      ['tenant#acme#requests#2026-11-29T10:05', 60, 1],
      ['feature#acme#bot#tokens#2026-11', 1000, 70],
      ['global#usd#2026-11', 500_000_000, 50],
      ['tenant#acme#tokens#2026-11-29', undefined, 70],
      ['tenant#acme#usd#2026-11', undefined, 50],
      ['tenant#acme#tokens#2026-11', undefined, 70],
    ]);
  });

  it('uses the config defaults for a tenant without limits, overridden by the store', () => {
    const limits = effectiveLimits({ defaults: { dailyUsd: 3 }, global: {} }, { tenantLimits: { dailyUsd: 7 } });
    const plans = planCounters(limits, 't', 'default', Date.UTC(2026, 0, 1), { usdMicros: 1, tokens: 1 });
    expect(plans[0]).toMatchObject({ key: 'tenant#t#usd#2026-01-01', limit: 7_000_000 });
  });
});
