import { createHash } from 'node:crypto';
import type { GatewayConfigInput } from '../../lambda/core/config/schema';
import type { GatewayConfigDocument } from '../../lambda/contract';

export const KEYS = { acme: 'sk-test-acme', globex: 'sk-test-globex', initech: 'sk-test-initech' } as const;
export const hash = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * A config on one OpenAI-compatible upstream with round prices (USD per 1M tokens) so costs are easy to check:
 * small-a 1/2, small-b 2/4, big 10/30 (cache read 1), baseline big.
 */
export function testConfig(baseUrl: string, overrides: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    providers: [{ type: 'openai-compatible', id: 'up', baseUrl, timeoutMs: 2000 }],
    models: [
      { id: 'small-a', provider: 'up', upstreamModel: 'up-small-a', price: { inputPerMTok: 1, outputPerMTok: 2 }, maxOutputTokens: 1000 },
      { id: 'small-b', provider: 'up', upstreamModel: 'up-small-b', price: { inputPerMTok: 2, outputPerMTok: 4 }, maxOutputTokens: 1000 },
      { id: 'big', provider: 'up', upstreamModel: 'up-big', price: { inputPerMTok: 10, outputPerMTok: 30, cacheReadPerMTok: 1 }, maxOutputTokens: 4000 },
    ],
    tiers: [
      { name: 'small', models: ['small-a', 'small-b'] },
      { name: 'large', models: ['big', 'small-b'] },
    ],
    routing: {
      thresholds: [{ tier: 'small', upTo: 0.3 }, { tier: 'large', upTo: 1 }],
      baselineModel: 'big',
      retry: { attemptsPerModel: 2, baseDelayMs: 1, maxDelayMs: 5 },
    },
    tenants: [
      { id: 'acme', team: 'platform', apiKeys: [{ sha256: hash(KEYS.acme) }], limits: { dailyUsd: 10 } },
      { id: 'globex', apiKeys: [{ sha256: hash(KEYS.globex) }], allowedTiers: ['small'] },
      { id: 'initech', apiKeys: [{ sha256: hash(KEYS.initech) }], limits: { dailyUsd: 0.0001 } },
    ],
    cache: { exact: { enabled: true } },
    usage: { sink: 'none' },
    ...overrides,
  };
}

/** The smallest config a construct accepts: one Bedrock model (a us. profile: stacks in us-east-1) and one tenant. */
export const BEDROCK_CONSTRUCT_CONFIG: GatewayConfigDocument = {
  providers: [{ type: 'bedrock', id: 'bedrock' }],
  models: [{ id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
  tiers: [{ name: 'small', models: ['nova-lite'] }],
  routing: { thresholds: [{ tier: 'small', upTo: 1 }], baselineModel: 'nova-lite' },
  tenants: [{ id: 'acme', apiKeys: [{ sha256: 'a'.repeat(64) }] }],
};
