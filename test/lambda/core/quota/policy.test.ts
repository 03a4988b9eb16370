import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import { planCounters, windowsAt } from '../../../../lambda/core/quota/policy';
import { testConfig } from '../../../support/config';

describe('windowsAt', () => {
  it('gives UTC day and month windows with their ends', () => {
    const [day, month] = windowsAt(Date.UTC(2026, 11, 31, 23, 59, 59));
    expect(day).toEqual({ window: 'day', label: '2026-12-31', endsAtMs: Date.UTC(2027, 0, 1) });
    expect(month).toEqual({ window: 'month', label: '2026-12', endsAtMs: Date.UTC(2027, 0, 1) });
  });
});

describe('planCounters', () => {
  it('tracks tenant counters always and adds feature and global counters where limited', () => {
    const cfg = resolveConfig(testConfig('http://127.0.0.1:9/v1', {
      tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 2 }, features: { bot: { monthlyTokens: 1000 } } }],
      quota: { global: { monthlyUsd: 500 } },
    }));
    const plans = planCounters(cfg, cfg.tenants.get('acme')!, 'bot', Date.UTC(2026, 10, 29), { usdMicros: 50, tokens: 70 });
    expect(plans.map((p) => [p.key, p.limit, p.amount])).toEqual([
      ['tenant#acme#usd#2026-11-29', 2_000_000, 50],
      ['tenant#acme#tokens#2026-11-29', undefined, 70],
      ['tenant#acme#usd#2026-11', undefined, 50],
      ['global#usd#2026-11', 500_000_000, 50],
      ['tenant#acme#tokens#2026-11', undefined, 70],
      ['feature#acme#bot#tokens#2026-11', 1000, 70],
    ]);
  });
});

describe('MemoryQuotaStore', () => {
  const spec = (key: string, amount: number, limit?: number) => ({ key, amount, limit, expiresAtMs: Number.MAX_SAFE_INTEGER });

  it('reserves all counters or none', async () => {
    const store = new MemoryQuotaStore();
    await store.reserve('r1', [spec('a', 5, 10)], 1e15);
    const out = await store.reserve('r2', [spec('b', 1, 100), spec('a', 6, 10)], 1e15);
    expect(out).toEqual({ ok: false, key: 'a', committed: 5 });
    expect(await store.read(['a', 'b'])).toEqual(new Map([['a', 5], ['b', 0]]));
  });

  it('admits a reservation that lands exactly on the limit', async () => {
    const store = new MemoryQuotaStore();
    expect((await store.reserve('r1', [spec('a', 10, 10)], 1e15)).ok).toBe(true);
  });

  it('releases expired reservations lazily, and settles a late one by its actual amount only', async () => {
    let now = 0;
    const store = new MemoryQuotaStore(() => now);
    await store.reserve('r1', [spec('a', 8, 10)], 1000);
    now = 2000;
    expect((await store.reserve('r2', [spec('a', 8, 10)], 5000)).ok).toBe(true);
    const after = await store.settle('r1', [{ key: 'a', reserved: 8, actual: 1 }]);
    expect(after.get('a')).toBe(9);
  });
});
