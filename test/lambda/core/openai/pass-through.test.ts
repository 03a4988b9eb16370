import { passThroughFrame, sseData } from '../../../../lambda/core/openai/sse';

/** What the serialising path sends for a parsed chunk: usage dropped, our model name. */
const serialised = (raw: string, model: string) => {
  const { usage: _drop, ...rest } = JSON.parse(raw);
  return sseData({ ...rest, model });
};
const payload = (frame: string) => JSON.parse(frame.slice('data: '.length));

describe('passThroughFrame', () => {
  it.each([
    ['OpenAI, usage asked for (every content chunk carries "usage":null and an obfuscation pad)',
      '{"id":"chatcmpl-CZ1","object":"chat.completion.chunk","created":1764547200,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"u9Xk"}'],
    ['vLLM (no usage member on content chunks)',
      '{"id":"chatcmpl-7c1","object":"chat.completion.chunk","created":1764547200,"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}]}'],
    ['"usage":null first, content that quotes a model member',
      '{"usage":null,"id":"c","object":"chat.completion.chunk","created":1,"model":"m1","choices":[{"index":0,"delta":{"content":"say \\"model\\":\\"m1\\" and \\"usage\\":null"},"finish_reason":null}]}'],
  ])('forwards %s as it came, equal to the serialised frame', (_name, raw) => {
    const parsed = JSON.parse(raw);
    const frame = passThroughFrame(raw, parsed, 'small-a');
    expect(frame).toBeDefined();
    expect(payload(frame!)).toEqual(payload(serialised(raw, 'small-a')));
    expect(frame!.endsWith('\n\n')).toBe(true);
    // Not re-serialised: the upstream's own member order and text survive.
    expect(frame).toContain(raw.includes('"obfuscation"') ? '"obfuscation":"u9Xk"' : '"choices":[');
  });

  it.each([
    ['no raw text', undefined, { model: 'm1' }],
    ['no model member', '{"id":"c","choices":[]}', {}],
    ['a model written with spaces (Python json.dumps)', '{"id": "c", "model": "m1", "choices": []}', { model: 'm1' }],
    ['the model member twice', '{"model":"m1","x":{"model":"m1"},"choices":[]}', { model: 'm1' }],
    ['"usage":null twice (which one is the top-level one is not told from the text)', '{"model":"m1","usage":null,"x":{"usage":null},"choices":[]}', { model: 'm1' }],
    ['"usage":null twice at the top level', '{"model":"m1","usage":null,"choices":[],"usage":null}', { model: 'm1' }],
  ])('leaves %s to the serialising path', (_name, raw, chunk) => {
    expect(passThroughFrame(raw, chunk, 'small-a')).toBeUndefined();
  });
});
