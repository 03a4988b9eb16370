import { writeChunk } from '../adapters/backpressure';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorResult, serveEdge } from '../core/edge';
import { apiOfPath } from '../core/routes';
import type { Gateway, GatewayResult, JsonResult } from '../core/pipeline';
import type { BatchService } from '../core/batch/service';
import { batchEdge } from '../core/batch/routes';
import { DEFAULT_BATCH_LIMITS } from '../core/batch/input';

/**
 * Reads a body up to `limit` bytes. Past it, stops buffering and returns no text with the size seen, so the core
 * answers 413 (and records the request) without holding the oversize body in memory.
 */
function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; bytes: number }> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.resolve({ text: '', bytes: declared });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    // Keep draining past the limit (cutting the read short would drop the socket before we answer), but stop buffering.
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= limit) chunks.push(chunk);
    });
    req.once('end', () => resolve(bytes > limit ? { text: '', bytes } : { text: Buffer.concat(chunks, bytes).toString('utf8'), bytes }));
    req.once('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sendJson(res: ServerResponse, r: JsonResult): void {
  const body = JSON.stringify(r.body);
  res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...r.headers });
  res.end(body);
}

async function send(res: ServerResponse, r: GatewayResult, abort: AbortController): Promise<void> {
  if (r.kind === 'json') return sendJson(res, r);
  res.writeHead(r.status, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...r.headers });
  const it = r.body[Symbol.asyncIterator]();
  let done = false;
  try {
    while (!abort.signal.aborted) {
      const next = await it.next();
      if (next.done) {
        done = true;
        break;
      }
      if (!(await writeChunk(res, next.value))) break;
    }
  } finally {
    if (!done) await it.return?.(undefined);
    res.end();
  }
}

/**
 * The local gateway: the same core and HTTP edge as the Lambda behind node:http (routes in core/routes.ts). The
 * tenant comes from the request's key only (`Authorization: Bearer` or `x-api-key`). With `batches`, the Files and
 * Batch APIs too (an upload may be as large as a batch input file, plus its multipart framing).
 */
export function createGatewayServer(gateway: Gateway, opts: { readonly batches?: BatchService } = {}): Server {
  const requestBody = gateway.config.raw.server.maxBodyBytes;
  const uploadBody = DEFAULT_BATCH_LIMITS.maxFileBytes + 64 * 1024;
  const batches = opts.batches ? batchEdge(opts.batches) : undefined;
  return createServer((req, res) => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const maxBody = opts.batches && req.method === 'POST' && (req.url ?? '').split('?')[0].replace(/\/+$/, '') === '/v1/files' ? uploadBody : requestBody;
    const handle = async (): Promise<void> => {
      const result = await serveEdge(gateway, {
        method: req.method,
        path: req.url ?? '/',
        header: (name) => header(req, name),
        body: async () => {
          const body = await readBody(req, maxBody);
          if (body.bytes > maxBody) res.setHeader('connection', 'close');
          return body;
        },
        signal: abort.signal,
      }, batches);
      await send(res, result, abort);
    };
    handle().catch((err) => {
      if (res.headersSent) res.end();
      else sendJson(res, errorResult(err, apiOfPath(req.url ?? '/')));
    });
  });
}
