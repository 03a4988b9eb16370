import { effectiveLimits, mergeLimits, planCounters, planPolicyCounters, policyWindowAt, runsOutAt, windowsAt } from '../../../../lambda/core/quota/policy';
import { GatewayConfigSchema, PolicySchema } from '../../../../lambda/core/config/schema';
import { testConfig } from '../../../support/config';

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

describe('policy windows', () => {
  // Wednesday 2026-12-30 13:45:10 UTC.
  const now = Date.UTC(2026, 11, 30, 13, 45, 10);
  it('gives hour, ISO week (from Monday), total and custom periods with their ends', () => {
    expect(policyWindowAt('hour', now)).toEqual({ window: 'hour', label: '2026-12-30T13', endsAtMs: Date.UTC(2026, 11, 30, 14) });
    expect(policyWindowAt('week', now)).toEqual({ window: 'week', label: 'week-of-2026-12-28', endsAtMs: Date.UTC(2027, 0, 4) });
    expect(policyWindowAt('week', Date.UTC(2027, 0, 3, 23, 59))).toMatchObject({ label: 'week-of-2026-12-28' }); // Sunday
    expect(policyWindowAt('total', now)).toEqual({ window: 'total', label: 'total', endsAtMs: Number.POSITIVE_INFINITY });
    // Every 6 hours from 02:00 UTC: 13:45 is in the period 08:00-14:00 of that day.
    const six = policyWindowAt({ periodSeconds: 21_600, anchor: '2026-01-01T02:00:00Z' }, now);
    expect(six.endsAtMs).toBe(Date.UTC(2026, 11, 30, 14));
    expect(six.label).toBe(`21600s@2026-01-01T02:00:00.000Z#${Math.floor((now - Date.UTC(2026, 0, 1, 2)) / 21_600_000)}`);
  });
});

