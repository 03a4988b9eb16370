import Anthropic from '@anthropic-ai/sdk';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import { AgentUpstream } from '../support/agent-upstream';
import { hash } from '../support/config';
import { startLocal } from '../support/local';
import { FakeUpstream } from '../support/upstream';

const KEY = 'sk-dev-alice';
const BROKE = 'sk-dev-broke';

/** Claude at Opus 5.5's list prices, a Responses-speaking GPT, and a chat-only model, for three tenants. */
function config(agent: string, chat: string): GatewayConfigInput {
  return {
    providers: [
      { type: 'anthropic', id: 'anthropic', baseUrl: agent, apiKeyEnv: 'TEST_ANTHROPIC_KEY', timeoutMs: 2000, streamIdleTimeoutMs: 400 },
      { type: 'openai-compatible', id: 'openai', baseUrl: `${agent}/v1`, responses: true, apiKeyEnv: 'TEST_OPENAI_KEY', timeoutMs: 2000 },
      { type: 'openai-compatible', id: 'local', baseUrl: chat, timeoutMs: 2000 },
    ],
    models: [
      { id: 'claude', provider: 'anthropic', upstreamModel: 'claude-opus-5-5', price: { inputPerMTok: 4, outputPerMTok: 20, cacheWritePerMTok: 5, cacheWrite1hPerMTok: 8, cacheReadPerMTok: 0.2 }, maxOutputTokens: 128000 },
      { id: 'gpt', provider: 'openai', upstreamModel: 'gpt-5.5', price: { inputPerMTok: 5, outputPerMTok: 30, cacheReadPerMTok: 0.5, serviceTiers: { flex: { inputPerMTok: 2.5, outputPerMTok: 15, cacheReadPerMTok: 0.25 } } }, maxOutputTokens: 128000 },
      { id: 'small', provider: 'local', upstreamModel: 'up-small-a', price: { inputPerMTok: 1, outputPerMTok: 2 }, maxOutputTokens: 1000 },
    ],
    tiers: [
      { name: 'cheap', models: ['small'] },
      { name: 'premium', models: ['claude'] },
      { name: 'openai', models: ['gpt'] },
    ],
    routing: { thresholds: [{ tier: 'cheap', upTo: 0.5 }, { tier: 'premium', upTo: 1 }], baselineModel: 'claude', retry: { attemptsPerModel: 1, baseDelayMs: 1, maxDelayMs: 5 } },
    tenants: [
      { id: 'acme', apiKeys: [{ sha256: hash(KEY) }], limits: { dailyUsd: 50 } },
      { id: 'broke', apiKeys: [{ sha256: hash(BROKE) }], limits: { dailyUsd: 0.000001 } },
    ],
    serviceTiers: { policies: [{ feature: 'nightly', tier: 'flex' }] },
    usage: { sink: 'jsonl', path: 'usage.jsonl' },
  };
}

