import { createHash } from 'node:crypto';
import { PassThrough, type Writable } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { MemoryBatchStore } from '../../../lambda/adapters/memory-batch-store';
import { batchEdge } from '../../../lambda/core/batch/routes';
import { BatchService } from '../../../lambda/core/batch/service';
import { FakeClock, SeqIds } from '../../support/fakes';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { createBufferedRouterHandler, createRouterHandler } from '../../../lambda/handlers/shared/router-handler';
import { FakeUpstream } from '../../support/upstream';
import { testConfig } from '../../support/config';

/**
 * The Lambda runtime's HttpResponseStream.from: a JSON prelude with status and headers, eight NUL bytes, then the
 * body, as API Gateway's STREAM transfer mode reads it.
 */
const runtime = {
  HttpResponseStream: {
    from(stream: Writable, meta: { statusCode: number; headers: Record<string, string> }): Writable {
      stream.write(JSON.stringify(meta));
      stream.write(new Uint8Array(8));
      return stream;
    },
  },
};

async function invoke(handler: ReturnType<typeof createRouterHandler>, event: Partial<APIGatewayProxyEvent>) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await handler({ headers: {}, body: null, isBase64Encoded: false, ...event } as APIGatewayProxyEvent, out);
  const all = Buffer.concat(chunks);
  const sep = all.indexOf(Buffer.alloc(8));
  return { meta: JSON.parse(all.subarray(0, sep).toString()), body: all.subarray(sep + 8).toString() };
}

const chatEvent = (body: unknown, tenant: string | null = 'acme', headers: Record<string, string> = {}): Partial<APIGatewayProxyEvent> => ({
  httpMethod: 'POST',
  path: '/v1/chat/completions',
  headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(body),
  requestContext: { requestId: 'apigw-req-1', authorizer: tenant ? { tenant } : undefined } as never,
});

