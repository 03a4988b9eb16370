import { decodeResponsesRequest, RESPONSES_CODEC } from '../../../../lambda/core/formats/responses';
import { readResponsesEvent, readResponsesUsage, responseToCompletion } from '../../../../lambda/core/formats/responses-upstream';
import type { ChatCompletionChunk } from '../../../../lambda/core/openai/types';

const decode = (body: unknown) => {
  const raw = JSON.stringify(body);
  return decodeResponsesRequest(raw, raw.length, 1_000_000);
};

describe('Responses codec', () => {
  it('decodes instructions, message items, function and custom tool calls with their outputs; drops reasoning and hosted tools', () => {
    const d = decode({
      model: 'gpt', instructions: 'Be brief.', max_output_tokens: 500, reasoning: { effort: 'low' }, store: false, include: ['reasoning.encrypted_content'],
      input: [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'dev note' }] },
        { role: 'user', content: 'patch it' },
        { type: 'reasoning', id: 'rs_1', encrypted_content: 'opaque', summary: [] },
        { type: 'custom_tool_call', call_id: 'c1', name: 'apply_patch', input: '*** Begin Patch' },
        { type: 'custom_tool_call_output', call_id: 'c1', output: 'done' },
        { type: 'function_call', call_id: 'c2', name: 'exec', arguments: '{"cmd":"ls"}' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'a.txt' }] },
      ],
      tools: [
        { type: 'function', name: 'exec', parameters: { type: 'object' }, strict: false },
        { type: 'custom', name: 'apply_patch', description: 'Patch files.', format: { type: 'grammar', syntax: 'lark', definition: 'start: x' } },
        { type: 'web_search' },
      ],
      safety_identifier: 'dev-9',
    });
    expect(d.request.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'developer', content: 'dev note' },
      { role: 'user', content: 'patch it' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'done' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c2', type: 'function', function: { name: 'exec', arguments: '{"cmd":"ls"}' } }] },
      { role: 'tool', tool_call_id: 'c2', content: 'a.txt' },
    ]);
    expect(d.request).toMatchObject({ max_completion_tokens: 500, reasoning_effort: 'low' });
    expect((d.request.tools as { function: { name: string; parameters: unknown } }[]).map((t) => t.function.name)).toEqual(['exec', 'apply_patch']);
    expect((d.request.tools as { function: { parameters: unknown } }[])[1].function.parameters).toMatchObject({ required: ['input'] });
    expect(d.lossy).toEqual([]);
    expect(d.endUser).toBe('dev-9');
  });

  it('lists what a chat upstream cannot carry and refuses stateful requests and orphan tool outputs', () => {
    expect(decode({ model: 'g', input: [{ type: 'item_reference', id: 'x' }, { role: 'user', content: 'q' }], truncation: 'auto', top_logprobs: 2 }).lossy.toSorted())
      .toEqual(["'item_reference' input items", "the 'top_logprobs' parameter"]);
    expect(() => decode({ model: 'g', input: 'q', previous_response_id: 'resp_1' })).toThrow(/keeps no response state/);
    expect(() => decode({ model: 'g', input: 'q', background: true })).toThrow(/background/);
    expect(() => decode({ model: 'g', input: [{ type: 'function_call_output', call_id: 'zz', output: 'x' }] })).toThrow(/No tool call found/);
    expect(() => decode({ model: 'g', input: 42 })).toThrow(/expected a string or an array/);
    expect(() => decode({ model: 'g', input: 'q', max_output_tokens: 0 })).toThrow(/out of range/);
  });

  it('reads usage with cached tokens inside input_tokens, and refuses a report whose cached count exceeds it', () => {
    expect(readResponsesUsage({ input_tokens: 100, input_tokens_details: { cached_tokens: 40 }, output_tokens: 7 }))
      .toEqual({ usage: { inputTokens: 60, outputTokens: 7, cacheReadTokens: 40, cacheWriteTokens: 0 } });
    expect(readResponsesUsage({ input_tokens: 10, input_tokens_details: { cached_tokens: 40 }, output_tokens: 7 }).problem).toMatch(/exceeds/);
    expect(readResponsesEvent({ type: 'response.failed', response: { error: { message: 'boom' } } }).failure).toBe('boom');
    expect(responseToCompletion({ output: [{ type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' }], status: 'completed' }, 'gpt', 1).choices[0].finish_reason).toBe('tool_calls');
  });

  it('encodes chat chunks as numbered Responses events; a custom tool\'s call goes back as custom_tool_call with its raw input', () => {
    const decoded = decode({ model: 'g', input: 'q', tools: [{ type: 'custom', name: 'apply_patch' }] });
    const enc = RESPONSES_CODEC.encoder(decoded, 'small');
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: string | null = null): ChatCompletionChunk =>
      ({ id: 'chatcmpl-7', object: 'chat.completion.chunk', created: 5, model: 'up', choices: [{ index: 0, delta, finish_reason: finish }] });
    const frames = [
      enc.chunk(chunk({ content: 'Patching.' }), undefined),
      enc.chunk(chunk({ tool_calls: [{ index: 0, id: 'call_p', function: { name: 'apply_patch', arguments: '{"input":"*** Begin' } }] }), undefined),
      enc.chunk(chunk({ tool_calls: [{ index: 0, function: { arguments: ' Patch"}' } }] }), undefined),
      enc.chunk(chunk({}, 'tool_calls'), undefined),
      ...enc.end({ model: 'small', usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 2, cacheWriteTokens: 0 } }),
    ].join('');
    const events = frames.split('\n\n').filter(Boolean).map((f) => JSON.parse(f.split('\n')[1].slice(6)) as Record<string, unknown>);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const completed = events.at(-1) as { type: string; response: { output: Record<string, unknown>[]; usage: unknown; model: string } };
    expect(completed.type).toBe('response.completed');
    expect(completed.response.model).toBe('small');
    expect(completed.response.output).toEqual([
      expect.objectContaining({ type: 'message', content: [{ type: 'output_text', text: 'Patching.', annotations: [] }] }),
      expect.objectContaining({ type: 'custom_tool_call', call_id: 'call_p', name: 'apply_patch', input: '*** Begin Patch' }),
    ]);
    expect(completed.response.usage).toMatchObject({ input_tokens: 12, input_tokens_details: { cached_tokens: 2 }, output_tokens: 5, total_tokens: 17 });
  });
});
