import { GatewayError } from '../errors';
import { utf8Length } from '../tokens';

/**
 * The endpoints a batch may target, as the OpenAI Batch API names them (`endpoint` of POST /v1/batches, `url` of each
 * input line), plus Messages for Anthropic clients.
 */
export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/messages'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

/**
 * Limits of one input file. OpenAI's Batch API takes up to 50,000 requests and 200 MB per file (its API reference,
 * BatchRequest.input_file_id, read 2026-12-06); a line is one request, held to the live path's body limit.
 */
export interface BatchInputLimits {
  readonly maxLines: number;
  readonly maxFileBytes: number;
  readonly maxLineBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchInputLimits = { maxLines: 50_000, maxFileBytes: 200 * 1024 * 1024, maxLineBytes: 1024 * 1024 };

/** One problem of an input file, in the OpenAI Batch API's `errors.data` shape (`line` 1-based, null for the file). */
export interface BatchLineError {
  readonly code: string;
  readonly line: number | null;
  readonly message: string;
  readonly param: string | null;
}

/** One accepted request of the file. */
export interface BatchInputLine {
  readonly line: number;
  readonly customId: string;
  /** The request body as the line has it (JSON text), to be checked and served like a live request. */
  readonly body: string;
  readonly bodyBytes: number;
  /** `body.model`: what the line asks for. */
  readonly model: string;
}

export type BatchInput =
  | { readonly ok: true; readonly lines: readonly BatchInputLine[] }
  | { readonly ok: false; readonly errors: readonly BatchLineError[]; readonly more: number };

/** Errors reported per file; past this many the rest are counted in `more`. */
const MAX_REPORTED = 100;
const CUSTOM_ID = /^[\x20-\x7e]{1,512}$/;

/**
 * Checks a batch input file line by line. A file with any bad line is refused as a whole, every bad line reported
 * (up to 100, then a count): accepting the good lines would run, reserve and bill a batch other than the one the
 * client wrote, and its results would be missing lines the client then has to find. This is OpenAI's rule too (a
 * batch whose file fails validation ends `failed` with `errors`). `validateBody` is the live path's own check of a
 * request body for the endpoint (throws a GatewayError naming the param).
 */
export function parseBatchInput(
  text: string,
  fileBytes: number,
  endpoint: BatchEndpoint,
  limits: BatchInputLimits,
  validateBody: (raw: string, bytes: number) => void,
): BatchInput {
  const errors: BatchLineError[] = [];
  let more = 0;
  const fail = (e: BatchLineError): void => {
    if (errors.length < MAX_REPORTED) errors.push(e);
    else more++;
  };
  if (fileBytes > limits.maxFileBytes) {
    return { ok: false, errors: [{ code: 'file_too_large', line: null, message: `The input file is ${fileBytes} bytes; a batch takes at most ${limits.maxFileBytes}.`, param: 'input_file_id' }], more: 0 };
  }
  if (!text.trim()) {
    return { ok: false, errors: [{ code: 'empty_file', line: null, message: 'The input file has no requests.', param: 'input_file_id' }], more: 0 };
  }
  const raw = text.split('\n');
  // One final newline ends the last line; it is not a blank line of its own.
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  const lines: BatchInputLine[] = [];
  const seen = new Map<string, number>();
  raw.forEach((source, i) => {
    const line = i + 1;
    const textLine = source.endsWith('\r') ? source.slice(0, -1) : source;
    if (!textLine.trim()) {
      fail({ code: 'empty_line', line, message: `Line ${line} is blank: every line of a batch file is one request.`, param: null });
      return;
    }
    const bytes = utf8Length(textLine);
    if (bytes > limits.maxLineBytes) {
      fail({ code: 'line_too_large', line, message: `Line ${line} is ${bytes} bytes; a request takes at most ${limits.maxLineBytes}.`, param: null });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(textLine);
    } catch {
      fail({ code: 'invalid_json_line', line, message: `Line ${line} is not JSON.`, param: null });
      return;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      fail({ code: 'invalid_request', line, message: `Line ${line} is not a JSON object {custom_id, method, url, body}.`, param: null });
      return;
    }
    const v = value as Record<string, unknown>;
    const customId = v.custom_id;
    if (typeof customId !== 'string' || !CUSTOM_ID.test(customId)) {
      fail({ code: 'invalid_custom_id', line, message: `Line ${line}: custom_id must be a string of 1 to 512 printable ASCII characters.`, param: 'custom_id' });
      return;
    }
    const first = seen.get(customId);
    if (first !== undefined) {
      fail({ code: 'duplicate_custom_id', line, message: `Line ${line}: custom_id '${customId}' is also on line ${first}; each must be unique in the file.`, param: 'custom_id' });
      return;
    }
    seen.set(customId, line);
    if (v.method !== 'POST') {
      fail({ code: 'invalid_method', line, message: `Line ${line}: method must be POST, got ${JSON.stringify(v.method ?? null)}.`, param: 'method' });
      return;
    }
    if (v.url !== endpoint) {
      fail({ code: 'mismatched_url', line, message: `Line ${line}: url ${JSON.stringify(v.url ?? null)} is not the batch's endpoint ${endpoint}.`, param: 'url' });
      return;
    }
    const body = v.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      fail({ code: 'invalid_body', line, message: `Line ${line}: body must be a JSON object (the request).`, param: 'body' });
      return;
    }
    const b = body as Record<string, unknown>;
    if (typeof b.model !== 'string' || !b.model.trim()) {
      fail({ code: 'missing_model', line, message: `Line ${line}: body.model is required.`, param: 'body.model' });
      return;
    }
    if (b.stream === true) {
      fail({ code: 'invalid_body', line, message: `Line ${line}: a batch request cannot stream (body.stream is true).`, param: 'body.stream' });
      return;
    }
    const bodyText = JSON.stringify(body);
    const bodyBytes = utf8Length(bodyText);
    try {
      validateBody(bodyText, bodyBytes);
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      fail({ code: err.code, line, message: `Line ${line}: ${err.message}`, param: err.param ? `body.${err.param}` : 'body' });
      return;
    }
    lines.push({ line, customId, body: bodyText, bodyBytes, model: b.model });
  });
  if (raw.length > limits.maxLines) {
    errors.unshift({ code: 'too_many_requests', line: null, message: `The input file has ${raw.length} requests; a batch takes at most ${limits.maxLines}.`, param: 'input_file_id' });
  }
  return errors.length ? { ok: false, errors, more } : { ok: true, lines };
}
