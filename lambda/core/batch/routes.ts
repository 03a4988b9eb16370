import { GatewayError, InvalidRequestError, NotFoundError } from '../errors';
import type { HeaderReader } from '../formats/wire';
import type { GatewayResult, JsonResult } from '../pipeline/types';
import type { BatchService } from './service';
import { createMessageBatch, listMessageBatches, messageBatchObject, messageBatchResults } from './message-batches';

export type BatchOp =
  | 'files.create' | 'files.list' | 'files.get' | 'files.content' | 'files.delete'
  | 'batches.create' | 'batches.list' | 'batches.get' | 'batches.cancel'
  | 'messageBatches.create' | 'messageBatches.list' | 'messageBatches.get' | 'messageBatches.cancel' | 'messageBatches.results';

export interface BatchRoute {
  readonly op: BatchOp;
  readonly id?: string;
  readonly query: URLSearchParams;
}

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

const json = (body: unknown): JsonResult => ({ kind: 'json', status: 200, headers: {}, body });

/** A JSONL file as it is: one chunk through the streaming path, so it is not sent as a JSON string. */
function textFile(text: string): GatewayResult {
  return { kind: 'stream', status: 200, headers: { 'content-type': 'application/jsonl', 'cache-control': 'no-store' }, body: (async function* () { yield text; })() };
}

/** Serves one Files or Batch API operation for the authenticated tenant. */
export async function serveBatchRoute(batches: BatchService | undefined, route: BatchRoute, call: BatchCall): Promise<GatewayResult> {
  if (!batches) {
    throw new NotFoundError('The batch API is not enabled on this gateway (llm-finops local serves it; on AWS it comes with the BatchLane construct).', null, 'batch_api_disabled');
  }
  const t = call.tenantId;
  const id = route.id ?? '';
  switch (route.op) {
    case 'files.create': return json(await batches.uploadFile(t, await readUpload(call)));
    case 'files.list': return json(await batches.listFiles(t, route.query.get('purpose') ?? undefined));
    case 'files.get': return json(await batches.getFile(t, id));
    case 'files.delete': return json(await batches.deleteFile(t, id));
    case 'files.content': return textFile(await batches.fileContent(t, id));
    case 'batches.create': return json(await batches.createBatch({ tenantId: t, apiKeyId: call.apiKeyId, feature: call.header('x-llm-feature') }, (await call.body()).text));
    case 'batches.list': return json(await batches.listBatches(t, { after: route.query.get('after') ?? undefined, limit: route.query.get('limit') ?? undefined }));
    case 'batches.get': return json(await batches.getBatch(t, id));
    case 'batches.cancel': return json(await batches.cancelBatch(t, id));
    case 'messageBatches.create': return json(await createMessageBatch(batches, { tenantId: t, apiKeyId: call.apiKeyId, feature: call.header('x-llm-feature') }, (await call.body()).text));
    case 'messageBatches.list': return json(await listMessageBatches(batches, t, route.query));
    case 'messageBatches.get': return json(await messageBatchObject(batches, t, (await batches.getBatch(t, id)) as never));
    case 'messageBatches.cancel': return json(await messageBatchObject(batches, t, (await batches.cancelBatch(t, id)) as never));
    case 'messageBatches.results': return textFile(await messageBatchResults(batches, t, (await batches.getBatch(t, id)) as never));
  }
}

/** The multipart/form-data upload of `POST /v1/files`: its `purpose` field and its `file` part. */
async function readUpload(call: BatchCall): Promise<{ purpose: string | undefined; filename: string; content: string }> {
  const type = call.header('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    throw new InvalidRequestError(`Upload the file as multipart/form-data with fields 'file' and 'purpose' (got content-type ${JSON.stringify(type || null)}).`, 'file', 'invalid_content_type');
  }
  const { text, bytes } = await call.body();
  if (!text && bytes > 0) throw new GatewayError(`The upload is ${bytes} bytes, over what this gateway reads.`, 413, 'invalid_request_error', 'file_too_large', 'file');
  let form: FormData;
  try {
    form = await new Response(text, { headers: { 'content-type': type } }).formData();
  } catch {
    throw new InvalidRequestError('The multipart body could not be read (its boundary or parts are malformed).', 'file', 'invalid_multipart');
  }
  const file = form.get('file');
  if (!file || typeof file === 'string') throw new InvalidRequestError("The upload has no 'file' part.", 'file', 'missing_file');
  const purpose = form.get('purpose');
  return { purpose: typeof purpose === 'string' ? purpose : undefined, filename: file.name || 'upload.jsonl', content: await file.text() };
}