describe('router handler', () => {
  const upstream = new FakeUpstream();
  const usage = new MemoryUsageSink();
  let handler: ReturnType<typeof createRouterHandler>;

  beforeAll(async () => {
    await upstream.start();
    const base = testConfig(upstream.baseUrl);
    const config = { ...base, models: [...base.models, { id: 'embed', provider: 'up', upstreamModel: 'up-embed', kind: 'embedding' as const, price: { inputPerMTok: 1, outputPerMTok: 0 } }] };
    handler = createRouterHandler(buildGateway(resolveConfig(config), { env: {}, usage }), runtime);
  });
  afterAll(() => upstream.stop());

  it('answers a buffered completion with status, x-llm headers and the API Gateway request id', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'hello', promptTokens: 10, completionTokens: 5 });
    const { meta, body } = await invoke(handler, chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'hi' }] }, 'acme', { 'X-LLM-Feature': 'search' }));
    expect(meta.statusCode).toBe(200);
    expect(meta.headers).toMatchObject({ 'content-type': 'application/json', 'x-llm-model': 'small-a', 'x-llm-cost-usd': '0.000020', 'x-request-id': 'apigw-req-1' });
    expect(JSON.parse(body).choices[0].message.content).toBe('hello');
    expect(usage.records.at(-1)).toMatchObject({ request_id: 'apigw-req-1', tenant: 'acme', feature: 'search' });
  });

  it('serves POST /v1/embeddings with the API Gateway request id and the cost in the record', async () => {
    const { meta, body } = await invoke(handler, { ...chatEvent({ model: 'embed', input: ['abcd', 'efgh'] }), path: '/v1/embeddings' });
    expect(meta.statusCode).toBe(200);
    expect(meta.headers).toMatchObject({ 'x-request-id': 'apigw-req-1', 'x-llm-route-reason': 'embeddings', 'x-llm-cost-usd': '0.000002' });
    expect(JSON.parse(body)).toMatchObject({ object: 'list', model: 'embed', usage: { prompt_tokens: 2, total_tokens: 2 }, data: [{ index: 0 }, { index: 1 }] });
    expect(usage.records.at(-1)).toMatchObject({ request_id: 'apigw-req-1', model: 'embed', route_reason: 'embeddings', input_tokens: 2, cost_usd: 0.000002 });
  });

  it('gives up a non-streamed answer before API Gateway\'s idle timeout would cut it: a 504 that says to stream, the attempt\'s bound charged', async () => {
    // 285 s in production; here 300 ms against an upstream that never answers (its own timeout is 2 s).
    const early = createRouterHandler(buildGateway(resolveConfig(testConfig(upstream.baseUrl)), { env: {}, usage }), runtime, { nonStreamedDeadlineMs: 300 });
    upstream.setDefault('up-small-a', { kind: 'hang' });
    const { meta, body } = await invoke(early, chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'a long essay' }], max_tokens: 100 }));
    expect(meta.statusCode).toBe(504);
    expect(JSON.parse(body).error).toMatchObject({ type: 'timeout_error', code: 'answer_deadline', message: expect.stringContaining('Send stream: true for answers this long') });
    const record = usage.records.at(-1)!;
    expect(record).toMatchObject({ status: 504, error_type: 'timeout_error', model: 'small-a', attempts: 1 });
    // The abandoned attempt may have been billed: its bound (input estimate and the 100-token cap at small-a's prices) is on the record.
    expect(record.cost_usd).toBeGreaterThan(0);
    // A streamed request writes as it goes: the deadline does not apply (here one that has passed before it starts).
    const passed = createRouterHandler(buildGateway(resolveConfig(testConfig(upstream.baseUrl)), { env: {}, usage }), runtime, { nonStreamedDeadlineMs: 0 });
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'still streamed', promptTokens: 3, completionTokens: 2 });
    const streamed = await invoke(passed, chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'stream it' }], stream: true }));
    expect(streamed.meta.statusCode).toBe(200);
    expect(streamed.body).toContain('"content":"streamed"');
    expect(streamed.body.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('streams SSE frames after the prelude', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'a b', promptTokens: 3, completionTokens: 2 });
    const { meta, body } = await invoke(handler, chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'stream it' }], stream: true }));
    expect(meta.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(body.split('\n\n').filter(Boolean).length).toBeGreaterThan(3);
  });

  it('serves the Anthropic Messages API: JSON and SSE in its shape, errors in its shape, api recorded', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'from chat', promptTokens: 12, completionTokens: 3 });
    const messages = { model: 'small-a', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
    const json = await invoke(handler, { ...chatEvent(messages, 'acme', { 'anthropic-version': '2023-06-01' }), path: '/v1/messages' });
    expect(json.meta.statusCode).toBe(200);
    expect(JSON.parse(json.body)).toMatchObject({ type: 'message', role: 'assistant', model: 'small-a', content: [{ type: 'text', text: 'from chat' }], usage: { input_tokens: 12, output_tokens: 3 } });
    expect(usage.records.at(-1)).toMatchObject({ api: 'messages', request_id: 'apigw-req-1' });
    const sse = await invoke(handler, { ...chatEvent({ ...messages, stream: true }), path: '/v1/messages' });
    expect(sse.body.split('\n\n').filter(Boolean).map((f) => f.split('\n')[0])).toEqual([
      'event: message_start', 'event: ping', 'event: content_block_start', 'event: content_block_delta', 'event: content_block_stop', 'event: message_delta', 'event: message_stop',
    ]);
    const refused = await invoke(handler, { ...chatEvent({ ...messages, max_tokens: 'many' }), path: '/v1/messages' });
    expect(refused.meta.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('serves the OpenAI Responses API', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'responded', promptTokens: 8, completionTokens: 2 });
    const { meta, body } = await invoke(handler, { ...chatEvent({ model: 'small-a', input: 'hi', max_output_tokens: 20 }), path: '/v1/responses' });
    expect(meta.statusCode).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ object: 'response', status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'responded' }] }], usage: { input_tokens: 8, output_tokens: 2 } });
    expect(usage.records.at(-1)).toMatchObject({ api: 'responses' });
  });

  it('takes the tenant from the authorizer context only, never from a client header', async () => {
    const { meta, body } = await invoke(handler, chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'x' }] }, null, { 'x-tenant-id': 'acme' }));
    expect(meta.statusCode).toBe(403);
    expect(JSON.parse(body)).toMatchObject({ error: { type: 'permission_error', code: 'no_tenant' } });
  });

  it('counts a policy per API key from the key the request presents (as the authorizer accepted it), never the key itself', async () => {
    const keyed = createRouterHandler(buildGateway(resolveConfig(testConfig(upstream.baseUrl, {
      quota: { policies: [{ id: 'key-rpm', per: 'apiKey', limits: [{ window: 'minute', requests: 1 }] }] },
    })), { env: {}, usage }), runtime);
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'ok', promptTokens: 10, completionTokens: 5 });
    const ask = (headers: Record<string, string>) => invoke(keyed, chatEvent({ model: 'small-a', messages: [{ role: 'user', content: `k ${Math.random()}` }] }, 'acme', headers));
    expect((await ask({ Authorization: 'Bearer sk-laptop' })).meta.statusCode).toBe(200);
    const second = await ask({ 'x-api-key': 'sk-laptop' });
    expect(second.meta.statusCode).toBe(429);
    const id = createHash('sha256').update('sk-laptop').digest('hex').slice(0, 16);
    expect(JSON.parse(second.body).error.message).toContain(`policy 'key-rpm' (apiKey '${id}')`);
    expect(second.body).not.toContain('sk-laptop');
    expect((await ask({ Authorization: 'Bearer sk-desktop' })).meta.statusCode).toBe(200);
  });

  it('decodes a base64 body', async () => {
    const ev = chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'base64 body' }] });
    const { meta } = await invoke(handler, { ...ev, body: Buffer.from(ev.body!).toString('base64'), isBase64Encoded: true });
    expect(meta.statusCode).toBe(200);
  });

  it('serves /v1/models, /v1/usage and /health', async () => {
    const models = await invoke(handler, { httpMethod: 'GET', path: '/v1/models', requestContext: { authorizer: { tenant: 'globex' } } as never });
    expect(JSON.parse(models.body).data.map((m: { id: string }) => m.id)).toContain('small-a');
    const u = await invoke(handler, { httpMethod: 'GET', path: '/v1/usage', requestContext: { authorizer: { tenant: 'acme' } } as never });
    expect(JSON.parse(u.body)).toMatchObject({ tenant: 'acme', windows: [{ window: 'day' }, { window: 'month' }] });
    expect((await invoke(handler, { httpMethod: 'GET', path: '/health' })).meta.statusCode).toBe(200);
  });

  it.each([
    ['no httpMethod', { path: '/v1/chat/completions' }],
    ['no path', { httpMethod: 'POST' }],
    ['headers as a string', { httpMethod: 'POST', path: '/v1/chat/completions', headers: 'x' }],
    ['a body that is an object', { httpMethod: 'POST', path: '/v1/chat/completions', body: { model: 'x' }, requestContext: { authorizer: { tenant: 'acme' } } }],
    ['requestContext as a number', { httpMethod: 'POST', path: '/v1/chat/completions', requestContext: 7 }],
  ])('answers 400 malformed_event for an event with %s', async (_what, e) => {
    const { meta, body } = await invoke(handler, e as never);
    expect(meta.statusCode).toBe(400);
    expect(JSON.parse(body).error.code).toBe('malformed_event');
  });

  it('ends the response and settles the request when a slow client disconnects under back-pressure', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'word '.repeat(2000), promptTokens: 10, completionTokens: 2000 });
    // A stream that takes one small chunk, then never drains, then goes away: the client stopped reading and left.
    const out = new PassThrough({ highWaterMark: 16 });
    const before = usage.records.length;
    const done = handler(chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'long' }], stream: true }) as APIGatewayProxyEvent, out);
    await new Promise((r) => setTimeout(r, 50));
    out.destroy();
    await done;
    expect(usage.records.length).toBe(before + 1);
    expect(usage.records.at(-1)).toMatchObject({ status: 499, error_type: 'client_closed' });
  });

  it('answers 405 and 404 for wrong methods and paths', async () => {
    const ctx = { requestContext: { authorizer: { tenant: 'acme' } } as never };
    expect((await invoke(handler, { httpMethod: 'DELETE', path: '/v1/chat/completions', ...ctx })).meta.statusCode).toBe(405);
    expect((await invoke(handler, { httpMethod: 'GET', path: '/v2/x', ...ctx })).meta.statusCode).toBe(404);
  });

  describe('buffered integration', () => {
    it('returns a classic proxy result, with a stream collected into one SSE body', async () => {
      const buffered = createBufferedRouterHandler(buildGateway(resolveConfig(testConfig(upstream.baseUrl)), { env: {}, usage }));
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'x y', promptTokens: 3, completionTokens: 2 });
      const json = await buffered(chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'buffered' }] }) as APIGatewayProxyEvent);
      expect(json.statusCode).toBe(200);
      expect(JSON.parse(json.body).choices[0].message.content).toBe('x y');
      const sse = await buffered(chatEvent({ model: 'small-a', messages: [{ role: 'user', content: 'buffered stream' }], stream: true }) as APIGatewayProxyEvent);
      expect(sse.headers!['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(sse.body.endsWith('data: [DONE]\n\n')).toBe(true);
      const denied = await buffered(chatEvent({ model: 'small-a', messages: [] }, null) as APIGatewayProxyEvent);
      expect(denied.statusCode).toBe(403);
    });
  });
});

