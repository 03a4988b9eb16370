import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { AUTHORIZER_TENANT_KEY } from '../../contract';
import { sha256 } from '../../adapters/system-runtime';
import { apiKeyIdOf, presentedKey } from '../../core/api-key';
import { AnswerDeadlineError, InvalidRequestError } from '../../core/errors';
import { writeChunk } from '../../adapters/backpressure';
import { errorResult, serveEdge } from '../../core/edge';
import type { BatchEdge } from '../../core/batch/route-match';
import type { Gateway, GatewayResult } from '../../core/pipeline';

/** The response-streaming globals of the Lambda Node.js runtime. */
export interface StreamingRuntime {
  streamifyResponse(fn: (event: APIGatewayProxyEvent, stream: Writable, context: unknown) => Promise<void>): unknown;
  HttpResponseStream: { from(stream: Writable, meta: { statusCode: number; headers: Record<string, string> }): Writable };
}

function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name && v !== undefined) return v;
  return undefined;
}


/**
 * The path with its query string, as a local server sees the request line: API Gateway hands the query over apart
 * (`?after=...&limit=...` of the batch lists), repeated keys in the multi-value map.
 */
function pathWithQuery(event: APIGatewayProxyEvent): string {
  const q = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters;
  if (multi) for (const [k, vs] of Object.entries(multi)) for (const v of vs ?? []) q.append(k, v);
  else for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) q.append(k, v);
  const query = q.toString();
  return query ? `${event.path}?${query}` : event.path;
}

/** The id (apiKeyIdOf) of the key the request presents, as the authorizer read it; undefined without one. */
function keyIdOf(authorization: string | undefined, xApiKey: string | undefined): string | undefined {
  const presented = presentedKey(authorization, xApiKey);
  return 'key' in presented ? apiKeyIdOf(sha256(presented.key)) : undefined;
}

/** Dispatches an event through the HTTP edge; never throws. */
async function resultOf(gateway: Gateway, event: APIGatewayProxyEvent, signal: AbortSignal, answerDeadline?: AbortSignal, batches?: BatchEdge): Promise<GatewayResult> {
  try {
    checkEvent(event);
  } catch (err) {
    return errorResult(err, 'chat');
  }
  const tenant = event.requestContext?.authorizer?.[AUTHORIZER_TENANT_KEY];
  return serveEdge(gateway, {
    method: event.httpMethod,
    path: pathWithQuery(event),
    header: (name) => header(event, name),
    body: async () => {
      const raw = event.body ?? '';
      const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
      return { text, bytes: Buffer.byteLength(text) };
    },
    tenantId: typeof tenant === 'string' && tenant ? tenant : undefined,
    // The key the authorizer accepted for this tenant, as an id for policies per API key (never the key itself).
    apiKeyId: keyIdOf(header(event, 'authorization'), header(event, 'x-api-key')),
    authorizerRequired: true,
    requestId: event.requestContext?.requestId,
    signal,
    answerDeadline,
  }, batches);
}

function contentType(result: GatewayResult): string {
  return result.kind === 'stream' ? 'text/event-stream; charset=utf-8' : 'application/json';
}

/** When a non-streamed answer is given up: API Gateway's 300 s idle timeout less the time to write the 504. */
export const NON_STREAMED_DEADLINE_MS = 285_000;

/**
 * API Gateway REST (proxy event, response transfer mode STREAM) to the core. The tenant comes only from the
 * authorizer context (`tenant`), never from a client header.
 */
export function createRouterHandler(ready: Gateway | Promise<Gateway>, runtime: Pick<StreamingRuntime, 'HttpResponseStream'>, opts: { nonStreamedDeadlineMs?: number; batches?: BatchEdge } = {}) {
  const deadlineMs = opts.nonStreamedDeadlineMs ?? NON_STREAMED_DEADLINE_MS;
  return async (event: APIGatewayProxyEvent, responseStream: Writable): Promise<void> => {
    // Built once per execution environment; a start-up failure (bad artefact) fails every invocation loudly.
    const gateway = await ready;
    const abort = new AbortController();
    responseStream.once('close', () => abort.abort());
    // API Gateway closes a streamed integration that sends nothing for 5 minutes (Regional endpoint, "Stream the
    // integration response", read 2026-12-06), and a non-streamed answer sends nothing until it is complete: it is
    // given up first, with a 504 that says to stream, its reservation settled, rather than cut with nothing recorded.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new AnswerDeadlineError(Math.round(deadlineMs / 1000))), deadlineMs);
    let result: GatewayResult;
    try {
      result = await resultOf(gateway, event, abort.signal, deadline.signal, opts.batches);
    } finally {
      clearTimeout(timer);
    }
    const out = runtime.HttpResponseStream.from(responseStream, {
      statusCode: result.status,
      headers: { 'content-type': contentType(result), ...result.headers },
    });
    if (result.kind === 'json') {
      await writeChunk(out, JSON.stringify(result.body));
    } else {
      for await (const frame of result.body) {
        // A client gone under back-pressure ends the loop (and so settles the request as a disconnect).
        if (abort.signal.aborted || !(await writeChunk(out, frame))) {
          abort.abort();
          break;
        }
      }
    }
    if (!out.destroyed) out.end();
    await gateway.flush();
  };
}

/**
 * The same for a BUFFERED (classic proxy) integration: a stream is collected into one SSE body, so clients that ask
 * for `stream: true` still get valid frames, only all at once.
 */
export function createBufferedRouterHandler(ready: Gateway | Promise<Gateway>, opts: { batches?: BatchEdge } = {}) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const gateway = await ready;
    const result = await resultOf(gateway, event, new AbortController().signal, undefined, opts.batches);
    let body: string;
    if (result.kind === 'json') body = JSON.stringify(result.body);
    else {
      body = '';
      for await (const frame of result.body) body += frame;
    }
    await gateway.flush();
    return { statusCode: result.status, headers: { 'content-type': contentType(result), ...result.headers }, body };
  };
}

/** A proxy event the handler can read: API Gateway always sends these shapes; anything else is refused with 400. */
function checkEvent(event: unknown): asserts event is APIGatewayProxyEvent {
  const e = event as Partial<Record<keyof APIGatewayProxyEvent, unknown>> | null;
  const problem =
    typeof e !== 'object' || e === null ? 'the event is not an object'
      : typeof e.httpMethod !== 'string' ? 'httpMethod is missing'
        : typeof e.path !== 'string' ? 'path is missing'
          : e.headers !== undefined && e.headers !== null && (typeof e.headers !== 'object' || Array.isArray(e.headers)) ? 'headers is not an object'
            : e.body !== undefined && e.body !== null && typeof e.body !== 'string' ? 'body is not a string'
              : [e.queryStringParameters, e.multiValueQueryStringParameters].some((q) => q !== undefined && q !== null && (typeof q !== 'object' || Array.isArray(q))) ? 'the query string parameters are not an object'
              : e.requestContext !== undefined && e.requestContext !== null && typeof e.requestContext !== 'object' ? 'requestContext is not an object'
                : null;
  if (problem) throw new InvalidRequestError(`Malformed API Gateway proxy event: ${problem}.`, null, 'malformed_event');
}
