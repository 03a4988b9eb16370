import { ProviderError, type ProviderErrorKind } from '../core/ports';

/** Classifies an upstream HTTP status for the fallback policy. */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return 'throttled';
  if (status === 408) return 'timeout';
  if (status === 401 || status === 403 || status === 404) return 'auth';
  if (status >= 500) return 'server';
  return 'client';
}

/** Retry-After in seconds or as an HTTP date, to milliseconds. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = Number(value);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

/** Runs `fn` with a per-attempt timeout joined to the caller's signal; maps aborts and network failures. */
export async function withTimeout<T>(what: string, timeoutMs: number, parent: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { value, detach } = await openWithTimeout(what, timeoutMs, parent, fn);
  detach();
  return value;
}

/**
 * Runs `open` under a timeout; the timeout covers only `open` (for a stream: until the response starts). The signal
 * given to `open` stays linked to the caller's until `detach()` or `close()`.
 */
export async function openWithTimeout<T>(
  what: string,
  timeoutMs: number,
  parent: AbortSignal,
  open: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; close: () => void; detach: () => void }> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  parent.addEventListener('abort', onAbort, { once: true });
  // detach: done with the caller's signal, the exchange completed (keeps a pooled socket alive).
  const detach = (): void => parent.removeEventListener('abort', onAbort);
  // close: detach and abort whatever is still open (a stream left early).
  const close = (): void => {
    detach();
    controller.abort();
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    return { value: await open(controller.signal), close, detach };
  } catch (err) {
    close();
    if (err instanceof ProviderError || parent.aborted) throw err;
    if (timedOut) throw new ProviderError(`${what} timed out after ${timeoutMs} ms`, 'timeout', undefined, undefined, { cause: err });
    throw new ProviderError(`${what} failed: ${(err as Error).message ?? String(err)}`, 'network', undefined, undefined, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
