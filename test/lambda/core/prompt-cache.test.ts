import { countCachePoints, placeCachePoints } from '../../../lambda/core/prompt-cache';
import type { ChatRequest } from '../../../lambda/core/openai/types';
import { validateChatRequest } from '../../../lambda/core/openai/validate';
import { estimateMessage } from '../../../lambda/core/tokens';

// ~4 bytes a token: 4,400 characters is ~1,100 tokens, past a 1,024-token minimum; 400 characters ~100 tokens.
const long = 'policy '.repeat(629); // 4,403 characters
const short = 'be brief';
const limits = { minTokens: 1024, maxPoints: 4, ttl1h: true };
const req = (messages: ChatRequest['messages']): ChatRequest => ({ model: 'm', messages });

describe('placeCachePoints (automatic Bedrock cache points)', () => {
  it('marks the end of a system prompt past the model minimum, as a text part with the hint', () => {
    const out = placeCachePoints(req([{ role: 'system', content: long }, { role: 'user', content: 'hi' }]), limits, '5m');
    expect(estimateMessage({ role: 'system', content: long })).toBeGreaterThanOrEqual(1024);
    expect(out.messages[0]).toEqual({ role: 'system', content: [{ type: 'text', text: long, cache_control: { type: 'ephemeral' } }] });
    expect(out.messages[1]).toEqual({ role: 'user', content: 'hi' });
  });

  it('leaves a short system prompt alone (below the minimum Bedrock would ignore the point and bill as usual)', () => {
    const r = req([{ role: 'system', content: short }, { role: 'user', content: 'hi' }]);
    expect(placeCachePoints(r, limits, '5m')).toBe(r);
  });

  it('adds a second point after the conversation so far only when that prefix holds twice the minimum', () => {
    const convo = req([
      { role: 'system', content: long },
      { role: 'user', content: long },
      { role: 'assistant', content: 'noted' },
      { role: 'user', content: 'and now?' },
    ]);
    const out = placeCachePoints(convo, limits, '1h');
    expect(countCachePoints(out)).toBe(2);
    expect(out.messages[2]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'noted', cache_control: { type: 'ephemeral', ttl: '1h' } }] });
    // A model without the 1-hour TTL gets the 5-minute one.
    expect((placeCachePoints(convo, { ...limits, ttl1h: false }, '1h').messages[0].content as unknown as { cache_control: unknown }[])[0].cache_control).toEqual({ type: 'ephemeral' });
    // At 4,096 tokens a point (Claude Haiku 4.5), neither prefix qualifies.
    expect(placeCachePoints(convo, { ...limits, minTokens: 4096 }, '5m')).toBe(convo);
    // One point allowed: only the system prompt's.
    expect(countCachePoints(placeCachePoints(convo, { ...limits, maxPoints: 1 }, '5m'))).toBe(1);
  });

  it('never adds to a request that carries the client\'s own hints', () => {
    const r = req([{ role: 'system', content: [{ type: 'text', text: long, cache_control: { type: 'ephemeral' } }] }, { role: 'user', content: long + long }]);
    expect(placeCachePoints(r, limits, '5m')).toBe(r);
  });
});

describe('cache_control in requests', () => {
  const withHint = (cache_control: unknown) => ({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x', cache_control }] }] });

  it('accepts Anthropic\'s shape and refuses anything else with a 400 naming the part', () => {
    expect(() => validateChatRequest(withHint({ type: 'ephemeral' }))).not.toThrow();
    expect(() => validateChatRequest(withHint({ type: 'ephemeral', ttl: '1h' }))).not.toThrow();
    for (const bad of [{ type: 'persistent' }, { type: 'ephemeral', ttl: '2h' }, 'yes', { type: 'ephemeral', scope: 'org' }]) {
      expect(() => validateChatRequest(withHint(bad))).toThrow(expect.objectContaining({ status: 400, param: 'messages[0].content[0].cache_control' }));
    }
  });
});
