import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock, IdSource, Sha256 } from '../core/ports';

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) return;
    await delay(ms, undefined, { signal }).catch(() => undefined);
  },
};

export const systemIds: IdSource = {
  requestId: () => `req_${randomUUID().replace(/-/g, '')}`,
  random: () => Math.random(),
};

export const sha256: Sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');
