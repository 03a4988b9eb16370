import { ProviderError } from '../core/ports';

/** Bounds on one upstream answer, per attempt. */
export interface AnswerLimits {
  /** Longest silence between two pieces of a stream once it has started. */
  readonly idleMs: number;
  /** Longest a whole stream may take once it has started. */
  readonly totalMs: number;
  /** Largest answer, JSON or stream, in bytes. */
  readonly maxBytes: number;
}

/** Lambda's own ceiling is 15 minutes; an answer streaming longer than that could never reach the client. */
export const DEFAULT_STREAM_TOTAL_MS = 900_000;
/** 16 MiB: far above any real answer (128k output tokens are ~0.5 MB, with logprobs a few MB). */
export const DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export function answerLimits(p: { readonly timeoutMs: number; readonly streamIdleTimeoutMs?: number; readonly streamTimeoutMs?: number }, maxBytes?: number): AnswerLimits {
  return { idleMs: p.streamIdleTimeoutMs ?? p.timeoutMs, totalMs: p.streamTimeoutMs ?? DEFAULT_STREAM_TOTAL_MS, maxBytes: maxBytes ?? DEFAULT_MAX_ANSWER_BYTES };
}

/**
 * Passes a stream's pieces through while it keeps its bounds: a silence longer than `idleMs`, a stream longer than
 * `totalMs` (a slow drip) or more than `maxBytes` ends it with a ProviderError (timeout, or server for the size),
 * after `abort()` has closed the upstream. Without this, a stream that went quiet after its headers held the request
 * (and its reservation) until the client or the Lambda gave up.
 */
export async function* boundedStream<T>(source: AsyncIterable<T>, limits: AnswerLimits, what: string, abort: () => void, sizeOf: (piece: T) => number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const deadline = Date.now() + limits.totalMs;
  let bytes = 0;
  let finished = false;
  try {
    for (;;) {
      const left = deadline - Date.now();
      // Whichever comes first: the silence limit, or the whole stream's deadline.
      const deadlineFirst = left < limits.idleMs;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(0, Math.min(limits.idleMs, left)));
      });
      const next = await Promise.race([it.next(), timeout]);
      clearTimeout(timer);
      if (next === 'timeout') {
        throw new ProviderError(
          deadlineFirst ? `${what} stream exceeded ${limits.totalMs} ms in total` : `${what} stream was silent for ${limits.idleMs} ms`,
          'timeout',
        );
      }
      if (next.done) {
        finished = true;
        return;
      }
      bytes += sizeOf(next.value);
      if (bytes > limits.maxBytes) throw new ProviderError(`${what} answer is larger than ${limits.maxBytes} bytes`, 'server');
      yield next.value;
    }
  } finally {
    if (!finished) {
      abort();
      // Not awaited: a source stuck in next() may never settle its return().
      void Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }
}
