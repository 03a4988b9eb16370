import { configFromEnv } from '../../../lambda/handlers/shared/config-from-env';

describe('configFromEnv', () => {
  const base = { providers: [], cache: { exact: { ttlSeconds: 60 }, semantic: { threshold: 0.9 } } };

  it('returns the inline config unchanged without cache variables', () => {
    expect(configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(base) })).toEqual(base);
  });

  it('lays the deployed cache resources over the config, keeping its other cache settings', () => {
    const index = { type: 'opensearch', endpoint: 'https://search-x.eu-west-1.es.amazonaws.com', service: 'es', indexName: 'c', region: 'eu-west-1' };
    const embedder = { type: 'bedrock', model: 'amazon.titan-embed-text-v2:0', dimensions: 512 };
    expect(configFromEnv({
      LLM_FINOPS_CONFIG: JSON.stringify(base),
      LLM_FINOPS_SEMANTIC_INDEX: JSON.stringify(index),
      LLM_FINOPS_SEMANTIC_EMBEDDER: JSON.stringify(embedder),
      LLM_FINOPS_EXACT_CACHE_TABLE: 'cache-table',
    })).toEqual({
      providers: [],
      cache: {
        exact: { ttlSeconds: 60, store: { type: 'dynamodb', tableName: 'cache-table' } },
        semantic: { threshold: 0.9, enabled: true, index, embedder },
      },
    });
  });

  it('names both variables when neither is set', () => {
    expect(() => configFromEnv({})).toThrow('Set LLM_FINOPS_CONFIG (JSON) or LLM_FINOPS_CONFIG_FILE (path)');
  });

  it("lays each tenant's inference profiles over its upstreamModels, refusing tenants the config lacks", () => {
    const config = { tenants: [{ id: 'acme', upstreamModels: { a: 'x' } }, { id: 'globex' }] };
    const profile = 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123';
    const out = configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_TENANT_UPSTREAMS: JSON.stringify({ acme: { nova: profile } }) }) as typeof config;
    expect(out.tenants).toEqual([{ id: 'acme', upstreamModels: { a: 'x', nova: profile } }, { id: 'globex' }]);
    expect(() => configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_TENANT_UPSTREAMS: JSON.stringify({ initech: {} }) })).toThrow('LLM_FINOPS_TENANT_UPSTREAMS: tenants not in the config: initech');
    expect(() => configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_TENANT_UPSTREAMS: '{' })).toThrow('LLM_FINOPS_TENANT_UPSTREAMS is not JSON');
    // What TenantInferenceProfiles sets: the ARN prefix once, then ids.
    const prefix = 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/';
    const compact = configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_TENANT_UPSTREAMS: JSON.stringify({ prefix, ids: { acme: { nova: 'a1b2c3d4e5f6' } } }) }) as typeof config;
    expect(compact.tenants.find((t) => t.id === 'acme')!.upstreamModels).toMatchObject({ nova: `${prefix}a1b2c3d4e5f6` });
    expect(() => configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_TENANT_UPSTREAMS: JSON.stringify({ prefix, ids: { acme: { nova: '../x' } } }) })).toThrow('profile id of acme/nova is not an id');
    expect(() => configFromEnv({ LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_TENANT_UPSTREAMS: JSON.stringify({ prefix, ids: { initech: { nova: 'abc' } } }) })).toThrow('tenants not in the config: initech');
  });
});
