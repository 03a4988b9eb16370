import { estimateInputTokens, estimateTextTokens, utf8Length } from '../../../lambda/core/tokens';

describe('token estimation', () => {
  it('counts UTF-8 bytes like Buffer does, surrogate pairs included', () => {
    for (const s of ['', 'abc', 'é', '数据', '👩🏽‍💻', 'mixed 数据 👍']) expect(utf8Length(s)).toBe(Buffer.byteLength(s));
  });

  it('over-estimates English against the ~4 characters per token of BPE tokenisers', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20);
    expect(estimateTextTokens(text)).toBeGreaterThanOrEqual(Math.ceil(text.length / 4));
  });

  it('counts at least one token per CJK character', () => {
    expect(estimateTextTokens('数据分析报告')).toBeGreaterThanOrEqual(6);
  });

  it('adds per-message overhead and a fixed budget for images', () => {
    const n = estimateInputTokens({
      model: 'x',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'describe' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }],
    });
    expect(n).toBeGreaterThan(1600);
  });
});
