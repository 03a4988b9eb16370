import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * A minimal keep-alive HTTP client for upstream calls. node:http with pooled sockets carries about twice the
 * requests per second of the built-in fetch on a small machine (see bench/), and the gateway sits on every request.
 */
const agents = {
  'http:': new HttpAgent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 }),
  'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 30_000 }),
};

const ignore = (): void => undefined;

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as a byte stream; read it fully or destroy it. */
  readonly body: IncomingMessage;
}

export function httpPost(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<HttpResponse> {
  const isHttps = url.protocol === 'https:';
  if (!isHttps && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported protocol ${url.protocol}`));
  if (signal.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  return new Promise((resolve, reject) => {
    const req = (isHttps ? httpsRequest : httpRequest)(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        agent: agents[url.protocol as 'http:' | 'https:'],
      },
      (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    // The signal is wired by hand, not through request({ signal }): that one also fires after the exchange has
    // finished and its socket went back to the pool, destroying a pooled socket nobody listens to (an unhandled
    // 'error' that ends the process). Here an abort only cuts an exchange still under way.
    const onAbort = (): void => {
      // The socket is destroyed with the error and never reused: the error is ours, already reported by the reader.
      req.socket?.on('error', ignore);
      req.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => signal.removeEventListener('abort', onAbort));
    // on, not once: a cut after the response began errors the request again; the promise has settled by then.
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * After a stream's last event ([DONE]): what is left of the response (the chunked terminator, normally already on
 * its way) is read in the background and `detach` called at its end, so the keep-alive socket goes back to the pool
 * rather than being cut, which cost every streamed request a new TCP connection. A response still open `graceMs`
 * later (an upstream that never ends it) or one that breaks is cut with `close`. The caller's events have ended
 * already: nothing here delays the client.
 */
export function releaseAfterDone(body: IncomingMessage, close: () => void, detach: () => void, graceMs: number): void {
  if (body.readableEnded) {
    detach();
    return;
  }
  const timer = setTimeout(() => {
    body.off('end', onEnd);
    close();
  }, graceMs);
  timer.unref();
  const onEnd = (): void => {
    clearTimeout(timer);
    detach();
  };
  body.once('end', onEnd);
  body.once('error', () => {
    clearTimeout(timer);
    close();
  });
  body.resume();
}

/** A body past the size limit: the read stops and the socket is dropped. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`body larger than ${maxBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * Reads a whole body, at most `maxBytes` of it; plain listeners, as stream async iterators cost noticeably more per
 * request. A body that ends early (the request was aborted, the connection dropped) rejects, never hangs.
 */
export function readText(res: HttpResponse, maxBytes = Infinity): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        res.body.destroy();
        reject(new BodyTooLargeError(maxBytes));
        return;
      }
      chunks.push(c);
    });
    res.body.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.body.once('error', reject);
    res.body.once('close', () => {
      if (!res.body.complete) reject(new Error('the connection closed before the body ended'));
    });
  });
}
