import type { BatchService } from '../../core/batch/service';
import type { PollerLease } from '../../core/batch/store';

/** What one poller run did, returned to the invoker (and so in the log of an asynchronous invocation's destination). */
export interface BatchPollSummary {
  /** Another run held the lease: this one did nothing. */
  readonly skipped: boolean;
  readonly stoppedEarly: boolean;
  readonly errors: number;
}

/** Lambda's context, as far as the poller reads it. */
export interface PollerContext {
  getRemainingTimeInMillis?(): number;
}

/** How long before the function's time limit the poller stops settling, so the lines it settled stay settled. */
export const POLLER_MARGIN_MS = 60_000;

/**
 * The BatchLane's poller: invoked by Bedrock's "Batch Inference Job State Change" events and by a schedule (events are
 * best effort). Each run reads every active batch's jobs once and settles those whose jobs have ended, line by line;
 * near the function's time limit it stops after the line in hand, and the next run resumes there (each settled line
 * is kept as it settles). One run at a time, by a lease in the lane's table (not reserved concurrency, which a new
 * account's concurrency quota of 10 cannot spare): a run that finds the lease taken does nothing, so two runs never
 * settle the same line. The event itself is not read: any run looks at every active batch.
 */
export function createBatchPollerHandler(
  lane: () => Promise<{ runner: () => BatchService; lease: PollerLease; flush: () => Promise<void>; errors: () => number }>,
  opts: { now?: () => number; holder?: () => string } = {},
) {
  const now = opts.now ?? Date.now;
  const holderOf = opts.holder ?? (() => `${process.pid}-${now()}-${Math.random().toString(36).slice(2, 10)}`);
  return async (_event: unknown, context?: PollerContext): Promise<BatchPollSummary> => {
    const { runner, lease, flush, errors } = await lane();
    const left = context?.getRemainingTimeInMillis?.() ?? 15 * 60_000;
    const holder = holderOf();
    // Held until the function's own time limit: a run killed there frees it for the next.
    if (!(await lease.take(holder, now() + left))) return { skipped: true, stoppedEarly: false, errors: 0 };
    const before = errors();
    const service = runner();
    let stoppedEarly = false;
    const timer = setTimeout(() => {
      stoppedEarly = true;
      void service.stop();
    }, Math.max(left - POLLER_MARGIN_MS, 0));
    try {
      await service.runDue();
    } finally {
      clearTimeout(timer);
      // The usage records of the lines settled in this run leave before the function freezes.
      await flush();
      await lease.release(holder);
    }
    return { skipped: false, stoppedEarly, errors: errors() - before };
  };
}
