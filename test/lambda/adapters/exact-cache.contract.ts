import type { CachedCompletion, ExactCache } from '../../../lambda/core/ports';

export function cachedAnswer(text: string): CachedCompletion {
  return {
    completion: {
      id: 'chatcmpl-1', object: 'chat.completion', created: 1_700_000_000, model: 'small',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    },
    usage: { inputTokens: 12, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
    modelId: 'small', tier: 'small', storedAtMs: 1_700_000_000_000,
  } as CachedCompletion;
}

/**
 * The behaviour every ExactCache adapter must have. `make(now)` returns an empty cache reading time from `now`.
 */
export function exactCacheContract(name: string, make: (now: () => number) => Promise<ExactCache>): void {
  describe(`ExactCache contract: ${name}`, () => {
    let t: number;
    let cache: ExactCache;
    beforeEach(async () => {
      t = Date.UTC(2026, 10, 29);
      cache = await make(() => t);
    });

    it('returns what was set, unchanged', async () => {
      await cache.set('exact:acme:aa', cachedAnswer('Paris'), 60_000);
      expect(await cache.get('exact:acme:aa')).toEqual(cachedAnswer('Paris'));
    });

    it('misses an unknown key', async () => {
      expect(await cache.get('exact:acme:bb')).toBeUndefined();
    });

    it('keeps tenants apart: the same hash under another tenant is another entry', async () => {
      await cache.set('exact:acme:cc', cachedAnswer('for acme'), 60_000);
      expect(await cache.get('exact:globex:cc')).toBeUndefined();
    });

    it('expires an entry at its TTL, whatever the store does later', async () => {
      await cache.set('exact:acme:dd', cachedAnswer('soon gone'), 2_000);
      t += 1_000;
      expect(await cache.get('exact:acme:dd')).toBeDefined();
      t += 1_001;
      expect(await cache.get('exact:acme:dd')).toBeUndefined();
    });

    it('overwrites an entry set again', async () => {
      await cache.set('exact:acme:ee', cachedAnswer('old'), 60_000);
      await cache.set('exact:acme:ee', cachedAnswer('new'), 60_000);
      expect((await cache.get('exact:acme:ee'))?.completion.choices[0].message?.content).toBe('new');
    });
  });
}
