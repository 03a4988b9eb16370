import { cacheability, exactCacheKey, semanticContextHash } from '../../../../lambda/core/cache/keys';
import type { ChatRequest } from '../../../../lambda/core/openai/types';
import { sha256 } from '../../../support/fakes';

const req = (extra: Record<string, unknown> = {}, content: unknown = 'What is in this picture?'): ChatRequest =>
  ({ model: 'auto', messages: [{ role: 'user', content }], temperature: 0, ...extra }) as ChatRequest;
const exact = (r: ChatRequest) => exactCacheKey(sha256, 'acme', 'auto', r, undefined);
const semantic = (r: ChatRequest) => semanticContextHash(sha256, 'embedder', 'auto', r, undefined);
const image = (url: string) => [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url } }];

describe('cache keys', () => {
  it.each([
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['presence_penalty', { presence_penalty: 1 }],
    ['frequency_penalty', { frequency_penalty: 0.5 }],
    ['reasoning_effort', { reasoning_effort: 'high' }],
    ['verbosity', { verbosity: 'low' }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['seed', { seed: 7 }],
    ['prediction', { prediction: { type: 'content', content: 'x' } }],
    ['a field added later', { some_future_parameter: true }],
  ])('separates requests that differ in %s, in both tiers', (_name, extra) => {
    expect(exact(req(extra))).not.toBe(exact(req()));
    expect(semantic(req(extra))).not.toBe(semantic(req()));
  });

  it.each([
    ['stream', { stream: true }],
    ['user', { user: 'u-1' }],
    ['metadata', { metadata: { trace: '1' } }],
    ['service_tier', { service_tier: 'priority' }],
  ])('shares entries across %s, which does not change the answer', (_name, extra) => {
    expect(exact(req(extra))).toBe(exact(req()));
  });

  it('is independent of parameter order', () => {
    expect(exact(req({ seed: 1, presence_penalty: 1 }))).toBe(exact(req({ presence_penalty: 1, seed: 1 })));
  });

  it('puts the same question about another image in another semantic partition (its text embeds the same)', () => {
    expect(semantic(req({}, image('data:image/png;base64,AAAA')))).not.toBe(semantic(req({}, image('data:image/png;base64,BBBB'))));
    expect(semantic(req({}, image('data:image/png;base64,AAAA')))).toBe(semantic(req({}, image('data:image/png;base64,AAAA'))));
    expect(exact(req({}, image('data:image/png;base64,AAAA')))).not.toBe(exact(req({}, image('data:image/png;base64,BBBB'))));
  });

  it('does not cache a request asking for log-probabilities: a stored answer has none', () => {
    expect(cacheability(req({ logprobs: true }), 0.5)).toEqual({ cacheable: false, reason: 'logprobs' });
    expect(cacheability(req({ top_logprobs: 3 }), 0.5)).toEqual({ cacheable: false, reason: 'logprobs' });
    expect(cacheability(req({ logprobs: false }), 0.5)).toEqual({ cacheable: true });
  });
});
