import { GatewayError, InvalidRequestError } from '../errors';
import type { BatchService } from './service';

/**
 * Anthropic's Message Batches API (`/v1/messages/batches`) over the same batch service: a batch of Messages requests
 * becomes an input file of `/v1/messages` lines and a batch on it, so it is checked, held, run, recorded and settled
 * exactly as a `/v1/batches` one; its object, results and errors take Anthropic's shapes (the SDK's
 * `client.messages.batches.*`). Anthropic's limits: 100,000 requests, custom_id 1-64 of letters, digits, `_` and `-`.
 */

const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX_REQUESTS = 100_000;

type Batch = Record<string, unknown> & {
  id: string; status: string; created_at: number; expires_at: number; cancelling_at: number | null;
  completed_at: number | null; failed_at: number | null; expired_at: number | null; cancelled_at: number | null;
  output_file_id: string | null; error_file_id: string | null; request_counts: { total: number; completed: number; failed: number };
};

const iso = (s: number | null): string | null => (s === null ? null : new Date(s * 1000).toISOString());
const ENDED = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** `POST /v1/messages/batches`: `{requests: [{custom_id, params}]}`; a request the live path would refuse is a 400 naming it. */
export async function createMessageBatch(batches: BatchService, who: { tenantId: string; apiKeyId?: string; feature?: string }, body: string): Promise<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON.', null, 'invalid_json');
  }
  const requests = (v as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests) || requests.length === 0 || requests.length > MAX_REQUESTS) {
    throw new InvalidRequestError(`requests: an array of 1 to ${MAX_REQUESTS} {custom_id, params} objects is required.`, 'requests');
  }
  const lines = requests.map((r: unknown, i) => {
    const o = r as { custom_id?: unknown; params?: unknown } | null;
    if (typeof o?.custom_id !== 'string' || !CUSTOM_ID.test(o.custom_id)) {
      throw new InvalidRequestError(`requests.${i}.custom_id: 1 to 64 letters, digits, '_' or '-'.`, `requests.${i}.custom_id`);
    }
    if (!o.params || typeof o.params !== 'object' || Array.isArray(o.params)) throw new InvalidRequestError(`requests.${i}.params: a Messages request object is required.`, `requests.${i}.params`);
    return JSON.stringify({ custom_id: o.custom_id, method: 'POST', url: '/v1/messages', body: o.params });
  });
  const file = await batches.uploadFile(who.tenantId, { purpose: 'batch', filename: 'message-batch.jsonl', content: `${lines.join('\n')}\n` });
  const b = (await batches.createBatch(who, JSON.stringify({ input_file_id: file.id, endpoint: '/v1/messages', completion_window: '24h' }))) as Batch;
  if (b.status === 'failed') {
    await batches.deleteFile(who.tenantId, file.id as string).catch(() => undefined);
    const errors = (b.errors as { data: { line: number | null; message: string }[] } | null)?.data ?? [];
    // Line n of the file is requests[n-1]: say which request, as Anthropic's 400s name the param.
    const text = errors.slice(0, 5).map((e) => e.message.replace(/^Line (\d+):/, (_m, n: string) => `requests.${Number(n) - 1}:`)).join(' ');
    throw new InvalidRequestError(`The batch was refused: ${text}${errors.length > 5 ? ` (and ${errors.length - 5} more)` : ''}`, 'requests');
  }
  return messageBatchObject(batches, who.tenantId, b);
}

/** A batch in Anthropic's shape; the tallies by result come from the output and error files once it has ended. */
export async function messageBatchObject(batches: BatchService, tenantId: string, b: Batch): Promise<Record<string, unknown>> {
  const ended = ENDED.has(b.status);
  const counts = { processing: ended ? 0 : b.request_counts.total, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
  if (ended) {
    for (const r of await results(batches, tenantId, b)) counts[r.result.type === 'succeeded' ? 'succeeded' : r.result.type === 'canceled' ? 'canceled' : r.result.type === 'expired' ? 'expired' : 'errored']++;
  }
  return {
    id: b.id, type: 'message_batch',
    processing_status: ended ? 'ended' : b.status === 'cancelling' ? 'canceling' : 'in_progress',
    request_counts: counts,
    ended_at: iso(b.completed_at ?? b.cancelled_at ?? b.expired_at ?? b.failed_at),
    created_at: iso(b.created_at), expires_at: iso(b.expires_at), archived_at: null, cancel_initiated_at: iso(b.cancelling_at),
    results_url: ended ? `/v1/messages/batches/${encodeURIComponent(b.id)}/results` : null,
  };
}

interface ResultLine {
  readonly custom_id: string;
  readonly result: { readonly type: 'succeeded' | 'errored' | 'canceled' | 'expired'; readonly message?: unknown; readonly error?: unknown };
}

/** Each request's result, Anthropic's way: the Message; the error response it got; or why it never ran. */
async function results(batches: BatchService, tenantId: string, b: Batch): Promise<ResultLine[]> {
  const read = async (id: string | null) => (id ? (await batches.fileContent(tenantId, id)).split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
  const out: ResultLine[] = [];
  for (const l of await read(b.output_file_id)) out.push({ custom_id: l.custom_id, result: { type: 'succeeded', message: l.response.body } });
  for (const l of await read(b.error_file_id)) {
    const code = l.error?.code;
    if (!l.response && code === 'batch_expired') out.push({ custom_id: l.custom_id, result: { type: 'expired' } });
    else if (!l.response && code === 'batch_cancelled') out.push({ custom_id: l.custom_id, result: { type: 'canceled' } });
    else out.push({ custom_id: l.custom_id, result: { type: 'errored', error: l.response?.body ?? { type: 'error', error: { type: 'api_error', message: l.error?.message ?? 'the request failed' } } } });
  }
  return out;
}

/** `GET /v1/messages/batches/{id}/results`: JSONL, once the batch has ended (before, 404 as Anthropic answers). */
export async function messageBatchResults(batches: BatchService, tenantId: string, b: Batch): Promise<string> {
  if (!ENDED.has(b.status)) throw new GatewayError(`Message Batch ${b.id} has not ended; its results are not available yet.`, 404, 'not_found_error', 'results_not_ready', null);
  return (await results(batches, tenantId, b)).map((r) => JSON.stringify(r)).join('\n') + '\n';
}

/** `GET /v1/messages/batches`: newest first, `limit` 1-1000 (default 20), `after_id` paging. */
export async function listMessageBatches(batches: BatchService, tenantId: string, q: URLSearchParams): Promise<Record<string, unknown>> {
  const limit = q.get('limit') === null ? 20 : Number(q.get('limit'));
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InvalidRequestError('limit must be an integer from 1 to 1000.', 'limit');
  const all = ((await batches.batchesOf(tenantId)) as Batch[]).filter((b) => b.endpoint === '/v1/messages');
  let from = 0;
  const after = q.get('after_id');
  if (after) from = all.findIndex((b) => b.id === after) + 1;
  const page = all.slice(from, from + limit);
  const data = await Promise.all(page.map((b) => messageBatchObject(batches, tenantId, b)));
  return { data, has_more: from + limit < all.length, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null };
}