describe('front doors: Anthropic Messages and OpenAI Responses through llm-finops local (real SDK clients)', () => {
  const agent = new AgentUpstream();
  const chat = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let usagePath: string;
  const records = (): Record<string, unknown>[] => readFileSync(usagePath, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const last = (): Record<string, unknown> => records().at(-1)!;
  const anthropic = (key = KEY) => new Anthropic({ apiKey: key, baseURL: baseUrl.replace(/\/v1$/, ''), maxRetries: 0 });
  const openai = (key = KEY) => new OpenAI({ apiKey: key, baseURL: baseUrl, maxRetries: 0 });

  beforeAll(async () => {
    await agent.start();
    await chat.start();
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-doors-'));
    usagePath = join(dir, 'usage.jsonl');
    const configPath = join(dir, 'gateway.json');
    writeFileSync(configPath, JSON.stringify(config(agent.baseUrl, chat.baseUrl)));
    ({ proc, baseUrl } = await startLocal(configPath, [], { ...process.env, TEST_ANTHROPIC_KEY: 'up-anthropic-key', TEST_OPENAI_KEY: 'up-openai-key' }));
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await agent.stop();
    await chat.stop();
  });

  beforeEach(() => {
    agent.reset();
    chat.reset();
  });

  describe('POST /v1/messages', () => {
    it('passes a Messages request through to Anthropic and records its list-price cost to the micro-dollar', async () => {
      agent.scriptMessages({
        kind: 'message',
        blocks: [{ type: 'text', text: 'Hello from Claude.' }],
        usage: { input_tokens: 1000, output_tokens: 200, cache_creation_input_tokens: 3000, cache_read_input_tokens: 20000, cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 } },
      });
      const { data, response } = await anthropic().messages.create({
        model: 'claude', max_tokens: 1024, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        messages: [{ role: 'user', content: 'hi' }], metadata: { user_id: 'dev-42' },
      }, { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } }).withResponse();
      expect(data.content).toEqual([{ type: 'text', text: 'Hello from Claude.' }]);
      expect(data.model).toBe('claude');
      expect(data.usage).toMatchObject({ input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: 20000 });
      // 1000 x $4 + 200 x $20 + 1000 x $5 (5-min writes) + 2000 x $8 (1-hour writes) + 20000 x $0.20, per 1M tokens
      const micros = 4000 + 4000 + 5000 + 16000 + 4000;
      expect(response.headers.get('x-llm-cost-usd')).toBe((micros / 1e6).toFixed(6));
      expect(last()).toMatchObject({ api: 'messages', status: 200, cost_micros: micros, model: 'claude', input_tokens: 1000, cache_write_tokens: 3000, cache_read_tokens: 20000 });
      expect(last().end_user).toMatch(/^[0-9a-f]{16}$/);
      const sent = agent.received[0];
      expect(sent.path).toBe('/v1/messages');
      expect(sent.headers['x-api-key']).toBe('up-anthropic-key');
      expect(sent.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
      expect(sent.body).toMatchObject({ model: 'claude-opus-5-5', max_tokens: 1024, metadata: { user_id: 'dev-42' }, system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral', ttl: '1h' } }] });
    });

    it('streams thinking (with its signature), text and a tool call intact, and round-trips the tool result', async () => {
      agent.scriptMessages(
        {
          kind: 'message',
          stopReason: 'tool_use',
          blocks: [
            { type: 'thinking', thinking: 'I should read the file.', signature: 'sig-abc' },
            { type: 'text', text: 'Reading it now.' },
            { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { path: '/tmp/a.txt' } },
          ],
          usage: { input_tokens: 500, output_tokens: 80 },
        },
        { kind: 'message', blocks: [{ type: 'text', text: 'The file says hi.' }], usage: { input_tokens: 700, output_tokens: 10 } },
      );
      const tools: Anthropic.Tool[] = [{ name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }];
      const first = await anthropic().messages.stream({
        model: 'claude', max_tokens: 2048, tools, thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'What is in /tmp/a.txt?' }],
      }).finalMessage();
      expect(first.content).toEqual([
        { type: 'thinking', thinking: 'I should read the file.', signature: 'sig-abc' },
        { type: 'text', text: 'Reading it now.' },
        { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { path: '/tmp/a.txt' } },
      ]);
      expect(first.stop_reason).toBe('tool_use');
      expect(first.usage).toMatchObject({ input_tokens: 500, output_tokens: 80 });
      expect(last()).toMatchObject({ api: 'messages', stream: true, status: 200, cost_micros: 500 * 4 + 80 * 20 });

      const second = await anthropic().messages.create({
        model: 'claude', max_tokens: 2048, tools,
        messages: [
          { role: 'user', content: 'What is in /tmp/a.txt?' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'hi' }] },
        ],
      });
      expect(second.content).toEqual([{ type: 'text', text: 'The file says hi.' }]);
      // The signed thinking block reaches the upstream exactly as the model wrote it.
      expect((agent.received[1].body.messages as { content: unknown[] }[])[1].content[0]).toEqual({ type: 'thinking', thinking: 'I should read the file.', signature: 'sig-abc' });
    });

    it('counts tokens without calling the upstream or writing a record', async () => {
      const before = records().length;
      const counted = await anthropic().messages.countTokens({ model: 'claude', messages: [{ role: 'user', content: 'How many tokens is this sentence?' }] });
      expect(counted.input_tokens).toBeGreaterThan(0);
      expect(agent.received).toHaveLength(0);
      expect(records()).toHaveLength(before);
    });

    it('refuses a tenant over its limit with a 429 rate_limit_error and retry-after, sending nothing upstream', async () => {
      const err = await anthropic(BROKE).messages.create({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      const e = err as InstanceType<typeof Anthropic.RateLimitError>;
      expect(e.status).toBe(429);
      expect((e.error as { type: string; error: { type: string } })).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
      expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(agent.received).toHaveLength(0);
      expect(last()).toMatchObject({ api: 'messages', status: 429, cost_micros: 0 });
    });

    it('answers an unknown key with an Anthropic-shaped 401', async () => {
      const err = await anthropic('sk-wrong').messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((err as { error: unknown }).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    });

    it('translates a Messages request for a chat-completions upstream, JSON and streamed', async () => {
      chat.setDefault('up-small-a', { kind: 'ok', content: 'Translated answer.', promptTokens: 300, completionTokens: 40 });
      const json = await anthropic().messages.create({ model: 'small', max_tokens: 200, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] });
      expect(json.content).toEqual([{ type: 'text', text: 'Translated answer.' }]);
      expect(json.usage).toMatchObject({ input_tokens: 300, output_tokens: 40 });
      expect(chat.received[0].body).toMatchObject({ model: 'up-small-a', max_tokens: 200, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }] });
      const streamed = await anthropic().messages.stream({ model: 'small', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
      expect(streamed.content).toEqual([{ type: 'text', text: 'Translated answer.' }]);
      expect(streamed.usage).toMatchObject({ input_tokens: 300, output_tokens: 40 });
      expect(last()).toMatchObject({ api: 'messages', stream: true, cost_micros: 300 + 80 });
    });

    it('refuses with a 400 naming what a chat upstream cannot carry (a PDF document), before any call', async () => {
      const err = await anthropic().messages.create({
        model: 'small', max_tokens: 100,
        messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }, { type: 'text', text: 'Summarise' }] }],
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as Error).message).toMatch(/'document' blocks/);
      expect(chat.received).toHaveLength(0);
    });

    it('refuses malformed Messages bodies with invalid_request_error', async () => {
      const post = (body: unknown) => fetch(`${baseUrl}/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const cases: [unknown, RegExp][] = [
        [{ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }, /max_tokens/],
        [{ model: 'claude', max_tokens: 10, messages: [] }, /at least one message/],
        [{ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'r' }] }] }, /no matching tool_use/],
        [{ model: 'claude', max_tokens: 10, messages: [{ role: 'robot', content: 'hi' }] }, /role/],
        [{ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: [{ text: 'no type' }] }] }, /type/],
      ];
      for (const [body, message] of cases) {
        const res = await post(body);
        expect(res.status).toBe(400);
        const parsed = await res.json() as { type: string; error: { type: string; message: string } };
        expect(parsed).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
        expect(parsed.error.message).toMatch(message);
      }
      expect(agent.received).toHaveLength(0);
    });

    it('ends a stream the upstream drips a byte at a time at the idle limit, with an error event', async () => {
      agent.scriptMessages({ kind: 'drip', everyMs: 50 });
      const started = Date.now();
      const err = await anthropic().messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err)).toMatch(/silent|timeout/i);
      // The limit is 400 ms; a drip counted as activity would have held it until the client gave up.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(last()).toMatchObject({ api: 'messages', status: 504 });
    });

    it('records a stream the upstream cuts as a 502 and charges what was streamed', async () => {
      agent.scriptMessages({ kind: 'cut' });
      const err = await anthropic().messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      const r = last();
      expect(r).toMatchObject({ api: 'messages', status: 502, input_tokens: 5 });
      expect(r.output_tokens).toBeGreaterThan(0);
    });
  });

  describe('POST /v1/responses', () => {
    it('passes a Responses request through to an upstream that serves it, with the output cap in place', async () => {
      agent.scriptResponses({ kind: 'response', text: 'Hello from GPT.', usage: { input: 1000, cached: 400, output: 50, reasoning: 20 } });
      const { data, response } = await openai().responses.create({ model: 'gpt', input: 'hi', instructions: 'Be brief.', store: false, user: 'dev-7' }).withResponse();
      expect(data.output_text).toBe('Hello from GPT.');
      expect(data.model).toBe('gpt');
      expect(data.usage).toMatchObject({ input_tokens: 1000, input_tokens_details: { cached_tokens: 400 }, output_tokens: 50 });
      // 600 x $5 + 400 x $0.50 + 50 x $30, per 1M tokens
      expect(response.headers.get('x-llm-cost-usd')).toBe('0.004700');
      expect(last()).toMatchObject({ api: 'responses', cost_micros: 4700, input_tokens: 600, cache_read_tokens: 400 });
      expect(agent.received[0].path).toBe('/v1/responses');
      expect(agent.received[0].headers.authorization).toBe('Bearer up-openai-key');
      // No max_output_tokens from the client: the quota's output cap is sent, so nothing can overshoot the reservation.
      expect(agent.received[0].body).toMatchObject({ model: 'gpt-5.5', instructions: 'Be brief.', max_output_tokens: 4096, store: false });
    });

    it('carries a serviceTiers policy\'s Flex into the Responses body it passes through, priced at the Flex row', async () => {
      agent.scriptResponses({ kind: 'response', text: 'Later.', usage: { input: 1000, cached: 0, output: 100, reasoning: 0 } });
      await openai().responses.create({ model: 'gpt', input: 'summarise the night', service_tier: 'auto' }, { headers: { 'x-llm-feature': 'nightly' } });
      expect(agent.received[0].body).toMatchObject({ model: 'gpt-5.5', service_tier: 'flex' });
      // 1000 x $2.50 + 100 x $15 per 1M at Flex (the upstream reports no tier: the one sent is priced).
      expect(last()).toMatchObject({ api: 'responses', feature: 'nightly', service_tier: 'flex', cost_micros: 4000 });
    });

    it('streams a function call through and reads the final usage', async () => {
      agent.scriptResponses({ kind: 'response', call: { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }, usage: { input: 200, cached: 0, output: 30 } });
      const stream = openai().responses.stream({ model: 'gpt', input: 'Weather in Paris?', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false }] });
      const final = await stream.finalResponse();
      expect(final.output).toEqual([expect.objectContaining({ type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' })]);
      expect(last()).toMatchObject({ api: 'responses', stream: true, status: 200, cost_micros: 200 * 5 + 30 * 30 });
    });

    it('translates a Responses request for a chat-completions upstream, JSON and streamed', async () => {
      chat.setDefault('up-small-a', { kind: 'ok', content: 'Chat says hi.', promptTokens: 100, completionTokens: 20, cachedTokens: 0 });
      const json = await openai().responses.create({ model: 'small', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], max_output_tokens: 300 });
      expect(json.output_text).toBe('Chat says hi.');
      expect(json.usage).toMatchObject({ input_tokens: 100, output_tokens: 20 });
      expect(chat.received[0].body).toMatchObject({ model: 'up-small-a', max_completion_tokens: 300, messages: [{ role: 'user', content: 'hi' }] });
      const final = await openai().responses.stream({ model: 'small', input: 'hi' }).finalResponse();
      expect(final.output).toEqual([expect.objectContaining({ type: 'message', content: [expect.objectContaining({ type: 'output_text', text: 'Chat says hi.' })] })]);
      expect(final.usage).toMatchObject({ input_tokens: 100, output_tokens: 20 });
      expect(last()).toMatchObject({ api: 'responses', stream: true, cost_micros: 100 + 40 });
    });

    it('refuses previous_response_id (the gateway keeps no state) and a tool output without its call', async () => {
      const a = await openai().responses.create({ model: 'gpt', input: 'again', previous_response_id: 'resp_1' }).catch((e: unknown) => e);
      expect(a).toBeInstanceOf(OpenAI.BadRequestError);
      expect((a as Error).message).toMatch(/keeps no response state/);
      const b = await openai().responses.create({ model: 'small', input: [{ type: 'function_call_output', call_id: 'call_x', output: 'r' }] }).catch((e: unknown) => e);
      expect(b).toBeInstanceOf(OpenAI.BadRequestError);
      expect((b as Error).message).toMatch(/No tool call found/);
      expect(agent.received).toHaveLength(0);
      expect(chat.received).toHaveLength(0);
    });

    it('answers a tenant over its limit with OpenAI 429 insufficient_quota', async () => {
      const err = await openai(BROKE).responses.create({ model: 'gpt', input: 'hi' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(agent.received).toHaveLength(0);
    });
  });
});
