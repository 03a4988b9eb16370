import type { ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { startLocalGateway } from '../support/local';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';

/**
 * Upstream chaos through `llm-finops local` with the real openai client: a stream that goes silent after its headers,
 * one that drips for ever, a 200 that is not a stream, an answer too large, a body that stops half-way, a Retry-After
 * of an hour. Each must end promptly with the right status, fall back where nothing reached the client yet, and leave
 * nothing reserved.
 */
describe('upstream chaos (integration)', () => {
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let records: () => Record<string, unknown>[];
  const client = () => new OpenAI({ apiKey: KEYS.acme, baseURL: baseUrl, maxRetries: 0, timeout: 20_000 });

  beforeAll(async () => {
    await upstream.start();
    const base = testConfig(upstream.baseUrl);
    ({ proc, baseUrl, records } = await startLocalGateway(upstream.baseUrl, {
      providers: [{ ...base.providers[0], timeoutMs: 400, streamIdleTimeoutMs: 400, streamTimeoutMs: 1500 } as never],
      routing: { ...base.routing!, retry: { attemptsPerModel: 1, baseDelayMs: 1, maxDelayMs: 50 } },
      server: { maxUpstreamResponseBytes: 1_048_576 },
    }, 'llm-finops-chaos-'));
    proc.stderr!.on('data', (d) => process.stderr.write(`[local] ${d}`));
  });
  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
  });
  beforeEach(() => upstream.reset());

  const last = (): Record<string, unknown> => records().at(-1)!;
  const reserved = async (): Promise<number> => {
    const res = await fetch(`${baseUrl}/usage`, { headers: { authorization: `Bearer ${KEYS.acme}` } });
    return ((await res.json()) as { windows: { window: string; reserved_usd: number }[] }).windows.find((w) => w.window === 'day')!.reserved_usd;
  };
  const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user' as const, content: `chaos ${Math.random()}` }], ...extra });

  async function streamText(model: string): Promise<{ text: string; error?: string }> {
    let text = '';
    try {
      const stream = await client().chat.completions.create({ ...ask(model), stream: true });
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    } catch (err) {
      return { text, error: (err as Error).message };
    }
    return { text };
  }

  it('ends a stream that goes silent after its headers within the idle timeout: error frame, 504 record, nothing reserved', async () => {
    upstream.setDefault('up-small-a', { kind: 'hang-after-headers' });
    const t0 = Date.now();
    const out = await streamText('small-a');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(out.text).toBe('first ');
    expect(out.error).toMatch(/silent for 400 ms/);
    expect(last()).toMatchObject({ status: 504, error_type: 'timeout_error' });
    expect(await reserved()).toBe(0);
  });

  it('ends a stream that drips a byte at a time at the idle limit: the limit counts events, not bytes', async () => {
    upstream.setDefault('up-small-a', { kind: 'byte-drip', everyMs: 50 });
    const out = await streamText('small-a');
    expect(out.text).toBe('first ');
    expect(out.error).toMatch(/silent for 400 ms/);
    expect(last()).toMatchObject({ status: 504 });
    expect(await reserved()).toBe(0);
  });

  it('ends a stream that drips for ever at its total deadline', async () => {
    upstream.setDefault('up-small-a', { kind: 'drip', everyMs: 100 });
    const t0 = Date.now();
    const out = await streamText('small-a');
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(out.text).toMatch(/^(drop )+$/);
    expect(out.error).toMatch(/exceeded 1500 ms in total/);
    expect(last()).toMatchObject({ status: 504 });
    expect(await reserved()).toBe(0);
  });

  it.each([
    ['an HTML page', { kind: 'raw', contentType: 'text/html', body: '<html><body>502 Bad Gateway</body></html>' }],
    ['garbage in an event stream', { kind: 'raw', contentType: 'text/event-stream', body: 'this is not server-sent events\n\n' }],
    ['an empty event stream', { kind: 'raw', contentType: 'text/event-stream', body: '' }],
  ] as const)('treats a 200 stream of %s as a failure before the first byte and falls back', async (_what, behaviour) => {
    upstream.setDefault('up-small-a', behaviour);
    upstream.setDefault('up-small-b', { kind: 'ok', content: 'from the fallback' });
    const out = await streamText('small');
    expect(out).toEqual({ text: 'from the fallback' });
    expect(last()).toMatchObject({ status: 200, model: 'small-b', attempts: 2 });
  });

  it('refuses an answer past maxUpstreamResponseBytes and falls back (JSON), or cuts a stream that passes the output cap it was sent', async () => {
    upstream.setDefault('up-small-a', { kind: 'huge', bytes: 2_000_000 });
    upstream.setDefault('up-small-b', { kind: 'ok', content: 'small enough' });
    const r = await client().chat.completions.create(ask('small'));
    expect(r.choices[0].message.content).toBe('small enough');
    // small-a's cap is 1,000 tokens: no tokeniser makes more than 16 bytes of one, so past 20,096 bytes (1,000 x 16 +
    // 4,096) the upstream is certainly ignoring max_tokens. Cut there (2 MB would have run to the 1 MiB answer limit).
    const out = await streamText('small-a');
    expect(out.error).toMatch(/streamed more than \d+ bytes against an output cap of 1000 tokens: cut/);
    const rec = last() as { status: number; usage_flags: string[]; output_tokens: number; cost_usd: number };
    expect(rec).toMatchObject({ status: 502, usage_flags: ['output_over_cap', 'over_reservation', 'usage_missing'] });
    // Charged for what streamed (the chunk that crossed 20 KB, here 32 KB, at the estimator's 3 bytes per token), not
    // for 2 MB (~700,000 tokens).
    expect(rec.output_tokens).toBeGreaterThan(6_600);
    expect(rec.output_tokens).toBeLessThan(12_000);
    expect(await reserved()).toBe(0);
  });

  it('reports a body that stops half-way as a timeout (504), not an upstream error', async () => {
    upstream.setDefault('up-small-a', { kind: 'hang-after-headers' });
    const err = await client().chat.completions.create(ask('small-a')).catch((e) => e);
    expect(err.status).toBe(504);
    expect(last()).toMatchObject({ status: 504, error_type: 'timeout_error' });
  });

  it('answers 503 with the upstream Retry-After at once when it asks for longer than the gateway waits', async () => {
    upstream.setDefault('up-small-a', { kind: 'status', status: 429, retryAfter: '3600' });
    const t0 = Date.now();
    const { response } = await client().chat.completions.create(ask('small-a')).withResponse().catch((e) => ({ response: e }));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('3600');
    expect(upstream.received).toHaveLength(1);
  });
});
