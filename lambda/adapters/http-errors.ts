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
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([parent, timeout]);
  try {
    return await fn(signal);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    if (timeout.aborted && !parent.aborted) throw new ProviderError(`${what} timed out after ${timeoutMs} ms`, 'timeout', undefined, undefined, { cause: err });
    if (parent.aborted) throw err;
    throw new ProviderError(`${what} failed: ${(err as Error).message ?? String(err)}`, 'network', undefined, undefined, { cause: err });
  }
}

/**
 * Opens a stream: the timeout covers only `open` (until the response starts); the returned signal stays linked to the
 * caller's for the life of the stream. Call `close()` when done to detach and abort anything left.
 */
export async function openWithTimeout<T>(
  what: string,
  timeoutMs: number,
  parent: AbortSignal,
  open: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; close: () => void }> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  parent.addEventListener('abort', onAbort, { once: true });
  const close = (): void => {
    parent.removeEventListener('abort', onAbort);
    controller.abort();
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    return { value: await open(controller.signal), close };
  } catch (err) {
    close();
    if (err instanceof ProviderError || parent.aborted) throw err;
    if (timedOut) throw new ProviderError(`${what} timed out after ${timeoutMs} ms`, 'timeout', undefined, undefined, { cause: err });
    throw new ProviderError(`${what} failed: ${(err as Error).message ?? String(err)}`, 'network', undefined, undefined, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
