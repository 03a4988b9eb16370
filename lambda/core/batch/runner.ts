import type { Gateway } from '../pipeline/gateway';
import type { ChatInvocation, GatewayResult } from '../pipeline/types';
import type { BatchEndpoint, BatchInputLine } from './input';

/** One line of a batch's output or error file, in the OpenAI Batch API's shape. */
export interface BatchOutputLine {
  readonly id: string;
  readonly custom_id: string;
  readonly response: { readonly status_code: number; readonly request_id: string; readonly body: unknown } | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface BatchRun {
  /** Lines answered (status 200), in input order: the output file. */
  readonly output: readonly BatchOutputLine[];
  /** Lines that failed (any other status, or not run because the batch was cancelled): the error file. */
  readonly errors: readonly BatchOutputLine[];
  readonly counts: { readonly total: number; readonly completed: number; readonly failed: number };
}

export interface BatchRunOptions {
  readonly batchId: string;
  readonly endpoint: BatchEndpoint;
  /** Who submitted the batch, as the authorizer resolved them for the submit call. */
  readonly tenantId: string;
  readonly apiKeyId?: string;
  readonly feature?: string;
  /** Aborted when the batch is cancelled: lines not yet run end in the error file as `batch_cancelled`. */
  readonly signal?: AbortSignal;
}

const CALLS: Record<BatchEndpoint, (g: Gateway, inv: ChatInvocation) => Promise<GatewayResult>> = {
  '/v1/chat/completions': (g, inv) => g.chat(inv),
  '/v1/embeddings': (g, inv) => g.embeddings(inv),
  '/v1/responses': (g, inv) => g.responses(inv),
  '/v1/messages': (g, inv) => g.messages(inv),
};

/** The error line of a line the batch never ran (cancelled or expired first, or its provider job gave no answer). */
export function unrunLine(batchId: string, line: BatchInputLine, code: 'batch_cancelled' | 'batch_expired' | 'batch_job_failed', message?: string): BatchOutputLine {
  const why = message ?? (code === 'batch_expired' ? 'The batch expired before this line ran.' : 'The batch was cancelled before this line ran.');
  return { id: lineResultId(batchId, line), custom_id: line.customId, response: null, error: { code, message: why } };
}

function lineResultId(batchId: string, line: BatchInputLine): string {
  return `${batchId}_req_${line.line}`;
}

/**
 * Runs one line through the live pipeline as a line of the batch: admitted against the tenant's quotas (or, when the
 * batch's hold covers it, counted under the hold) and priced at the batch rates, one usage record (`api: batch`, the
 * batch id and the line's custom_id). Lines bypass the response caches: a batch pays for its answers, and a cache hit
 * would credit the cache with the batch's discount. `ok` says which file the line belongs in (output: status 200).
 */
export async function runBatchLine(
  gateway: Gateway, line: BatchInputLine, opts: BatchRunOptions & { readonly held?: boolean; readonly simulated?: boolean },
): Promise<{ ok: boolean; result: BatchOutputLine }> {
  const res = await CALLS[opts.endpoint](gateway, {
    tenantId: opts.tenantId, apiKeyId: opts.apiKeyId, feature: opts.feature, body: line.body, bodyBytes: line.bodyBytes,
    cacheBypass: true, batch: { id: opts.batchId, customId: line.customId, held: opts.held, simulated: opts.simulated },
  });
  // Batch lines never stream (parseBatchInput refuses body.stream), so every answer is JSON.
  const body = res.kind === 'json' ? res.body : null;
  return { ok: res.status === 200, result: { id: lineResultId(opts.batchId, line), custom_id: line.customId, response: { status_code: res.status, request_id: res.headers['x-request-id'] ?? '', body }, error: null } };
}

/** Runs a batch's lines one after another (runBatchLine), the cancelled rest to the error file. */
export async function runBatchLines(gateway: Gateway, lines: readonly BatchInputLine[], opts: BatchRunOptions): Promise<BatchRun> {
  const output: BatchOutputLine[] = [];
  const errors: BatchOutputLine[] = [];
  for (const line of lines) {
    if (opts.signal?.aborted) {
      errors.push(unrunLine(opts.batchId, line, 'batch_cancelled'));
      continue;
    }
    const { ok, result } = await runBatchLine(gateway, line, opts);
    (ok ? output : errors).push(result);
  }
  return { output, errors, counts: { total: lines.length, completed: output.length, failed: errors.length } };
}
