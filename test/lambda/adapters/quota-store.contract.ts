import type { QuotaCounterSpec, QuotaStore } from '../../../lambda/core/ports';

/**
 * The behaviour every QuotaStore adapter must have. Run it with `quotaStoreContract('name', factory)` from an
 * adapter's test file; the factory returns a fresh, empty store.
 */
export function quotaStoreContract(name: string, make: () => Promise<QuotaStore>): void {
  describe(`QuotaStore contract: ${name}`, () => {
    let store: QuotaStore;
    beforeEach(async () => {
      store = await make();
    });

    const spec = (key: string, amount: number, limit?: number): QuotaCounterSpec => ({ key, amount, limit, expiresAtMs: Date.UTC(2030, 0, 1) });
    const FAR = Date.UTC(2030, 0, 1);
    const state = async (key: string) => (await store.read([key])).get(key);

    it('reads an unknown counter as zero', async () => {
      expect(await state('nothing')).toEqual({ committed: 0, reserved: 0 });
    });

    it('reserves within the limit and reports the committed values', async () => {
      const out = await store.reserve('r1', [spec('a', 30, 100), spec('b', 7)], FAR);
      expect(out).toEqual({ ok: true, committed: new Map([['a', 30], ['b', 7]]) });
      expect(await state('a')).toEqual({ committed: 30, reserved: 30 });
    });

    it('admits a reservation that lands exactly on the limit and refuses one micro more', async () => {
      expect((await store.reserve('r1', [spec('a', 100, 100)], FAR)).ok).toBe(true);
      expect(await store.reserve('r2', [spec('a', 1, 100)], FAR)).toEqual({ ok: false, key: 'a', committed: 100 });
    });

    it('refuses an amount above the limit even on an empty counter', async () => {
      expect(await store.reserve('r1', [spec('a', 101, 100)], FAR)).toEqual({ ok: false, key: 'a', committed: 0 });
    });

    it('is all or nothing: a refusing counter leaves the others unchanged', async () => {
      await store.reserve('r1', [spec('b', 90, 100)], FAR);
      const out = await store.reserve('r2', [spec('a', 5, 100), spec('c', 5), spec('b', 20, 100)], FAR);
      expect(out).toEqual({ ok: false, key: 'b', committed: 90 });
      expect(await store.read(['a', 'b', 'c'])).toEqual(new Map([
        ['a', { committed: 0, reserved: 0 }],
        ['b', { committed: 90, reserved: 90 }],
        ['c', { committed: 0, reserved: 0 }],
      ]));
    });

    it('settles a reservation to the actual amount', async () => {
      await store.reserve('r1', [spec('a', 50, 100), spec('t', 400)], FAR);
      const after = await store.settle('r1', [{ key: 'a', reserved: 50, actual: 12 }, { key: 't', reserved: 400, actual: 390 }]);
      expect(after).toEqual(new Map([['a', 12], ['t', 390]]));
      expect(await state('a')).toEqual({ committed: 12, reserved: 0 });
    });

    it('releases a reservation in full when settled at zero', async () => {
      await store.reserve('r1', [spec('a', 50, 100)], FAR);
      await store.settle('r1', [{ key: 'a', reserved: 50, actual: 0 }]);
      expect(await state('a')).toEqual({ committed: 0, reserved: 0 });
    });

    it('sweeps only expired reservations, and a late settle then adds the actual amount alone', async () => {
      await store.reserve('old', [spec('a', 40, 100)], 1_000);
      await store.reserve('new', [spec('a', 30, 100)], FAR);
      expect(await store.sweepExpired(2_000)).toBe(1);
      expect(await state('a')).toEqual({ committed: 30, reserved: 30 });
      expect(await store.sweepExpired(2_000)).toBe(0);
      await store.settle('old', [{ key: 'a', reserved: 40, actual: 25 }]);
      expect(await state('a')).toEqual({ committed: 55, reserved: 30 });
    });

    it('admits exactly as many concurrent reservations as fit', async () => {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.reserve(`c${i}`, [spec('tight', 10, 95), spec('free', 1)], FAR)));
      expect(results.filter((r) => r.ok)).toHaveLength(9);
      expect(await store.read(['tight', 'free'])).toEqual(new Map([['tight', { committed: 90, reserved: 90 }], ['free', { committed: 9, reserved: 9 }]]));
    });

    it('grants an alert claim once per counter and threshold, however many race for it', async () => {
      const claims = await Promise.all(Array.from({ length: 20 }, () => store.claimAlert('a', 0.8, FAR)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await store.claimAlert('a', 0.9, FAR)).toBe(true);
      expect(await store.claimAlert('b', 0.8, FAR)).toBe(true);
    });

    it('stores, reads and deletes limits and kill switches per scope', async () => {
      expect(await store.getControls('acme', 'bot')).toEqual({});
      await store.putLimits({}, { monthlyUsd: 1000 });
      await store.putLimits({ tenant: 'acme' }, { dailyUsd: 5, monthlyUsd: null });
      await store.putLimits({ tenant: 'acme', feature: 'bot' }, { requestsPerMinute: 30 });
      await store.putLimits({ tenant: 'other' }, { dailyUsd: 1 });
      await store.setKillSwitch({}, { mode: 'downgrade', setAt: '2026-11-29T00:00:00.000Z' });
      await store.setKillSwitch({ tenant: 'acme' }, { mode: 'block', reason: 'budget 100%', setAt: '2026-11-29T01:00:00.000Z' });
      expect(await store.getControls('acme', 'bot')).toEqual({
        globalLimits: { monthlyUsd: 1000 },
        tenantLimits: { dailyUsd: 5, monthlyUsd: null },
        featureLimits: { requestsPerMinute: 30 },
        globalKillSwitch: { mode: 'downgrade', setAt: '2026-11-29T00:00:00.000Z' },
        tenantKillSwitch: { mode: 'block', reason: 'budget 100%', setAt: '2026-11-29T01:00:00.000Z' },
      });
      await store.putLimits({ tenant: 'acme' }, null);
      await store.setKillSwitch({ tenant: 'acme' }, null);
      await store.setKillSwitch({}, null);
      expect(await store.getControls('acme', 'other-feature')).toEqual({ globalLimits: { monthlyUsd: 1000 } });
    });

    it('stores a tenant\'s own policies, checked like the config\'s, and deletes them', async () => {
      const policy = { id: 'dev-daily', per: 'endUser', limits: [{ window: 'day', usd: 20 }] };
      await store.putPolicies('acme', [policy as never]);
      // Read back with the schema's defaults filled in; another tenant sees none.
      expect((await store.getControls('acme', 'bot')).tenantPolicies).toEqual([{ ...policy, match: {}, onExhausted: 'refuse' }]);
      expect((await store.getControls('other', 'bot')).tenantPolicies).toBeUndefined();
      await expect(store.putPolicies('acme', [{ id: 'Bad Id', limits: [] } as never])).rejects.toThrow(/^policies: 0\.id: .*; 0\.limits: /);
      await store.putPolicies('acme', null);
      expect((await store.getControls('acme', 'bot')).tenantPolicies).toBeUndefined();
    });
  });
}
