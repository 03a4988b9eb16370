/**
 * Each wire format's error shape, for errors raised before or outside a codec (authentication, an unknown route):
 * small and always loaded; the codecs themselves are lazy chunks of the router bundle.
 */
import { toErrorBody } from '../errors';
import type { Api, ErrorShape } from './wire';

/** Anthropic's error type for an HTTP status (https://docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400: case 405: case 422: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 402: return 'billing_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 503: case 529: return 'overloaded_error';
    case 504: return 'timeout_error';
    default: return 'api_error';
  }
}


/** A gateway error as `api` shapes it: Anthropic's `{type: "error", error: {type, message}}`, else OpenAI's. */
export function errorShape(api: Api, status: number, type: string, code: string, message: string, param: string | null): ErrorShape {
  if (api !== 'messages') return { status, body: { error: { message, type, code, param } } };
  // Anthropic's clients retry 529 (overloaded) with backoff; the gateway's 503 (every upstream busy) is that case.
  const s = status === 503 ? 529 : status;
  return { status: s, body: { type: 'error', error: { type: anthropicErrorType(s), message } } };
}

/** A thrown error as the gateway answers it in `api`'s shape: status, body and retry-after, plus what the record needs. */
export interface ShapedError extends ErrorShape {
  readonly headers: Record<string, string>;
  /** The gateway's own status (a 503 the Messages shape sends as 529 is recorded as 503) and error type. */
  readonly gatewayStatus: number;
  readonly type: string;
}

export function shapeError(err: unknown, api: Api | 'embeddings'): ShapedError {
  const { status, body, retryAfterSeconds } = toErrorBody(err);
  const e = body.error;
  const shaped = errorShape(api === 'embeddings' ? 'chat' : api, status, e.type, e.code, e.message, e.param);
  return {
    status: shaped.status,
    body: shaped.body,
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
    gatewayStatus: status,
    type: e.type,
  };
}
