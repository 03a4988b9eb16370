import { decodeMessagesRequest, MESSAGES_CODEC, stableUser } from '../../../../lambda/core/formats/anthropic';
import { errorShape } from '../../../../lambda/core/formats/error-shapes';
import { AnthropicStreamReader, chatToMessagesBody, readAnthropicUsage, withOutputCap } from '../../../../lambda/core/formats/anthropic-upstream';
import { InvalidRequestError } from '../../../../lambda/core/errors';
import type { ChatCompletionChunk, ChatRequest } from '../../../../lambda/core/openai/types';

const decode = (body: unknown, headers: Record<string, string> = {}) => {
  const raw = JSON.stringify(body);
  return decodeMessagesRequest(raw, raw.length, 1_000_000, (h) => headers[h]);
};

describe('Messages codec', () => {
  describe('decodeMessagesRequest', () => {
    it('decodes system blocks, tool turns and a per-turn system message into the chat view, keeping the body for a native upstream', () => {
      const body = {
        model: 'claude', max_tokens: 100,
        system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral', ttl: '1h' } }],
        messages: [
          { role: 'user', content: 'read a.txt' },
          { role: 'assistant', content: [{ type: 'thinking', thinking: 'ok', signature: 's' }, { type: 'tool_use', id: 't1', name: 'Read', input: { path: 'a.txt' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'hello' }] }, { type: 'text', text: 'and?' }] },
          { role: 'system', content: [{ type: 'text', text: 'cwd: /tmp' }] },
        ],
        tools: [{ name: 'Read', input_schema: { type: 'object' } }],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
        metadata: { user_id: 'dev-1' },
      };
      const d = decode(body, { 'anthropic-beta': 'b1', 'anthropic-version': '2023-06-01' });
      expect(d.request).toEqual({
        model: 'claude', max_tokens: 100,
        messages: [
          { role: 'system', content: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
          { role: 'user', content: 'read a.txt' },
          { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'Read', arguments: '{"path":"a.txt"}' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'hello' },
          { role: 'user', content: 'and?' },
          { role: 'system', content: [{ type: 'text', text: 'cwd: /tmp' }] },
        ],
        tools: [{ type: 'function', function: { name: 'Read', parameters: { type: 'object' } } }],
        tool_choice: 'required', parallel_tool_calls: false,
      });
      expect(d.native).toEqual({ api: 'messages', body, headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'b1' } });
      expect(d.lossy).toEqual([]);
      expect(d.endUser).toBe('dev-1');
    });

    it('lists what a chat upstream cannot carry: documents, server tools, parameters without a chat field', () => {
      const d = decode({
        model: 'claude', max_tokens: 10, container: 'c1', tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'x' } }, { type: 'text', text: 'q' }] }],
      });
      expect([...d.lossy].sort()).toEqual(["'document' blocks", "server tool 'web_search_20250305'", "the 'container' parameter"]);
    });

    it.each([
      [{ model: 'c', messages: [{ role: 'user', content: 'hi' }] }, /max_tokens: Field required/],
      [{ model: 'c', max_tokens: 0, messages: [{ role: 'user', content: 'hi' }] }, /max_tokens: 0 is out of range/],
      [{ model: 'c', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope' }] }] }, /no matching tool_use/],
      [{ model: 'c', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }] }] }, /image\/bmp/],
      [{ model: 'c', max_tokens: 5, temperature: 1.5, messages: [{ role: 'user', content: 'hi' }] }, /temperature: 1.5 is out of range/],
      [{ model: 'c', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], tool_choice: { type: 'sometimes' } }, /tool_choice.type/],
    ])('refuses %j', (body, message) => {
      expect(() => decode(body)).toThrow(InvalidRequestError);
      expect(() => decode(body)).toThrow(message);
    });

    it('takes the body of count_tokens without max_tokens', () => {
      const raw = JSON.stringify({ model: 'c', messages: [{ role: 'user', content: 'hi' }] });
      expect(decodeMessagesRequest(raw, raw.length, 1000, () => undefined, { countOnly: true }).request).not.toHaveProperty('max_tokens');
    });
  });

  it('names the developer behind Claude Code\'s metadata.user_id: the account, else the device, never the session', () => {
    expect(stableUser('{"device_id":"dev-abc","account_uuid":"","session_id":"s-1"}')).toBe('dev-abc');
    expect(stableUser('{"device_id":"dev-abc","account_uuid":"acc-1","session_id":"s-1"}')).toBe('acc-1');
    expect(stableUser('user_42')).toBe('user_42');
    expect(stableUser('{not json')).toBe('{not json');
  });

  it('keeps a thinking budget below a fitted cap, or turns thinking off when 1,024 tokens do not fit', () => {
    const body = { thinking: { type: 'enabled', budget_tokens: 10_000 } };
    expect(withOutputCap(body, 4000)).toEqual({ max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 3999 } });
    expect(withOutputCap(body, 900)).toEqual({ max_tokens: 900, thinking: { type: 'disabled' } });
    expect(withOutputCap({ thinking: { type: 'adaptive' } }, 900)).toEqual({ max_tokens: 900, thinking: { type: 'adaptive' } });
  });

  it('reads Anthropic usage as untrusted input, 1-hour writes included', () => {
    expect(readAnthropicUsage({ input_tokens: 5, output_tokens: 2, cache_creation_input_tokens: 30, cache_read_input_tokens: 7, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 } }))
      .toEqual({ usage: { inputTokens: 5, outputTokens: 2, cacheReadTokens: 7, cacheWriteTokens: 30, cacheWrite1hTokens: 20 } });
    expect(readAnthropicUsage({ input_tokens: -1, output_tokens: 2 }).problem).toMatch(/negative/);
    expect(readAnthropicUsage({ input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 1, cache_creation: { ephemeral_1h_input_tokens: 5 } }).problem).toMatch(/exceeds/);
  });

  it('translates a chat view to a Messages body: system lifted, tool results in a user turn, same-role turns merged', () => {
    const req = {
      model: 'x', temperature: 0.2, stop: 'END',
      messages: [
        { role: 'system', content: 'sys' }, { role: 'user', content: 'q' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'r1' }, { role: 'user', content: 'more' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }], tool_choice: 'auto',
    } as unknown as ChatRequest;
    expect(chatToMessagesBody(req, 'claude-up', 300, true)).toEqual({
      model: 'claude-up', max_tokens: 300, stream: true, temperature: 0.2, stop_sequences: ['END'], system: [{ type: 'text', text: 'sys' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'q' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1', content: [{ type: 'text', text: 'r1' }] }, { type: 'text', text: 'more' }] },
      ],
      tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'auto' },
    });
    expect(() => chatToMessagesBody({ ...req, temperature: 1.5 }, 'm', 10, false)).toThrow(/above 1/);
  });

  it('encodes chat chunks as a Messages event stream with text and tool_use blocks and the whole usage at the end', () => {
    const decoded = decode({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'q' }] });
    const enc = MESSAGES_CODEC.encoder(decoded, 'small');
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: string | null = null): ChatCompletionChunk =>
      ({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [{ index: 0, delta, finish_reason: finish }] });
    const frames = [
      enc.chunk(chunk({ role: 'assistant', content: '' }), undefined),
      enc.chunk(chunk({ content: 'Let me ' }), undefined),
      enc.chunk(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }), undefined),
      enc.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }), undefined),
      enc.chunk(chunk({}, 'tool_calls'), undefined),
      ...enc.end({ model: 'small', usage: { inputTokens: 9, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0 } }),
    ].join('');
    const events = frames.split('\n\n').filter(Boolean).map((f) => JSON.parse(f.split('\n')[1].slice(6)) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual([
      'message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_stop', 'content_block_start', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(events[0]).toMatchObject({ message: { id: 'msg_9', model: 'small', role: 'assistant' } });
    expect(events[5]).toMatchObject({ index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'f' } });
    expect(events[9]).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 9, output_tokens: 4 } });
  });

  it('reads a Messages stream as chat chunks with the last usage, and an error event as a failure', () => {
    const r = new AnthropicStreamReader('claude', 1);
    expect(r.read({ type: 'message_start', message: { id: 'm', usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 5 } } }).usage?.usage)
      .toEqual({ inputTokens: 10, outputTokens: 1, cacheReadTokens: 5, cacheWriteTokens: 0 });
    expect(r.read({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'Read', input: {} } }).chunks[0].choices[0].delta)
      .toEqual({ tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'Read', arguments: '' } }] });
    expect(r.read({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } }).usage?.usage)
      .toEqual({ inputTokens: 10, outputTokens: 7, cacheReadTokens: 5, cacheWriteTokens: 0 });
    expect(r.read({ type: 'error', error: { type: 'overloaded_error', message: 'busy' } }).error).toEqual({ type: 'overloaded_error', message: 'busy' });
  });

  it('shapes errors as Anthropic does, a gateway 503 as the 529 its clients retry', () => {
    expect(errorShape('messages', 429, 'insufficient_quota', 'quota_exceeded', 'Quota exceeded', null)).toEqual({ status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'Quota exceeded' } } });
    expect(errorShape('messages', 503, 'upstream_error', 'upstream_throttled', 'busy', null).status).toBe(529);
    expect(errorShape('messages', 413, 'invalid_request_error', 'payload_too_large', 'big', null).body).toMatchObject({ error: { type: 'request_too_large' } });
  });
});
