import type { ResolvedModel } from '../config/resolve';
import { GatewayError, InvalidRequestError, UpstreamBusyError, UpstreamError, UpstreamTimeoutError } from '../errors';
import { ProviderError } from '../ports';
import type { Route } from '../routing/route';
import type { GatewayDeps, Trace } from './types';
import { ClientClosedError } from './types';

export interface Attempted<T> {
  readonly model: ResolvedModel;
  readonly value: T;
}

/**
 * Runs `attempt` along the chain: up to `attemptsPerModel` tries per model with exponential backoff and jitter on
 * 5xx, timeouts and network errors; throttling and auth failures move to the next model at once. A client error
 * (4xx) stops the chain: another model would reject the same request. An attempt that timed out may still have been
 * processed and billed by the provider: `onTimeout` puts its bound on the receipt.
 */
export async function withFallback<T>(
  deps: GatewayDeps,
  trace: Trace,
  r: Route,
  signal: AbortSignal,
  attempt: (m: ResolvedModel) => Promise<T>,
  onTimeout: (m: ResolvedModel) => void,
  /** Whether the request may afford an attempt on this model (after charged timeouts: QuotaGuard.extend). */
  covered: (m: ResolvedModel) => Promise<boolean> = async () => true,
): Promise<Attempted<T>> {
  const { clock, ids, config } = deps;
  const { attemptsPerModel, baseDelayMs, maxDelayMs } = config.raw.routing.retry;
  let last: ProviderError | undefined;
  const failures: string[] = [];
  for (let mi = 0; mi < r.chain.length; mi++) {
    const model = r.chain[mi];
    const hasNext = mi < r.chain.length - 1;
    for (let a = 0; a < attemptsPerModel; a++) {
      if (signal.aborted) throw abortError(signal);
      if (!(await covered(model))) {
        failures.push(`${model.id}: not attempted, the quota left cannot cover another attempt after a timeout`);
        throw new UpstreamTimeoutError(`All affordable attempts failed after ${trace.attempts} attempts (${failures.join('; ')}).`, { cause: last });
      }
      trace.attempts++;
      trace.model = model;
      trace.provider = model.provider.id;
      const u0 = clock.monotonic();
      try {
        const value = await attempt(model);
        trace.upstreamMs += clock.monotonic() - u0;
        return { model, value };
      } catch (err) {
        trace.upstreamMs += clock.monotonic() - u0;
        if (signal.aborted) {
          // Given up by the gateway's own deadline: like a timeout, the attempt may have been billed (its bound is charged).
          if (signal.reason instanceof GatewayError) onTimeout(model);
          throw abortError(signal);
        }
        const pe = err instanceof ProviderError ? err : new ProviderError(err instanceof Error ? err.message : String(err), 'server', undefined, undefined, { cause: err });
        if (pe.kind === 'client') {
          throw new InvalidRequestError(`Model '${model.id}' rejected the request: ${pe.message}`, null, 'upstream_rejected');
        }
        if (pe.kind === 'timeout') onTimeout(model);
        last = pe;
        failures.push(`${model.id}: ${pe.kind}${pe.status ? ` ${pe.status}` : ''}`);
        if ((pe.kind === 'throttled' || pe.kind === 'auth') && hasNext) break;
        // A Retry-After longer than the gateway waits inside a request is honoured by not retrying this model now:
        // the next model answers, or the client is told to come back after it (503 + Retry-After).
        if (pe.retryAfterMs !== undefined && pe.retryAfterMs > maxDelayMs) break;
        if (a < attemptsPerModel - 1) {
          const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** a);
          const jittered = exp / 2 + ids.random() * (exp / 2);
          await clock.sleep(Math.min(maxDelayMs, Math.max(jittered, pe.retryAfterMs ?? 0)), signal);
        }
      }
    }
  }
  const msg = `All models failed after ${trace.attempts} attempts (${failures.join('; ')}).`;
  if (last?.kind === 'timeout') throw new UpstreamTimeoutError(msg, { cause: last });
  if (last?.retryAfterMs !== undefined && last.retryAfterMs > maxDelayMs && (last.kind === 'throttled' || last.kind === 'server')) {
    throw new UpstreamBusyError(msg, Math.ceil(last.retryAfterMs / 1000), { cause: last });
  }
  throw new UpstreamError(msg, last?.kind === 'throttled' ? 'upstream_throttled' : 'upstream_failed', { cause: last });
}

/** Why an aborted request stops: the deadline's own error (a GatewayError reason), else the client went away. */
export function abortError(signal: AbortSignal): GatewayError {
  return signal.reason instanceof GatewayError ? signal.reason : new ClientClosedError();
}
