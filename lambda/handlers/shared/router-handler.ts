import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { InvalidRequestError, PermissionDeniedError, toErrorBody } from '../../core/errors';
import { writeChunk } from '../../adapters/backpressure';
import { HEALTH_BODY, matchRoute } from '../../core/routes';
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


/** Dispatches an event and maps a thrown error to its OpenAI-shaped response; never throws. */
async function resultOf(gateway: Gateway, event: APIGatewayProxyEvent, signal: AbortSignal): Promise<GatewayResult> {
  try {
    return await dispatch(gateway, event, signal);
  } catch (err) {
    const { status, body, retryAfterSeconds } = toErrorBody(err);
    const headers: Record<string, string> = {};
    if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
    return { kind: 'json', status, headers, body };
  }
}

function contentType(result: GatewayResult): string {
  return result.kind === 'stream' ? 'text/event-stream; charset=utf-8' : 'application/json';
}

/**
 * API Gateway REST (proxy event, response transfer mode STREAM) to the core. The tenant comes only from the
 * authorizer context (`tenant`), never from a client header.
 */
export function createRouterHandler(ready: Gateway | Promise<Gateway>, runtime: Pick<StreamingRuntime, 'HttpResponseStream'>) {
  return async (event: APIGatewayProxyEvent, responseStream: Writable): Promise<void> => {
    // Built once per execution environment; a start-up failure (bad artefact) fails every invocation loudly.
    const gateway = await ready;
    const abort = new AbortController();
    responseStream.once('close', () => abort.abort());
    const result = await resultOf(gateway, event, abort.signal);
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
export function createBufferedRouterHandler(ready: Gateway | Promise<Gateway>) {
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const gateway = await ready;
    const result = await resultOf(gateway, event, new AbortController().signal);
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
              : e.requestContext !== undefined && e.requestContext !== null && typeof e.requestContext !== 'object' ? 'requestContext is not an object'
                : null;
  if (problem) throw new InvalidRequestError(`Malformed API Gateway proxy event: ${problem}.`, null, 'malformed_event');
}

async function dispatch(gateway: Gateway, event: APIGatewayProxyEvent, signal: AbortSignal): Promise<GatewayResult> {
  checkEvent(event);
  const route = matchRoute(event.httpMethod, event.path);
  if (route === 'health') return { kind: 'json', status: 200, headers: {}, body: HEALTH_BODY };
  const tenantId = event.requestContext?.authorizer?.tenant;
  if (typeof tenantId !== 'string' || !tenantId) {
    throw new PermissionDeniedError('No tenant in the authorizer context: is the Lambda authorizer attached to this route?', null, 'no_tenant');
  }
  if (route === 'models') return gateway.models(tenantId);
  if (route === 'usage') return gateway.usage(tenantId);
  const raw = event.body ?? '';
  const body = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (route === 'feedback') return gateway.feedback(tenantId, body, Buffer.byteLength(body));
  const inv = {
    tenantId,
    feature: header(event, 'x-llm-feature'),
    cacheBypass: header(event, 'x-llm-cache')?.toLowerCase() === 'bypass',
    body,
    bodyBytes: Buffer.byteLength(body),
    requestId: event.requestContext?.requestId,
    signal,
  };
  return route === 'embeddings' ? gateway.embeddings(inv) : gateway.chat(inv);
}
