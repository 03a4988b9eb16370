import type { NativeAnswer } from '../core/formats/wire';
import type { ChatCompletion } from '../core/openai/types';
import { ProviderError, type ProviderResponse } from '../core/ports';
import type { UsageReading } from '../core/pricing/prices';
import { BodyTooLargeError, readText, releaseAfterDone, type HttpResponse } from './http-client';
import { kindForStatus, openWithTimeout, parseRetryAfter } from './http-errors';
import { readSseEvents, type SseEvent } from './sse-reader';
import { boundedStream, type AnswerLimits } from './stream-limits';

/**
 * An upstream's non-2xx answer as a ProviderError: its own error message (OpenAI's and Anthropic's bodies both put it
 * at error.message), the kind the fallback policy needs (Anthropic's 529 overloaded is throttling) and Retry-After.
 */
export async function upstreamFailure(provider: string, res: HttpResponse): Promise<ProviderError> {
  const text = await readText(res, 64 * 1024).catch(() => '');
  let message = text.slice(0, 500);
  try {
    message = JSON.parse(text)?.error?.message ?? message;
  } catch {
    // Not JSON: keep the raw text.
  }
  const retryAfter = res.headers['retry-after'];
  return new ProviderError(
    `${provider} answered ${res.status}: ${message}`,
    res.status === 529 ? 'throttled' : kindForStatus(res.status),
    res.status,
    parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
  );
}

/** A JSON answer within the size limit; a body that is too large or not JSON is a server error. */
export async function readJsonAnswer<T>(provider: string, res: HttpResponse, maxBytes: number): Promise<T> {
  let text: string;
  try {
    text = await readText(res, maxBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new ProviderError(`${provider} answer is larger than ${err.maxBytes} bytes`, 'server', res.status);
    // A body cut by the attempt's timer is a timeout (withTimeout says so); anything else a broken connection.
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ProviderError(`${provider} returned a body that is not JSON`, 'server', res.status);
  }
}

/**
 * A native JSON answer (an Anthropic Message, a Responses object) as a provider response: its chat view (for
 * estimates and the cache), its checked usage, and, when the client speaks the same format, the body as it came.
 * An answer the view cannot read is a server error.
 */
export function nativeResponse(
  what: string, status: number, body: Record<string, unknown>, api: NativeAnswer['api'], forward: boolean,
  read: { readonly view: (body: unknown) => ChatCompletion; readonly usage: (u: unknown) => UsageReading },
): ProviderResponse {
  let completion: ChatCompletion;
  try {
    completion = read.view(body);
  } catch (err) {
    throw new ProviderError(`${what} returned an answer that is not a ${api === 'messages' ? 'Message' : 'response'}: ${(err as Error).message}`, 'server', status);
  }
  const reading = read.usage(body.usage);
  return {
    completion,
    usage: reading.usage,
    usageProblem: reading.problem,
    ...(forward ? { native: { api, body } } : {}),
    ...(typeof body.service_tier === 'string' ? { serviceTier: body.service_tier } : {}),
  };
}

/** An open upstream event stream: its events within the answer limits, and how it ends. */
export interface OpenEventStream {
  /**
   * The server-sent events, bounded: the idle and total limits count events, not bytes, so an upstream dripping a
   * byte at a time cannot hold the stream open past the idle limit; past a limit the connection is cut.
   */
  readonly events: AsyncIterable<SseEvent>;
  /** The stream reached its last event: its connection may finish in the background and go back to the pool. */
  done(): void;
  /** Call when the reader stops: a finished stream releases its socket, one left early (client gone, error) is cut. */
  release(): void;
}

/**
 * POSTs a stream request (`post`, under the attempt's timeout until the response starts) and opens its event
 * stream. A 200 that is not an event stream (an HTML error page from a proxy, a JSON body) fails before any byte
 * reaches the client, so the next model can answer.
 */
export async function openEventStream(
  what: string, provider: string, timeoutMs: number, signal: AbortSignal, limits: AnswerLimits, post: (signal: AbortSignal) => Promise<HttpResponse>,
): Promise<OpenEventStream> {
  const { value: res, close, detach } = await openWithTimeout(what, timeoutMs, signal, async (s) => {
    const r = await post(s);
    const type = String(r.headers['content-type'] ?? '');
    if (type && !/^text\/event-stream\b/i.test(type)) {
      const snippet = (await readText(r, 4096).catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
      throw new ProviderError(`${provider} answered a stream request with ${type.split(';')[0]}: ${snippet}`, 'server', r.status);
    }
    return r;
  });
  let finished = false;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    if (finished || res.body.readableEnded) releaseAfterDone(res.body, close, detach, limits.idleMs);
    else close();
  };
  // Not destroyed when the reader stops at its last event: release() decides.
  const bytes = res.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  return {
    events: boundedStream(readSseEvents(bytes), limits, what, release, (e) => e.data.length),
    done: () => (finished = true),
    release,
  };
}

/** The JSON objects of an event stream; a malformed event, or a stream with none, is a server error. */
export async function* jsonEvents(events: AsyncIterable<SseEvent>, what: string): AsyncGenerator<{ readonly event: string; readonly data: Record<string, unknown> }> {
  let count = 0;
  for await (const ev of events) {
    let data: unknown;
    try {
      data = JSON.parse(ev.data);
    } catch {
      throw new ProviderError(`${what} sent a malformed stream event`, 'server');
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new ProviderError(`${what} sent a malformed stream event`, 'server');
    count++;
    yield { event: ev.event, data: data as Record<string, unknown> };
  }
  if (count === 0) throw new ProviderError(`${what} answered 200 but sent no stream event`, 'server');
}
