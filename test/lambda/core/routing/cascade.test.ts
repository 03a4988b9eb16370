import { checkAnswer, schemaViolation, type CascadeSettings } from '../../../../lambda/core/routing/cascade';
import type { ChatCompletion, ChatRequest } from '../../../../lambda/core/openai/types';

const ALL: CascadeSettings = { checks: ['empty', 'refusal', 'truncated', 'json', 'logprob'], minMeanLogprob: -1 };
const req = (extra: Record<string, unknown> = {}): ChatRequest => ({ model: 'casc', messages: [{ role: 'user', content: 'q' }], ...extra });
const answer = (content: string | null, extra: Record<string, unknown> = {}, finish = 'stop'): ChatCompletion => ({
  id: 'c', object: 'chat.completion', created: 1, model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content, ...(extra.message as object) }, finish_reason: finish, ...(extra.choice as object) }],
});

describe('checkAnswer', () => {
  it.each([
    ['empty', answer('   ')],
    ['empty', answer(null)],
    ['refusal', answer("I'm sorry, but I can't help with that request.")],
    ['refusal', answer('As an AI language model, I cannot browse the internet.')],
    ['refusal', answer('', { message: { refusal: 'I must decline.' } })],
    ['truncated', answer('It all began', {}, 'length')],
    ['logprob', answer('maybe', { choice: { logprobs: { content: [{ logprob: -2.5 }, { logprob: -0.5 }] } } })],
  ] as const)('rejects as %s', (reason, completion) => {
    expect(checkAnswer(req(), completion, ALL)).toMatchObject({ ok: false, reason });
  });

  it('accepts a normal answer, a confident one, and a refusal-like phrase inside a longer answer', () => {
    expect(checkAnswer(req(), answer('Paris is the capital.'), ALL)).toEqual({ ok: true });
    expect(checkAnswer(req(), answer('yes', { choice: { logprobs: { content: [{ logprob: -0.1 }] } } }), ALL)).toEqual({ ok: true });
    expect(checkAnswer(req(), answer('The error says "I cannot help" when the key is wrong.'), ALL)).toEqual({ ok: true });
  });

  it('checks JSON only when the request asked for it, and against its schema', () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } }, additionalProperties: false };
    const rf = { response_format: { type: 'json_schema', json_schema: { name: 's', schema } } };
    expect(checkAnswer(req(), answer('not json'), ALL)).toEqual({ ok: true });
    expect(checkAnswer(req({ response_format: { type: 'json_object' } }), answer('not json'), ALL)).toMatchObject({ ok: false, reason: 'json', detail: 'not valid JSON' });
    expect(checkAnswer(req(rf), answer('{"n": 1.5}'), ALL)).toMatchObject({ ok: false, detail: '$.n: expected integer, got number' });
    expect(checkAnswer(req(rf), answer('{"n": 2, "x": 1}'), ALL)).toMatchObject({ ok: false, detail: '$.x: not allowed' });
    expect(checkAnswer(req(rf), answer('{"n": 2}'), ALL)).toEqual({ ok: true });
  });

  it('runs only the configured checks', () => {
    expect(checkAnswer(req(), answer(''), { ...ALL, checks: ['refusal'] })).toEqual({ ok: true });
  });
});

describe('schemaViolation', () => {
  it('walks arrays, enums and unions', () => {
    const schema = { type: 'array', items: { anyOf: [{ type: 'string', enum: ['a', 'b'] }, { type: 'null' }] } };
    expect(schemaViolation(['a', null, 'b'], schema)).toBeNull();
    expect(schemaViolation(['a', 'c'], schema)).toBe('$[1]: matches none of anyOf');
  });
});
