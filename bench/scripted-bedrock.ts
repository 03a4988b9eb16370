/**
 * A loopback Bedrock runtime for benchmarks (cleartext HTTP/2, as the SDK speaks it; point the SDK at it with
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME) whose Converse answers come from a script: `answer(modelId, request)` returns the
 * text and the output tokens. Input tokens are counted as a quarter of the characters sent. Prompt caching behaves as
 * Bedrock documents it: a `cachePoint` block marks the prefix before it; a prefix at or above the model's minimum is
 * written on first sight (cacheWriteInputTokens) and read while its TTL (5 minutes, renewed by each read) runs
 * (cacheReadInputTokens); the longest cached prefix is read, the rest up to the last point written; inputTokens are
 * the tokens neither read nor written.
 */
import { createHash } from 'node:crypto';
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';

type Block = { text?: string; cachePoint?: unknown };
export interface ConverseRequest {
  system?: Block[];
  messages?: { role: string; content: Block[] }[];
}
export type Script = (modelId: string, req: ConverseRequest) => { text: string; outputTokens: number };

const TTL_MS = 5 * 60_000;
const tokensOf = (chars: number) => Math.ceil(chars / 4);

export class ScriptedBedrock {
  private server?: Http2Server;
  private readonly prefixes = new Map<string, number>(); // prefix hash -> expiry (ms)
  calls = 0;

  constructor(private readonly script: Script, private readonly minCacheTokens: (modelId: string) => number, private readonly now: () => number = Date.now) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** The usage Bedrock would report for this request, updating the prefix cache as Bedrock does. */
  usageOf(modelId: string, req: ConverseRequest): { inputTokens: number; cacheReadInputTokens: number; cacheWriteInputTokens: number } {
    const hash = createHash('sha256');
    let chars = 0;
    const points: { key: string; tokens: number }[] = [];
    const blocks = [...(req.system ?? []).map((b) => ['system', b] as const), ...(req.messages ?? []).flatMap((m) => m.content.map((b) => [m.role, b] as const))];
    for (const [role, b] of blocks) {
      if (b.cachePoint) {
        points.push({ key: hash.copy().digest('hex'), tokens: tokensOf(chars) });
        continue;
      }
      const text = b.text ?? JSON.stringify(b);
      hash.update(`${role}\u0000${text}\u0000`);
      chars += text.length;
    }
    const total = tokensOf(chars);
    const now = this.now();
    const eligible = points.filter((p) => p.tokens >= this.minCacheTokens(modelId));
    let read = 0;
    for (const p of eligible) if ((this.prefixes.get(p.key) ?? 0) > now) read = Math.max(read, p.tokens);
    const last = eligible.at(-1)?.tokens ?? 0;
    const write = Math.max(0, last - read);
    for (const p of eligible) this.prefixes.set(p.key, now + TTL_MS);
    return { inputTokens: total - read - write, cacheReadInputTokens: read, cacheWriteInputTokens: write };
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const m = /^\/model\/([^/]+)\/converse$/.exec(req.url ?? '');
        if (!m) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"only Converse is scripted"}');
          return;
        }
        this.calls++;
        const modelId = decodeURIComponent(m[1]);
        const request = JSON.parse(body) as ConverseRequest;
        const { text, outputTokens } = this.script(modelId, request);
        const u = this.usageOf(modelId, request);
        const usage = { ...u, outputTokens, totalTokens: u.inputTokens + u.cacheReadInputTokens + u.cacheWriteInputTokens + outputTokens };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          output: { message: { role: 'assistant', content: [{ text }] } }, stopReason: 'end_turn', usage, metrics: { latencyMs: 1 },
        }));
      });
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
  }

  async stop(): Promise<void> {
    await new Promise((ok) => this.server?.close(ok));
  }
}
