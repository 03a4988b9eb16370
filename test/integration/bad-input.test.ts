import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { buildGateway } from '../../lambda/adapters/wiring';
import { MemoryQuotaStore } from '../../lambda/adapters/memory-quota-store';
import { MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../lambda/core/config/resolve';
import { createGatewayServer } from '../../lambda/local/http-server';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';

interface Case {
  readonly name: string;
  readonly body?: string | Record<string, unknown>;
  readonly status: number;
  readonly type: string;
  readonly code?: string;
  readonly key?: string | null;
  readonly headers?: Record<string, string>;
  readonly method?: string;
  readonly path?: string;
  /** false where the request never reaches a tenant (auth, routing): no usage record is written. */
  readonly recorded?: boolean;
}

const user = (content: unknown) => ({ model: 'small-a', messages: [{ role: 'user', content }] });
const MAX_BODY = 65_536;

/** `{"a":{"a":...}}` nested `depth` levels, as text (JSON.stringify of it would itself overflow the stack). */
const nested = (depth: number, leaf = '1'): string => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
const deepBody = (param: string, depth: number): string =>
  `{"model":"small-a","messages":[{"role":"user","content":"hi"}],"${param}":${nested(depth)}}`;

const CASES: Case[] = [
  { name: 'response_format nested 10,000 levels', body: deepBody('response_format', 10_000), status: 400, type: 'invalid_request_error', code: 'nesting_too_deep' },
  { name: 'metadata nested 10,000 levels', body: deepBody('metadata', 10_000), status: 400, type: 'invalid_request_error', code: 'nesting_too_deep' },
  { name: 'logit_bias nested 10,000 levels', body: deepBody('logit_bias', 10_000), status: 400, type: 'invalid_request_error', code: 'nesting_too_deep' },
  {
    name: 'tool parameters nested 10,000 levels',
    body: `{"model":"small-a","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${nested(10_000)}}}]}`,
    status: 400, type: 'invalid_request_error', code: 'nesting_too_deep',
  },
  { name: 'malformed JSON', body: '{"model": "small-a", "messages": [', status: 400, type: 'invalid_request_error', code: 'invalid_json' },
  { name: 'empty body', body: '', status: 400, type: 'invalid_request_error', code: 'invalid_json' },
  { name: 'body is an array', body: '[]', status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'body is a string', body: '"hello"', status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'messages missing', body: { model: 'small-a' }, status: 400, type: 'invalid_request_error', code: 'missing_required_parameter' },
  { name: 'messages not an array', body: { model: 'small-a', messages: 'hi' }, status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'messages empty', body: { model: 'small-a', messages: [] }, status: 400, type: 'invalid_request_error', code: 'empty_array' },
  { name: 'message not an object', body: { model: 'small-a', messages: [42] }, status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'unknown role', body: { model: 'small-a', messages: [{ role: 'wizard', content: 'hi' }] }, status: 400, type: 'invalid_request_error' },
  { name: 'content is a number', body: user(7), status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'user content empty string', body: user(''), status: 400, type: 'invalid_request_error', code: 'empty_string' },
  { name: 'unknown content part type', body: user([{ type: 'video', url: 'x' }]), status: 400, type: 'invalid_request_error' },
  { name: 'text part without string text', body: user([{ type: 'text', text: 5 }]), status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'image part without url', body: user([{ type: 'image_url', image_url: {} }]), status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  {
    name: 'tool message without tool_call_id',
    body: { model: 'small-a', messages: [{ role: 'user', content: 'x' }, { role: 'tool', content: 'result' }] },
    status: 400,
    type: 'invalid_request_error',
  },
  { name: 'model is a number', body: { ...user('hi'), model: 123 }, status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'model is empty', body: { ...user('hi'), model: '' }, status: 400, type: 'invalid_request_error', code: 'empty_string' },
  { name: 'unknown model', body: { ...user('hi'), model: 'gpt-9-ultra' }, status: 404, type: 'not_found_error', code: 'model_not_found' },
  { name: 'tenant not allowed the model', body: { ...user('hi'), model: 'big' }, key: KEYS.globex, status: 403, type: 'permission_error', code: 'model_not_allowed' },
  { name: 'tenant not allowed the tier', body: { ...user('hi'), model: 'large' }, key: KEYS.globex, status: 403, type: 'permission_error', code: 'tier_not_allowed' },
  { name: 'negative max_tokens', body: { ...user('hi'), max_tokens: -5 }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'zero max_tokens', body: { ...user('hi'), max_tokens: 0 }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'huge max_tokens', body: { ...user('hi'), max_tokens: 1e12 }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'fractional max_tokens', body: { ...user('hi'), max_tokens: 1.5 }, status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'max_tokens as a string', body: { ...user('hi'), max_tokens: '100' }, status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'max_tokens above the explicit model maximum', body: { ...user('hi'), max_completion_tokens: 5000 }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'temperature above 2', body: { ...user('hi'), temperature: 3 }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'negative top_p', body: { ...user('hi'), top_p: -1 }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'n above 1', body: { ...user('hi'), n: 2 }, status: 400, type: 'invalid_request_error', code: 'unsupported_value' },
  { name: 'five stop sequences', body: { ...user('hi'), stop: ['a', 'b', 'c', 'd', 'e'] }, status: 400, type: 'invalid_request_error', code: 'out_of_range' },
  { name: 'stream is a string', body: { ...user('hi'), stream: 'yes' }, status: 400, type: 'invalid_request_error', code: 'invalid_type' },
  { name: 'stream_options without stream', body: { ...user('hi'), stream_options: { include_usage: true } }, status: 400, type: 'invalid_request_error' },
  { name: 'unknown parameter', body: { ...user('hi'), frobnicate: true }, status: 400, type: 'invalid_request_error', code: 'unknown_parameter' },
  { name: 'malformed tools', body: { ...user('hi'), tools: [{ type: 'function' }] }, status: 400, type: 'invalid_request_error' },
  { name: 'lone high surrogate in content', body: '{"model":"small-a","messages":[{"role":"user","content":"abc\\ud800def"}]}', status: 400, type: 'invalid_request_error', code: 'invalid_unicode' },
  { name: 'lone low surrogate in a text part', body: '{"model":"small-a","messages":[{"role":"user","content":[{"type":"text","text":"\\udc00"}]}]}', status: 400, type: 'invalid_request_error', code: 'invalid_unicode' },
  { name: 'invalid x-llm-feature header', body: user('hi'), headers: { 'x-llm-feature': 'bad feature!' }, status: 400, type: 'invalid_request_error' },
  { name: 'oversize body', body: user('x'.repeat(MAX_BODY + 10)), status: 413, type: 'invalid_request_error', code: 'payload_too_large' },
  { name: 'missing API key', body: user('hi'), key: null, status: 401, type: 'authentication_error', code: 'missing_api_key', recorded: false },
  { name: 'wrong API key', body: user('hi'), key: 'sk-nope', status: 401, type: 'authentication_error', code: 'invalid_api_key', recorded: false },
  { name: 'non-Bearer authorization', body: user('hi'), headers: { authorization: 'Basic Zm9vOmJhcg==' }, key: null, status: 401, type: 'authentication_error', recorded: false },
  { name: 'GET on chat completions', method: 'GET', status: 405, type: 'invalid_request_error', code: 'method_not_allowed', recorded: false },
  { name: 'unknown path', path: '/v1/completions-legacy', body: user('hi'), status: 404, type: 'not_found_error', code: 'unknown_url', recorded: false },
];

describe('bad input over HTTP', () => {
  const upstream = new FakeUpstream();
  const usage = new MemoryUsageSink();
  const quota = new MemoryQuotaStore();
  let server: Server;
  let base: string;

  beforeAll(async () => {
    await upstream.start();
    const config = resolveConfig(testConfig(upstream.baseUrl, { server: { maxBodyBytes: MAX_BODY } }));
    server = createGatewayServer(buildGateway(config, { env: {}, usage, quota }));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await upstream.stop();
  });

  it('has at least 25 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(25));

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const before = usage.records.length;
    const spentBefore = await quota.read(['tenant#acme#usd#' + new Date().toISOString().slice(0, 10)]);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...c.headers };
    const key = c.key === undefined ? KEYS.acme : c.key;
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${base}${c.path ?? '/v1/chat/completions'}`, {
      method: c.method ?? 'POST',
      headers,
      body: c.method === 'GET' ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
    });
    const json = (await res.json()) as { error: { message: string; type: string; code: string } };
    expect(res.status).toBe(c.status);
    expect(res.status).toBeLessThan(500);
    expect(json.error.type).toBe(c.type);
    if (c.code) expect(json.error.code).toBe(c.code);
    expect(json.error.message.length).toBeGreaterThan(10);
    expect(upstream.received).toHaveLength(0);
    const spentAfter = await quota.read(['tenant#acme#usd#' + new Date().toISOString().slice(0, 10)]);
    expect(spentAfter).toEqual(spentBefore);
    const recs = usage.records.slice(before);
    if (c.recorded === false) {
      expect(recs).toHaveLength(0);
    } else {
      expect(recs).toHaveLength(1);
      expect(recs[0]).toMatchObject({ status: c.status, error_type: c.type, cost_micros: 0, input_tokens: 0, output_tokens: 0 });
    }
  });

  it('accepts valid Unicode edge cases: emoji, CJK, RTL, combining marks, zero-width and NUL', async () => {
    const content = '👩🏽‍💻 数据 مرحبا e\u0301 a\u200bb \u0000 end';
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify(user(content)),
    });
    expect(res.status).toBe(200);
    expect(upstream.received.at(-1)!.body.messages).toEqual([{ role: 'user', content }]);
  });
});
