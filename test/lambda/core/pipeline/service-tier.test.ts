import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { ServiceTierPolicyConfig } from '../../../../lambda/core/config/schema';
import type { ChatRequest } from '../../../../lambda/core/openai/types';
import { decideServiceTier, takesServiceTier } from '../../../../lambda/core/pipeline/service-tier';

const req = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra }) as ChatRequest;
const policy = (p: Partial<ServiceTierPolicyConfig> & Pick<ServiceTierPolicyConfig, 'tier'>): ServiceTierPolicyConfig =>
  ({ allowRequest: ['default', 'flex'], fallbackToDefault: true, ...p }) as ServiceTierPolicyConfig;

describe('decideServiceTier', () => {
  const policies = [
    policy({ tier: 'flex' }),
    policy({ feature: 'checkout', tier: 'priority', allowRequest: [] }),
    policy({ tenant: 'acme', feature: 'checkout', tier: 'default' }),
    policy({ tenant: 'globex', tier: 'flex', fallbackToDefault: false }),
  ];

  it('applies the most specific policy: tenant+feature, then tenant, then feature, then global', () => {
    expect(decideServiceTier(req(), policies, 'acme', 'checkout')).toEqual({ request: req(), source: null, flexFallback: false });
    expect(decideServiceTier(req(), policies, 'initech', 'checkout')).toMatchObject({ request: { service_tier: 'priority' }, source: 'policy', flexFallback: false });
    expect(decideServiceTier(req(), policies, 'globex', 'checkout')).toMatchObject({ request: { service_tier: 'flex' }, source: 'policy', flexFallback: false });
    expect(decideServiceTier(req(), policies, 'initech', 'chat')).toMatchObject({ request: { service_tier: 'flex' }, source: 'policy', flexFallback: true });
  });

  it('leaves the request alone without a policy (its own tier is the client\'s)', () => {
    expect(decideServiceTier(req({ service_tier: 'priority' }), [], 't', 'f')).toEqual({ request: req({ service_tier: 'priority' }), source: 'request', flexFallback: false });
    expect(decideServiceTier(req({ service_tier: 'auto' }), [], 't', 'f')).toEqual({ request: req({ service_tier: 'auto' }), source: null, flexFallback: false });
  });

  it('lets a request ask for an allowed tier; auto and no field leave it to the policy; standard means default', () => {
    expect(decideServiceTier(req({ service_tier: 'default' }), policies, 'initech', 'chat')).toEqual({ request: req(), source: null, flexFallback: false });
    expect(decideServiceTier(req({ service_tier: 'standard' }), policies, 'initech', 'chat')).toEqual({ request: req(), source: null, flexFallback: false });
    expect(decideServiceTier(req({ service_tier: 'auto' }), policies, 'initech', 'chat')).toMatchObject({ request: { service_tier: 'flex' }, source: 'policy' });
    expect(decideServiceTier(req({ service_tier: 'flex' }), policies, 'initech', 'chat')).toMatchObject({ request: { service_tier: 'flex' }, source: 'policy', flexFallback: true });
  });

  it('refuses a tier the policy does not allow, naming the policy\'s tier and what may be asked', () => {
    expect(() => decideServiceTier(req({ service_tier: 'priority' }), policies, 'initech', 'chat'))
      .toThrow("service_tier 'priority' is not allowed here: the service-tier policy for tenant 'initech' and feature 'chat' sets 'flex' and lets a request ask for 'default', 'flex'.");
    expect(() => decideServiceTier(req({ service_tier: 'default' }), policies, 'initech', 'checkout')).toThrow("lets a request ask for no other tier");
  });
});

describe('takesServiceTier', () => {
  const config = resolveConfig({
    providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }, { type: 'openai-compatible', id: 'oa', baseUrl: 'http://127.0.0.1:9' }],
    models: [
      { id: 'nova-pro', provider: 'bedrock', upstreamModel: 'us.amazon.nova-pro-v1:0' },
      { id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' },
      { id: 'gpt', provider: 'oa', upstreamModel: 'gpt-4o-mini', price: { inputPerMTok: 1, outputPerMTok: 2 } },
    ],
    tiers: [{ name: 't', models: ['nova-pro', 'nova-lite', 'gpt'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-pro' },
  });
  const m = (id: string) => config.models.get(id)!;

  it('Bedrock takes flex and priority only where the model has a price row (Nova Pro in the catalog, not Nova Lite)', () => {
    expect(m('nova-pro').price?.serviceTiers?.flex).toBeDefined();
    expect(takesServiceTier(m('nova-pro'), 'flex')).toBe(true);
    expect(takesServiceTier(m('nova-pro'), 'priority')).toBe(true);
    expect(takesServiceTier(m('nova-pro'), 'scale')).toBe(false);
    expect(takesServiceTier(m('nova-lite'), 'flex')).toBe(false);
  });

  it('OpenAI-compatible providers take any tier in the body (an unpriced one a client asks for is refused before the call)', () => {
    expect(takesServiceTier(m('gpt'), 'flex')).toBe(true);
  });
});
