import { DEFAULT_BATCH_LIMITS, parseBatchInput, type BatchInputLimits } from '../../../../lambda/core/batch/input';
import { parseChatRequest } from '../../../../lambda/core/openai/validate';

const chat = (raw: string, bytes: number) => void parseChatRequest(raw, bytes, DEFAULT_BATCH_LIMITS.maxLineBytes);
const line = (id: string, body: Record<string, unknown> = { model: 'auto', messages: [{ role: 'user', content: `q ${id}` }] }, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body, ...extra });
const parse = (text: string, limits: BatchInputLimits = DEFAULT_BATCH_LIMITS) =>
  parseBatchInput(text, Buffer.byteLength(text), '/v1/chat/completions', limits, chat);

describe('parseBatchInput', () => {
  it('accepts a file of chat requests (CRLF and a final newline allowed), each with its line, id, model and body', () => {
    const text = `${line('a')}\r\n${line('b', { model: 'small-a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 })}\n`;
    const out = parse(text);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.lines.map((l) => [l.line, l.customId, l.model])).toEqual([[1, 'a', 'auto'], [2, 'b', 'small-a']]);
    expect(JSON.parse(out.lines[1].body)).toEqual({ model: 'small-a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    expect(out.lines[1].bodyBytes).toBe(Buffer.byteLength(out.lines[1].body));
  });

  it('refuses the whole file and reports every bad line by number, with the param at fault', () => {
    const text = [
      line('ok-1'),
      '{"custom_id": "broken", ',
      '[1, 2]',
      line('', undefined),
      line('ok-1'),
      line('get', undefined, { method: 'GET' }),
      line('emb', undefined, { url: '/v1/embeddings' }),
      line('nobody', undefined, { body: 'text' }),
      line('nomodel', { messages: [{ role: 'user', content: 'x' }] }),
      line('streams', { model: 'auto', stream: true, messages: [{ role: 'user', content: 'x' }] }),
      line('nomessages', { model: 'auto' }),
      '',
      line('ok-2'),
    ].join('\n');
    const out = parse(text);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.errors.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'invalid_request', null],
      [4, 'invalid_custom_id', 'custom_id'],
      [5, 'duplicate_custom_id', 'custom_id'],
      [6, 'invalid_method', 'method'],
      [7, 'mismatched_url', 'url'],
      [8, 'invalid_body', 'body'],
      [9, 'missing_model', 'body.model'],
      [10, 'invalid_body', 'body.stream'],
      [11, expect.any(String), 'body.messages'],
      [12, 'empty_line', null],
    ]);
    expect(out.errors[3].message).toBe("Line 5: custom_id 'ok-1' is also on line 1; each must be unique in the file.");
    expect(out.errors[5].message).toBe('Line 7: url "/v1/embeddings" is not the batch\'s endpoint /v1/chat/completions.');
    expect(out.errors[9].message).toMatch(/^Line 11: .*messages/);
    expect(out.more).toBe(0);
  });

  it('refuses an empty file, a file or a line over its limit, and too many requests', () => {
    expect(parse('')).toEqual({ ok: false, errors: [{ code: 'empty_file', line: null, message: 'The input file has no requests.', param: 'input_file_id' }], more: 0 });
    expect(parse('\n\n')).toMatchObject({ ok: false, errors: [{ code: 'empty_file' }] });
    const small: BatchInputLimits = { maxLines: 2, maxFileBytes: 10_000, maxLineBytes: 200 };
    expect(parse([line('a'), line('b'), line('c')].join('\n'), small)).toMatchObject({
      ok: false, errors: [{ code: 'too_many_requests', line: null, message: 'The input file has 3 requests; a batch takes at most 2.' }],
    });
    const long = line('long', { model: 'auto', messages: [{ role: 'user', content: 'x'.repeat(300) }] });
    expect(parse(long, small)).toMatchObject({ ok: false, errors: [{ code: 'line_too_large', line: 1 }] });
    expect(parseBatchInput('x', 20_000, '/v1/chat/completions', small, chat)).toMatchObject({ ok: false, errors: [{ code: 'file_too_large', param: 'input_file_id' }] });
  });

  it('reports the first 100 bad lines and counts the rest', () => {
    const out = parse(Array.from({ length: 150 }, () => 'nope').join('\n'));
    expect(out).toMatchObject({ ok: false, more: 50 });
    if (!out.ok) expect(out.errors).toHaveLength(100);
  });

  it('takes a 10,000-line file', () => {
    const out = parse(Array.from({ length: 10_000 }, (_, i) => line(`req-${i}`)).join('\n'));
    expect(out.ok && out.lines.length).toBe(10_000);
  });
});
