/**
 * Runtime errors. Every error a client can see is a GatewayError with an HTTP status, an OpenAI-style
 * `type` and a stable `code`. Handlers turn them into `{"error":{"message","type","code","param"}}`.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'insufficient_quota'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

/** Marks every GatewayError, whichever copy of this module made it (see GatewayError[Symbol.hasInstance]). */
const GATEWAY_ERROR = Symbol.for('cdk-llm-finops.GatewayError');

export class GatewayError extends Error {
  /**
   * `err instanceof GatewayError` holds for an error made by a second copy of this module: a lazy chunk of the router
   * bundle (the Messages and Responses codecs) carries its own copy, whose errors the entry must still recognise.
   * Subclasses keep the ordinary check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== GatewayError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [GATEWAY_ERROR]?: unknown })[GATEWAY_ERROR] === true;
  }

  constructor(
    message: string,
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    readonly param: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
    Object.defineProperty(this, GATEWAY_ERROR, { value: true });
  }
}

export class InvalidRequestError extends GatewayError {
  constructor(message: string, param: string | null = null, code = 'invalid_value') {
    super(message, 400, 'invalid_request_error', code, param);
  }
}

export class PayloadTooLargeError extends GatewayError {
  constructor(limitBytes: number, actualBytes: number) {
    super(
      `Request body is ${actualBytes} bytes; the limit is ${limitBytes} bytes.`,
      413,
      'invalid_request_error',
      'payload_too_large',
    );
  }
}

export class AuthenticationError extends GatewayError {
  constructor(message: string, code = 'invalid_api_key') {
    super(message, 401, 'authentication_error', code);
  }
}

export class PermissionDeniedError extends GatewayError {
  constructor(message: string, param: string | null = null, code = 'model_not_allowed') {
    super(message, 403, 'permission_error', code, param);
  }
}

export class NotFoundError extends GatewayError {
  constructor(message: string, param: string | null = null, code = 'model_not_found') {
    super(message, 404, 'not_found_error', code, param);
  }
}

export class QuotaExceededError extends GatewayError {
  constructor(
    message: string,
    /** Seconds until the exhausted window resets; sent as Retry-After. Undefined: it never resets (a `total` window). */
    readonly retryAfterSeconds: number | undefined,
    code = 'quota_exceeded',
  ) {
    super(message, 429, 'insufficient_quota', code);
  }
}

/** All models of the chain failed; carries the last upstream failure. */
export class UpstreamError extends GatewayError {
  constructor(message: string, code = 'upstream_failed', options?: { cause?: unknown }) {
    super(message, 502, 'upstream_error', code, null, options);
  }
}

/**
 * Every model is rate-limited and the upstream asked for more time than the gateway waits in a request
 * (routing.retry.maxDelayMs): 503 with the upstream's Retry-After, so the client's SDK backs off as long as asked.
 */
export class UpstreamBusyError extends GatewayError {
  constructor(message: string, readonly retryAfterSeconds: number, options?: { cause?: unknown }) {
    super(message, 503, 'upstream_error', 'upstream_throttled', null, options);
  }
}

export class UpstreamTimeoutError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 504, 'timeout_error', 'upstream_timeout', null, options);
  }
}

/**
 * A non-streamed answer the gateway gave up before the HTTP front would cut it: API Gateway closes a streamed
 * integration that sends nothing for 5 minutes, and a non-streamed answer sends nothing until it is complete.
 */
export class AnswerDeadlineError extends GatewayError {
  constructor(seconds: number) {
    super(`No answer within ${seconds} s: a non-streamed request writes nothing until its answer is complete, and API Gateway closes a response idle for 5 minutes. Send stream: true for answers this long.`, 504, 'timeout_error', 'answer_deadline');
  }
}

export interface OpenAiErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly code: string; readonly param: string | null };
}

/** The OpenAI-shaped body for any thrown value; unknown errors are reported as 500 without internals. */
export function toErrorBody(err: unknown): { status: number; body: OpenAiErrorBody; retryAfterSeconds?: number } {
  if (err instanceof GatewayError) {
    return {
      status: err.status,
      body: { error: { message: err.message, type: err.type, code: err.code, param: err.param } },
      retryAfterSeconds: err instanceof QuotaExceededError || err instanceof UpstreamBusyError ? err.retryAfterSeconds : undefined,
    };
  }
  return {
    status: 500,
    body: { error: { message: 'Internal gateway error.', type: 'server_error', code: 'internal_error', param: null } },
  };
}
