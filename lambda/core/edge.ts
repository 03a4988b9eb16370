import { PermissionDeniedError } from './errors';
import { shapeError } from './formats/error-shapes';
import type { Api, HeaderReader } from './formats/wire';
import type { Gateway, GatewayResult, JsonResult } from './pipeline';
import { apiOfPath, HEALTH_BODY, matchRoute } from './routes';
import { matchBatchRoute, type BatchEdge } from './batch/route-match';
import { NotFoundError } from './errors';

/** One HTTP request as the edge sees it, from node:http (llm-finops local) or an API Gateway proxy event (Lambda). */
export interface EdgeRequest {
  readonly method: string | undefined;
  /** Path with or without its query string. */
  readonly path: string;
  /** Lower-case header names. */
  readonly header: HeaderReader;
  /** The body, read only for routes that take one (a local server reads no body it would refuse anyway). */
  readonly body: () => Promise<{ readonly text: string; readonly bytes: number }>;
  /**
   * The tenant an authorizer already resolved (API Gateway's Lambda authorizer); undefined: the edge authenticates
   * the request's key itself (llm-finops local).
   */
  readonly tenantId?: string;
  /** The API key's id the authorizer resolved with the tenant (apiKeyIdOf); the edge's own authentication sets it otherwise. */
  readonly apiKeyId?: string;
  /** Whether `tenantId` must come from an authorizer (Lambda): a missing one is a wiring fault, answered 403. */
  readonly authorizerRequired?: boolean;
  readonly requestId?: string;
  readonly signal?: AbortSignal;
  /** See ChatInvocation.answerDeadline. */
  readonly answerDeadline?: AbortSignal;
}

/** A thrown error as the route's format shapes it (OpenAI's, or Anthropic's on the Messages routes). */
export function errorResult(err: unknown, api: Api): JsonResult {
  const { status, headers, body } = shapeError(err, api);
  return { kind: 'json', status, headers, body };
}

/**
 * The HTTP edge (ARCHITECTURE section 1): route table, authentication, and dispatch to the pipeline, for every
 * surface. Never throws: every failure becomes the route format's error.
 */
export async function serveEdge(gateway: Gateway, req: EdgeRequest, batches?: BatchEdge): Promise<GatewayResult> {
  try {
    return await dispatch(gateway, req, batches);
  } catch (err) {
    return errorResult(err, apiOfPath(req.path));
  }
}

async function dispatch(gateway: Gateway, req: EdgeRequest, batches: BatchEdge | undefined): Promise<GatewayResult> {
  const batchRoute = matchBatchRoute(req.method, req.path);
  const route = batchRoute ? 'batch' : matchRoute(req.method, req.path);
  if (route === 'health') return { kind: 'json', status: 200, headers: {}, body: HEALTH_BODY };
  let tenantId = req.tenantId;
  let apiKeyId = req.apiKeyId;
  if (!tenantId) {
    if (req.authorizerRequired) {
      throw new PermissionDeniedError('No tenant in the authorizer context: is the Lambda authorizer attached to this route?', null, 'no_tenant');
    }
    ({ tenant: tenantId, keyId: apiKeyId } = await gateway.identifyKey(req.header('authorization'), req.header('x-api-key')));
  }
  if (batchRoute) {
    if (!batches) {
      throw new NotFoundError('The batch API is not enabled on this gateway (llm-finops local serves it; on AWS it comes with the BatchLane construct).', null, 'batch_api_disabled');
    }
    return batches.serve(batchRoute, { tenantId, apiKeyId, header: req.header, body: req.body });
  }
  if (route === 'models') return gateway.models(tenantId);
  if (route === 'usage') return gateway.usage(tenantId);
  const body = await req.body();
  if (route === 'feedback') return gateway.feedback(tenantId, body.text, body.bytes);
  const inv = {
    tenantId,
    apiKeyId,
    feature: req.header('x-llm-feature'),
    cacheBypass: req.header('x-llm-cache')?.toLowerCase() === 'bypass',
    body: body.text,
    bodyBytes: body.bytes,
    requestId: req.requestId,
    signal: req.signal,
    answerDeadline: req.answerDeadline,
    header: req.header,
  };
  switch (route) {
    case 'embeddings': return gateway.embeddings(inv);
    case 'messages': return gateway.messages(inv);
    case 'count_tokens': return gateway.countTokens(inv);
    case 'responses': return gateway.responses(inv);
    default: return gateway.chat(inv);
  }
}
