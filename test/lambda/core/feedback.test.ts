import { parseFeedback } from '../../../lambda/core/feedback';

const parse = (body: unknown) => {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  return parseFeedback(raw, Buffer.byteLength(raw));
};

describe('parseFeedback', () => {
  it('accepts a score with an optional model and prompt', () => {
    expect(parse({ request_id: 'req-1', score: 0.5 })).toEqual({ request_id: 'req-1', score: 0.5, model: null, prompt: null });
    expect(parse({ request_id: 'a:b.c_d', score: 1, model: 'small-a', prompt: 'hi' })).toEqual({ request_id: 'a:b.c_d', score: 1, model: 'small-a', prompt: 'hi' });
  });

  it.each([
    ['not json', 'invalid_json', null],
    [[1, 2], 'invalid_type', null],
    [{ request_id: 'r', score: 1, extra: 1 }, 'unknown_parameter', 'extra'],
    [{ score: 1 }, 'invalid_value', 'request_id'],
    [{ request_id: 'has space', score: 1 }, 'invalid_value', 'request_id'],
    [{ request_id: 'r', score: 1.5 }, 'invalid_value', 'score'],
    [{ request_id: 'r', score: '1' }, 'invalid_value', 'score'],
    [{ request_id: 'r', score: 1, prompt: '' }, 'invalid_type', 'prompt'],
  ])('refuses %j with 400 %s on %s', (body, code, param) => {
    expect(() => parse(body)).toThrow(expect.objectContaining({ status: 400, code, param }));
  });

  it('refuses a body over 64 KiB with 413', () => {
    expect(() => parse({ request_id: 'r', score: 1, prompt: 'x'.repeat(70_000) })).toThrow(expect.objectContaining({ status: 413 }));
  });
});
