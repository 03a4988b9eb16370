import { InvalidRequestError, PayloadTooLargeError } from './errors';

/**
 * A request body as JSON: 413 past `maxBytes` (checked on the byte count, before parsing), 400 `invalid_json` when it
 * does not parse. What it holds is the caller's to check.
 */
export function parseJsonBody(raw: string, byteLength: number, maxBytes: number): unknown {
  if (byteLength > maxBytes) throw new PayloadTooLargeError(maxBytes, byteLength);
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new InvalidRequestError(`The request body is not valid JSON: ${(err as Error).message}`, null, 'invalid_json');
  }
}

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON value's type as error messages name it: null, array, object, string, number, boolean. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

