import { InvalidRequestError } from '../errors';
import { BATCH_ENDPOINTS, type BatchEndpoint } from './input';
import type { BatchRecord, StoredFile } from './store';

/** The completion windows a batch may ask for, in seconds: the three providers' is 24 hours. */
export const COMPLETION_WINDOWS: Readonly<Record<string, number>> = { '24h': 24 * 3600 };
const MAX_METADATA = 16;

/** The body of `POST /v1/batches`, checked. */
export function parseCreate(body: string): { inputFileId: string; endpoint: BatchEndpoint; completionWindow: string; metadata: Record<string, string> | null } {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new InvalidRequestError('The request body is not valid JSON.', null, 'invalid_json');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidRequestError('The request body must be a JSON object.', null);
  const o = v as Record<string, unknown>;
  if (typeof o.input_file_id !== 'string' || !o.input_file_id) throw new InvalidRequestError('input_file_id is required: the id of a file uploaded with purpose batch.', 'input_file_id');
  if (typeof o.endpoint !== 'string' || !(BATCH_ENDPOINTS as readonly string[]).includes(o.endpoint)) {
    throw new InvalidRequestError(`endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}, got ${JSON.stringify(o.endpoint ?? null)}.`, 'endpoint');
  }
  if (typeof o.completion_window !== 'string' || !(o.completion_window in COMPLETION_WINDOWS)) {
    throw new InvalidRequestError(`completion_window must be ${Object.keys(COMPLETION_WINDOWS).map((w) => `'${w}'`).join(' or ')}, got ${JSON.stringify(o.completion_window ?? null)}.`, 'completion_window');
  }
  let metadata: Record<string, string> | null = null;
  if (o.metadata !== undefined && o.metadata !== null) {
    const m = o.metadata;
    const entries = m && typeof m === 'object' && !Array.isArray(m) ? Object.entries(m) : undefined;
    if (!entries || entries.length > MAX_METADATA || entries.some(([k, x]) => typeof x !== 'string' || k.length > 64 || x.length > 512)) {
      throw new InvalidRequestError(`metadata must be an object of at most ${MAX_METADATA} string values (keys up to 64 characters, values up to 512).`, 'metadata');
    }
    metadata = Object.fromEntries(entries) as Record<string, string>;
  }
  return { inputFileId: o.input_file_id, endpoint: o.endpoint as BatchEndpoint, completionWindow: o.completion_window, metadata };
}

/** A file as the Files API answers it. */
export function fileObject(f: StoredFile): Record<string, unknown> {
  return { id: f.id, object: 'file', bytes: f.bytes, created_at: f.createdAt, filename: f.filename, purpose: f.purpose, status: 'processed', expires_at: null, status_details: null };
}

/** A batch as the Batch API answers it. */
export function batchObject(b: BatchRecord): Record<string, unknown> {
  return {
    id: b.id, object: 'batch', endpoint: b.endpoint, errors: b.errors ? { object: 'list', data: b.errors.data } : null, input_file_id: b.inputFileId,
    completion_window: b.completionWindow, status: b.status, output_file_id: b.outputFileId, error_file_id: b.errorFileId,
    created_at: b.createdAt, in_progress_at: b.inProgressAt, expires_at: b.expiresAt, finalizing_at: b.finalizingAt, completed_at: b.completedAt,
    failed_at: b.failedAt, expired_at: b.expiredAt, cancelling_at: b.cancellingAt, cancelled_at: b.cancelledAt,
    request_counts: b.requestCounts, metadata: b.metadata,
  };
}
