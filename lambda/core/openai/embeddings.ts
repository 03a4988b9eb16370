import { InvalidRequestError } from '../errors';
import { parseJsonBody } from '../json-body';
import { estimateTextTokens } from '../tokens';

/** OpenAI's own limit on inputs per embeddings request. */
export const MAX_EMBEDDING_INPUTS = 2048;

/** `POST /v1/embeddings` as the gateway accepts it (OpenAI's shape). */
export interface EmbeddingsRequest {
  readonly model: string;
  /** Texts, or pre-tokenised inputs (arrays of token ids) for servers that take them. */
  readonly input: readonly string[] | readonly (readonly number[])[];
  /** Whether the client sent one input (a string or one token array) rather than a list. */
  readonly single: boolean;
  readonly encodingFormat: 'float' | 'base64';
  readonly dimensions?: number;
  readonly user?: string;
}

const KNOWN = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

/** Parses and checks an embeddings body: every problem is a 400 naming the field, never a call upstream. */
export function parseEmbeddingsRequest(raw: string, byteLength: number, maxBodyBytes: number): EmbeddingsRequest {
  const body = parseJsonBody(raw, byteLength, maxBodyBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidRequestError('The request body must be a JSON object.', null);
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!KNOWN.has(k)) throw new InvalidRequestError(`Unrecognized request argument supplied: ${k}`, k, 'unknown_parameter');
  }
  if (typeof b.model !== 'string' || !b.model) throw new InvalidRequestError("'model' is required: the embedding model's id.", 'model', 'missing_required_parameter');
  const { input, single } = parseInput(b.input);
  let encodingFormat: 'float' | 'base64' = 'float';
  if (b.encoding_format !== undefined) {
    if (b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
      throw new InvalidRequestError(`'encoding_format' must be 'float' or 'base64', got ${JSON.stringify(b.encoding_format)}.`, 'encoding_format');
    }
    encodingFormat = b.encoding_format;
  }
  if (b.dimensions !== undefined && (typeof b.dimensions !== 'number' || !Number.isInteger(b.dimensions) || b.dimensions < 1 || b.dimensions > 65_536)) {
    throw new InvalidRequestError(`'dimensions' must be a positive integer, got ${JSON.stringify(b.dimensions)}.`, 'dimensions');
  }
  if (b.user !== undefined && (typeof b.user !== 'string' || b.user.length > 256)) throw new InvalidRequestError("'user' must be a string of at most 256 characters.", 'user');
  return {
    model: b.model, input, single, encodingFormat,
    ...(b.dimensions !== undefined ? { dimensions: b.dimensions as number } : {}),
    ...(b.user !== undefined ? { user: b.user as string } : {}),
  };
}

function parseInput(v: unknown): { input: string[] | number[][]; single: boolean } {
  const isTokens = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0);
  if (typeof v === 'string') {
    if (!v) throw new InvalidRequestError("'input' must not be an empty string.", 'input');
    return { input: [v], single: true };
  }
  if (!Array.isArray(v) || v.length === 0) {
    throw new InvalidRequestError("'input' must be a non-empty string, an array of strings, or an array of token arrays.", 'input', 'missing_required_parameter');
  }
  if (v.length > MAX_EMBEDDING_INPUTS) throw new InvalidRequestError(`'input' has ${v.length} items; at most ${MAX_EMBEDDING_INPUTS} per request.`, 'input');
  if (typeof v[0] === 'number') {
    if (!isTokens(v)) throw new InvalidRequestError("'input' as token ids must be non-negative integers.", 'input');
    return { input: [v], single: true };
  }
  if (typeof v[0] === 'string') {
    v.forEach((s, i) => {
      if (typeof s !== 'string' || !s) throw new InvalidRequestError(`'input[${i}]' must be a non-empty string.`, `input[${i}]`);
    });
    return { input: v as string[], single: false };
  }
  v.forEach((t, i) => {
    if (!isTokens(t)) throw new InvalidRequestError(`'input[${i}]' must be a non-empty array of token ids (non-negative integers).`, `input[${i}]`);
  });
  return { input: v as number[][], single: false };
}

/** Whether the inputs are token arrays rather than texts. */
export function tokenInputs(req: EmbeddingsRequest): req is EmbeddingsRequest & { input: readonly (readonly number[])[] } {
  return typeof req.input[0] !== 'string';
}

/** The input tokens the reservation prices: the token arrays' lengths, or the texts' estimate. */
export function estimateEmbeddingTokens(req: EmbeddingsRequest): number {
  return tokenInputs(req) ? req.input.reduce((n, t) => n + t.length, 0) : (req.input as readonly string[]).reduce((n, s) => n + estimateTextTokens(s), 0);
}

/** One vector in OpenAI's response shape: floats, or little-endian float32 bytes in base64 as the OpenAI API sends. */
export function encodeEmbedding(vector: readonly number[], format: 'float' | 'base64'): number[] | string {
  if (format === 'float') return vector as number[];
  // Float32Array holds the platform's byte order; every platform Node and Lambda run on is little-endian.
  const bytes = new Uint8Array(Float32Array.from(vector).buffer);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * Checks what an upstream sent back: one vector per input, every one an array of finite numbers of the same length
 * (the asked `dimensions` when given). A problem is a message for a ProviderError, never a vector passed on.
 */
export function embeddingsProblem(vectors: unknown, expected: number, dimensions: number | undefined): string | undefined {
  if (!Array.isArray(vectors)) return 'no list of embeddings';
  if (vectors.length !== expected) return `${vectors.length} embeddings for ${expected} inputs`;
  let size: number | undefined;
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i];
    if (!Array.isArray(v) || v.length === 0) return `embedding ${i} is not a non-empty array`;
    for (const x of v) if (typeof x !== 'number' || !Number.isFinite(x)) return `embedding ${i} holds a value that is not a finite number`;
    size ??= v.length;
    if (v.length !== size) return `embedding ${i} has ${v.length} dimensions, embedding 0 has ${size}`;
  }
  if (dimensions !== undefined && size !== dimensions) return `embeddings have ${size} dimensions, ${dimensions} were asked for`;
  return undefined;
}