describe('planPolicyCounters', () => {
  const policies = [
    { id: 'dev-daily', match: { tenant: 'acme' }, per: 'endUser', limits: [{ window: 'day', usd: 20 }] },
    { id: 'research-opus', match: { team: 'research', model: 'claude-opus-*' }, limits: [{ window: 'month', usd: 500 }] },
    { id: 'loop-breaker', per: 'session', limits: [{ window: 'minute', usd: 2, tokens: 200_000, requests: 60 }, { window: 'total', requests: 500 }] },
  ].map((p) => PolicySchema.parse(p));
  const ctx = { tenant: 'acme', feature: 'chat', team: 'research', endUser: 'u-7f3a', model: 'claude-opus-5-5', provider: 'bedrock' };
  const now = Date.UTC(2026, 11, 6, 10, 0, 0);

  it('counts each matching policy per its value, one counter per limited unit and window', () => {
    const plans = planPolicyCounters(policies, { ...ctx, session: 'sess-1' }, now, { usdMicros: 2_000, tokens: 1_500 });
    expect(plans.map((p) => [p.key, p.limit, p.amount])).toEqual([
      ['policy#dev-daily#u-7f3a#usd#2026-12-06', 20_000_000, 2_000],
      ['policy#research-opus#*#usd#2026-12', 500_000_000, 2_000],
      ['policy#loop-breaker#sess-1#usd#2026-12-06T10:00', 2_000_000, 2_000],
      ['policy#loop-breaker#sess-1#tokens#2026-12-06T10:00', 200_000, 1_500],
      ['policy#loop-breaker#sess-1#requests#2026-12-06T10:00', 60, 1],
      ['policy#loop-breaker#sess-1#requests#total', 500, 1],
    ]);
  });

  it('skips a policy whose match fails or whose per value the request lacks', () => {
    const plans = planPolicyCounters(policies, { ...ctx, team: 'platform', endUser: undefined, model: 'claude-haiku-4-5' }, now, { usdMicros: 1, tokens: 1 });
    expect(plans).toEqual([]);
  });

  it('refuses bad policies at config validation', () => {
    const problems = (quota: unknown) => GatewayConfigSchema.safeParse({ ...testConfig('http://127.0.0.1:1/v1'), quota }).error?.issues.map((i) => `${i.path.slice(1).join('.')}: ${i.message}`);
    expect(problems({ policies: [{ id: 'a', per: 'galaxy', limits: [{ window: 'day', usd: 1 }] }] })?.[0]).toMatch(/^policies\.0\.per: /);
    expect(problems({ policies: [{ id: 'a', limits: [{ window: { periodSeconds: 0 }, usd: 1 }] }] })?.[0]).toMatch(/^policies\.0\.limits\.0\.window/);
    expect(problems({ policies: [{ id: 'a', limits: [{ window: 'day', usd: -5 }] }] })?.[0]).toMatch(/^policies\.0\.limits\.0\.usd: /);
    expect(problems({ policies: [{ id: 'a', limits: [{ window: 'day' }] }] })).toEqual(['policies.0.limits.0: set usd, tokens or requests']);
    expect(problems({ policies: [{ id: 'a', limits: [{ window: 'fortnight', usd: 1 }] }] })?.[0]).toMatch(/^policies\.0\.limits\.0\.window/);
    expect(problems({ policies: [{ id: 'a', limits: [{ window: 'day', usd: 1 }] }, { id: 'a', limits: [{ window: 'day', usd: 2 }] }] })).toEqual(['policies: policy ids must be unique']);
    const day = [{ window: 'day', usd: 1 }];
    expect(problems({ policies: [{ id: 'a', limits: day, brownout: {} }] })).toEqual(['policies.0.brownout: set downgradeAt, throttleAt or both']);
    expect(problems({ policies: [{ id: 'a', limits: day, brownout: { throttleAt: 0.9 } }] })).toEqual(['policies.0.brownout: throttleAt and throttleRpm go together']);
    expect(problems({ policies: [{ id: 'a', limits: day, brownout: { downgradeAt: 0.9, throttleAt: 0.5, throttleRpm: 10 } }] }))
      .toEqual(['policies.0.brownout: downgradeAt comes before throttleAt (a smaller or equal share)']);
    expect(problems({ policies: [{ id: 'a', limits: day, brownout: { downgradeAt: 1.5 } }] })?.[0]).toMatch(/^policies\.0\.brownout\.downgradeAt: /);
    expect(problems({ policies: [{ id: 'a', limits: day, onExhausted: 'explode' }] })?.[0]).toMatch(/^policies\.0\.onExhausted: /);
    expect(problems({ policies: [{ id: 'a', limits: day, match: { apiKey: 'sk-live key' } }] })?.[0]).toMatch(/^policies\.0\.match\.apiKey: /);
    expect(problems({ forecast: { spikeFactor: 1 } })?.[0]).toMatch(/^forecast\.spikeFactor: /);
  });
});

describe('runsOutAt', () => {
  const hourKey = 'tenant#t#usd#2026-12-06T10';
  const plan = (limit: number, windowEndsAtMs: number) => ({
    key: 'tenant#t#usd#2026-12-06', limit, amount: 0, expiresAtMs: 0, scope: 'tenant' as const, unit: 'usd' as const,
    window: 'day' as const, windowLabel: '2026-12-06', windowEndsAtMs, rateKey: hourKey,
  });
  it('projects the tightest limit at this hour\'s rate, only when it runs out before its window ends', () => {
    const now = Date.UTC(2026, 11, 6, 10, 30);
    // $0.01 in 30 minutes: $0.02 an hour; $0.05 left lasts 2.5 hours.
    const committed = new Map([[hourKey, 10_000], ['tenant#t#usd#2026-12-06', 50_000]]);
    expect(runsOutAt([plan(100_000, Date.UTC(2026, 11, 7))], committed, now)).toBe(Date.UTC(2026, 11, 6, 13));
    expect(runsOutAt([plan(100_000, Date.UTC(2026, 11, 6, 12))], committed, now)).toBeUndefined();
    // The first 5 minutes of an hour count as 5 minutes, so one request at 10:00:01 is not an absurd rate.
    expect(runsOutAt([plan(100_000, Date.UTC(2026, 11, 7))], committed, Date.UTC(2026, 11, 6, 10, 0, 1))).toBe(Date.UTC(2026, 11, 6, 10, 0, 1) + 1_500_000);
    expect(runsOutAt([plan(100_000, Date.UTC(2026, 11, 7))], new Map(), now)).toBeUndefined();
  });
});
