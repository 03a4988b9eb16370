/**
 * Each wire format's error shape, for errors raised before or outside a codec (authentication, an unknown route):
 * small and always loaded; the codecs themselves are lazy chunks of the router bundle.
 */
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
