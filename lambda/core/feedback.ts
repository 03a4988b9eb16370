import { InvalidRequestError } from './errors';
import { parseJsonBody } from './json-body';

export interface FeedbackInput {
  readonly request_id: string;
  readonly score: number;
  readonly model: string | null;
  readonly prompt: string | null;
}

/** Largest feedback body: a prompt for training rows, not a document store. */
export const MAX_FEEDBACK_BYTES = 65_536;

/** Validates `POST /v1/feedback` bodies: `{request_id, score in [0, 1], model?, prompt?}`; 400 naming the field. */
export function parseFeedback(raw: string, byteLength: number): FeedbackInput {
  const body = parseJsonBody(raw, byteLength, MAX_FEEDBACK_BYTES);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('The body must be a JSON object.', null, 'invalid_type');
  const b = body as Record<string, unknown>;
  const known = new Set(['request_id', 'score', 'model', 'prompt']);
  const unknown = Object.keys(b).find((k) => !known.has(k));
  if (unknown) throw new InvalidRequestError(`Unrecognized request argument supplied: ${unknown}`, unknown, 'unknown_parameter');
  if (typeof b.request_id !== 'string' || !/^[\w.:-]{1,128}$/.test(b.request_id)) {
    throw new InvalidRequestError("'request_id' must be the x-request-id of an earlier answer (letters, digits, . _ : -).", 'request_id', 'invalid_value');
  }
  if (typeof b.score !== 'number' || !(b.score >= 0 && b.score <= 1)) {
    throw new InvalidRequestError("'score' must be a number in [0, 1] (1 good, 0 bad).", 'score', 'invalid_value');
  }
  for (const k of ['model', 'prompt'] as const) {
    if (b[k] !== undefined && b[k] !== null && (typeof b[k] !== 'string' || b[k] === '')) {
      throw new InvalidRequestError(`'${k}' must be a non-empty string when given.`, k, 'invalid_type');
    }
  }
  return { request_id: b.request_id, score: b.score, model: (b.model as string | undefined) ?? null, prompt: (b.prompt as string | undefined) ?? null };
}
