import { GatewayError, InvalidRequestError } from '../errors';
import type { GatewayResult, JsonResult } from '../pipeline/types';
import type { BatchCall, BatchEdge, BatchRoute } from './route-match';
import type { BatchService } from './service';
import { createMessageBatch, listMessageBatches, messageBatchObject, messageBatchResults } from './message-batches';

const json = (body: unknown): JsonResult => ({ kind: 'json', status: 200, headers: {}, body });

/** A JSONL file as it is: one chunk through the streaming path, so it is not sent as a JSON string. */
function textFile(text: string): GatewayResult {
  return { kind: 'stream', status: 200, headers: { 'content-type': 'application/jsonl', 'cache-control': 'no-store' }, body: (async function* () { yield text; })() };
}

/** The edge's batch handler over a batch service. */
export function batchEdge(batches: BatchService): BatchEdge {
  return { serve: (route, call) => serveBatchRoute(batches, route, call) };
}

/** Serves one Files, Batch or Message Batches operation for the authenticated tenant. */
async function serveBatchRoute(batches: BatchService, route: BatchRoute, call: BatchCall): Promise<GatewayResult> {
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
