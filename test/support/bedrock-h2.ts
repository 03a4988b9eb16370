import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';

/**
 * One message of the AWS event stream encoding (application/vnd.amazon.eventstream), as Bedrock's ConverseStream
 * sends it: prelude (total length, headers length, prelude CRC32), string headers (:event-type, :content-type,
 * :message-type), the JSON payload, and the message CRC32, all big-endian.
 */
export function eventStreamMessage(eventType: string, payload: unknown): Buffer {
  const headers = Buffer.concat(Object.entries({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }).map(([name, value]) => {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(7, 1 + n.length); // 7: string
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    return h;
  }));
  const body = Buffer.from(JSON.stringify(payload));
  const total = 12 + headers.length + body.length + 4;
  const prelude = Buffer.alloc(8);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headers.length, 4);
  const preludeCrc = Buffer.alloc(4);
  preludeCrc.writeUInt32BE(crc32(prelude), 0);
  const message = Buffer.concat([prelude, preludeCrc, headers, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(message), 0);
  return Buffer.concat([message, crc]);
}

/**
 * A loopback Bedrock runtime over cleartext HTTP/2 (the SDK's Bedrock client speaks HTTP/2): Converse answers
 * `text` in one message, ConverseStream in one delta per word, both with the usage given. Point the SDK at it with
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
 */
export class LoopbackBedrock {
  private server?: Http2Server;
  readonly requests: { path: string; body: string }[] = [];
  /** InvokeModel on a Titan embeddings model: answered, throttled, and the most calls in flight at once. */
  readonly embeddings = { answered: 0, throttled: 0, maxInFlight: 0 };
  private inFlight = 0;

  private window = { start: 0, count: 0 };

  /**
   * `embed`: InvokeModel (`/model/{id}/invoke`) answers `{embedding, inputTextTokenCount}` as Titan Text Embeddings
   * V2 does, after `delayMs`, and refuses with Bedrock's 429 ThrottlingException every call over `maxPerSecond` in a
   * second (a per-minute request quota, scaled down).
   */
  constructor(
    private readonly text: string,
    private readonly usage: { inputTokens: number; outputTokens: number },
    private readonly embed: { readonly delayMs?: number; readonly maxPerSecond?: number; readonly vector?: (text: string, dims: number) => number[] } = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const path = req.url ?? '';
        this.requests.push({ path, body });
        const usage = { ...this.usage, totalTokens: this.usage.inputTokens + this.usage.outputTokens };
        if (/^\/model\/[^/]+\/converse$/.test(path)) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
            output: { message: { role: 'assistant', content: [{ text: this.text }] } }, stopReason: 'end_turn', usage, metrics: { latencyMs: 1 },
          }));
        } else if (/^\/model\/[^/]+\/converse-stream$/.test(path)) {
          res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
          res.write(eventStreamMessage('messageStart', { role: 'assistant' }));
          this.text.split(/(?<= )/).forEach((word) => res.write(eventStreamMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text: word } })));
          res.write(eventStreamMessage('contentBlockStop', { contentBlockIndex: 0 }));
          res.write(eventStreamMessage('messageStop', { stopReason: 'end_turn' }));
          res.end(eventStreamMessage('metadata', { usage, metrics: { latencyMs: 1 } }));
        } else if (/^\/model\/[^/]+\/invoke$/.test(path)) {
          this.inFlight++;
          this.embeddings.maxInFlight = Math.max(this.embeddings.maxInFlight, this.inFlight);
          setTimeout(() => {
            this.inFlight--;
            const now = Date.now();
            if (now - this.window.start >= 1000) this.window = { start: now, count: 0 };
            if (this.embed.maxPerSecond !== undefined && ++this.window.count > this.embed.maxPerSecond) {
              this.embeddings.throttled++;
              res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' })
                .end('{"message":"Too many requests, please wait before trying again."}');
              return;
            }
            const req = JSON.parse(body) as { inputText: string; dimensions?: number };
            const dims = req.dimensions ?? 1024;
            const vector = this.embed.vector?.(req.inputText, dims) ?? Array.from({ length: dims }, (_, i) => ((req.inputText.charCodeAt(i % req.inputText.length) || 1) % 7) + 1);
            this.embeddings.answered++;
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ embedding: vector, inputTextTokenCount: Math.ceil(req.inputText.length / 4) }));
          }, this.embed.delayMs ?? 0);
        } else {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
        }
      });
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
  }

  async stop(): Promise<void> {
    await new Promise((ok) => this.server?.close(ok));
  }
}
