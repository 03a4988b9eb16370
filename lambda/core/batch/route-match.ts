import { GatewayError } from '../errors';
import type { HeaderReader } from '../formats/wire';
import type { GatewayResult } from '../pipeline/types';

/**
 * The Files, Batch and Message Batches paths, matched at the edge without loading their handlers: a gateway with no
 * batch lane (the Lambda router today) carries only this.
 */
export type BatchOp =
  | 'files.create' | 'files.list' | 'files.get' | 'files.content' | 'files.delete'
  | 'batches.create' | 'batches.list' | 'batches.get' | 'batches.cancel'
  | 'messageBatches.create' | 'messageBatches.list' | 'messageBatches.get' | 'messageBatches.cancel' | 'messageBatches.results';

export interface BatchRoute {
  readonly op: BatchOp;
  readonly id?: string;
  readonly query: URLSearchParams;
}

const BATCH_PREFIX = /^\/v1\/(?:files|batches|messages\/batches)(?:[/?]|$)/;

/** Path shapes of the Files and Batch APIs, and the operation per method. */
const SHAPES: readonly { readonly re: RegExp; readonly ops: Readonly<Record<string, BatchOp>> }[] = [
  { re: /^\/v1\/files$/, ops: { POST: 'files.create', GET: 'files.list' } },
  { re: /^\/v1\/files\/([^/]+)$/, ops: { GET: 'files.get', DELETE: 'files.delete' } },
  { re: /^\/v1\/files\/([^/]+)\/content$/, ops: { GET: 'files.content' } },
  { re: /^\/v1\/batches$/, ops: { POST: 'batches.create', GET: 'batches.list' } },
  { re: /^\/v1\/batches\/([^/]+)$/, ops: { GET: 'batches.get' } },
  { re: /^\/v1\/batches\/([^/]+)\/cancel$/, ops: { POST: 'batches.cancel' } },
  { re: /^\/v1\/messages\/batches$/, ops: { POST: 'messageBatches.create', GET: 'messageBatches.list' } },
  { re: /^\/v1\/messages\/batches\/([^/]+)$/, ops: { GET: 'messageBatches.get' } },
  { re: /^\/v1\/messages\/batches\/([^/]+)\/cancel$/, ops: { POST: 'messageBatches.cancel' } },
  { re: /^\/v1\/messages\/batches\/([^/]+)\/results$/, ops: { GET: 'messageBatches.results' } },
];

/** The Files or Batch API operation of a request line; undefined for any other path; 405 for a known path's wrong method. */
export function matchBatchRoute(method: string | undefined, rawPath: string): BatchRoute | undefined {
  // Every request passes here: one test turns the others away before the shapes are tried.
  if (!BATCH_PREFIX.test(rawPath)) return undefined;
  const [pathPart, queryPart] = rawPath.split('?', 2);
  const path = pathPart.replace(/\/+$/, '') || '/';
  for (const s of SHAPES) {
    const m = s.re.exec(path);
    if (!m) continue;
    const op = s.ops[method ?? ''];
    if (!op) throw new GatewayError(`Method ${method} is not allowed on ${path}; use ${Object.keys(s.ops).join(' or ')}.`, 405, 'invalid_request_error', 'method_not_allowed');
    return { op, id: m[1] === undefined ? undefined : decodeURIComponent(m[1]), query: new URLSearchParams(queryPart ?? '') };
  }
  return undefined;
}

export interface BatchCall {
  readonly tenantId: string;
  readonly apiKeyId?: string;
  readonly header: HeaderReader;
  readonly body: () => Promise<{ readonly text: string; readonly bytes: number }>;
}

/** What serves the matched operations (batchEdge over a BatchService); absent where no batch lane is wired. */
export interface BatchEdge {
  serve(route: BatchRoute, call: BatchCall): Promise<GatewayResult>;
}
