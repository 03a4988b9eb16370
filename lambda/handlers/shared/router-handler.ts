import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { PermissionDeniedError, toErrorBody } from '../../core/errors';
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

async function write(stream: Writable, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await new Promise<void>((resolve) => stream.once('drain', resolve));
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
    responseStream.on('close', () => abort.abort());
    const result = await resultOf(gateway, event, abort.signal);
    const out = runtime.HttpResponseStream.from(responseStream, {
      statusCode: result.status,
      headers: { 'content-type': contentType(result), ...result.headers },
    });
    if (result.kind === 'json') {
      await write(out, JSON.stringify(result.body));
    } else {
      for await (const frame of result.body) {
        if (abort.signal.aborted) break;
        await write(out, frame);
      }
    }
    out.end();
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

async function dispatch(gateway: Gateway, event: APIGatewayProxyEvent, signal: AbortSignal): Promise<GatewayResult> {
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
  return gateway.chat({
    tenantId,
    feature: header(event, 'x-llm-feature'),
    cacheBypass: header(event, 'x-llm-cache')?.toLowerCase() === 'bypass',
    body,
    bodyBytes: Buffer.byteLength(body),
    requestId: event.requestContext?.requestId,
    signal,
  });
}