/**
 * The batch API through the Lambda handler: API Gateway hands the query string over apart from the path, and a
 * base64 body when the request's content type is a binary media type.
 */
describe('router handler with the batch lane', () => {
  it('uploads a file (base64 or text body), lists with the query API Gateway passes apart, and creates a batch; without the lane, 404 naming the construct', async () => {
    const usage = new MemoryUsageSink();
    const gateway = buildGateway(resolveConfig(testConfig('http://127.0.0.1:1/v1')), { env: {}, usage });
    const batches = new BatchService({ gateway, store: new MemoryBatchStore(), clock: new FakeClock(), ids: new SeqIds('h-'), delayMs: 60_000 });
    const handler = createRouterHandler(gateway, runtime, { batches: batchEdge(batches) });
    const ctx = { requestContext: { requestId: 'r', authorizer: { tenant: 'acme' } } as never };
    const line = JSON.stringify({ custom_id: 'a', method: 'POST', url: '/v1/chat/completions', body: { model: 'small-a', messages: [{ role: 'user', content: 'hi' }] } });
    const form = `--bnd42\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--bnd42\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n${line}\r\n--bnd42--\r\n`;
    const upload = (body: string, isBase64Encoded: boolean) => invoke(handler, { httpMethod: 'POST', path: '/v1/files', headers: { 'Content-Type': 'multipart/form-data; boundary=bnd42' }, body, isBase64Encoded, ...ctx });
    const a = await upload(Buffer.from(form).toString('base64'), true);
    expect(a.meta.statusCode).toBe(200);
    const b = await upload(form, false);
    expect(JSON.parse(b.body)).toMatchObject({ object: 'file', purpose: 'batch', filename: 'in.jsonl', bytes: line.length });
    const listed = await invoke(handler, { httpMethod: 'GET', path: '/v1/files', queryStringParameters: { purpose: 'batch_output' }, multiValueQueryStringParameters: { purpose: ['batch_output'] }, ...ctx });
    expect(JSON.parse(listed.body).data).toEqual([]);
    const created = await invoke(handler, { httpMethod: 'POST', path: '/v1/batches', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ input_file_id: JSON.parse(a.body).id, endpoint: '/v1/chat/completions', completion_window: '24h' }), ...ctx });
    expect(JSON.parse(created.body)).toMatchObject({ object: 'batch', status: 'validating', request_counts: { total: 1 } });
    await invoke(handler, { httpMethod: 'POST', path: '/v1/batches', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ input_file_id: JSON.parse(b.body).id, endpoint: '/v1/chat/completions', completion_window: '24h' }), ...ctx });
    const page = JSON.parse((await invoke(handler, { httpMethod: 'GET', path: '/v1/batches', queryStringParameters: { limit: '1' }, multiValueQueryStringParameters: { limit: ['1'] }, ...ctx })).body);
    expect(page).toMatchObject({ has_more: true });
    expect(page.data).toHaveLength(1);
    const bad = await invoke(handler, { httpMethod: 'GET', path: '/v1/batches', multiValueQueryStringParameters: 'limit=1' as never, ...ctx });
    expect(bad.meta.statusCode).toBe(400);
    const without = await invoke(createRouterHandler(gateway, runtime), { httpMethod: 'GET', path: '/v1/batches', ...ctx });
    expect(without.meta.statusCode).toBe(404);
    expect(JSON.parse(without.body).error.message).toContain('BatchLane construct');
  });
});
