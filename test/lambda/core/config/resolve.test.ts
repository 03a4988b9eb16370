import { ConfigError, lifecycleWarnings, resolveConfig } from '../../../../lambda/core/config/resolve';
import { testConfig } from '../../../support/config';

function problems(input: unknown): string[] {
  try {
    resolveConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const base = () => testConfig('http://127.0.0.1:9/v1');

describe('resolveConfig', () => {
  it('resolves a valid config with defaults applied', () => {
    const cfg = resolveConfig(base());
    expect(cfg.models.get('small-a')!.price).toEqual({ inputPerMTok: 1_000_000, outputPerMTok: 2_000_000, cacheReadPerMTok: undefined, cacheWritePerMTok: undefined });
    expect(cfg.raw.quota.outputTokenCap).toBe(4096);
    expect(cfg.raw.server.maxBodyBytes).toBe(1_048_576);
    expect(cfg.tenants.get('globex')!.allowedModels).toEqual(new Set(['small-a', 'small-b']));
  });

  it('keeps embedding models out of tiers and the baseline, prices them from the catalog, and lets tenants use them unless their model list says otherwise', () => {
    const cfg = base();
    cfg.models = [...cfg.models, { id: 'emb', provider: 'up', upstreamModel: 'text-embedding-3-small', kind: 'embedding' }];
    const resolved = resolveConfig(cfg);
    expect(resolved.models.get('emb')).toMatchObject({ priceSource: 'catalog:text-embedding-3-small@2026-12-01', price: { inputPerMTok: 20_000, outputPerMTok: 0 } });
    expect(resolved.tenants.get('acme')!.embeddingModels).toEqual(new Set(['emb']));
    cfg.tenants = [...(cfg.tenants ?? []), { id: 'strict', apiKeys: [], allowedModels: ['small-a'] }];
    expect(resolveConfig(cfg).tenants.get('strict')!.embeddingModels).toEqual(new Set());
    cfg.tiers = [{ name: 'small', models: ['small-a', 'emb'] }, cfg.tiers[1]];
    cfg.routing = { ...cfg.routing, baselineModel: 'emb' };
    expect(problems(cfg)).toEqual([
      "tiers[0].models[1]: 'emb' is an embedding model; it serves POST /v1/embeddings, not a chat tier",
      "routing.baselineModel: 'emb' is an embedding model; choose a chat model",
    ]);
  });

  it('fails when a model has no price anywhere, naming the field: never a silent $0', () => {
    const cfg = base();
    cfg.models = [...cfg.models, { id: 'mystery', provider: 'up', upstreamModel: 'mystery-model-7b' }];
    expect(problems(cfg)).toEqual([expect.stringMatching(/^models\[3\]: no price for 'mystery'.*never priced at \$0/)]);
  });

  it('prices a model from the catalog, a cross-region profile as its base model, and lets overrides win', () => {
    const cfg = base();
    cfg.models = [
      ...cfg.models,
      { id: 'haiku', provider: 'up', upstreamModel: 'us.anthropic.claude-3-5-haiku-20241022-v1:0' },
      { id: 'mini', provider: 'up', upstreamModel: 'gpt-4o-mini' },
    ];
    cfg.prices = { 'gpt-4o-mini': { inputPerMTok: 0.1, outputPerMTok: 0.5 } };
    const r = resolveConfig(cfg);
    expect(r.models.get('haiku')!.price).toEqual({ inputPerMTok: 800_000, outputPerMTok: 4_000_000, cacheWritePerMTok: 1_000_000, cacheReadPerMTok: 80_000 });
    expect(r.models.get('haiku')!.priceSource).toMatch(/^catalog:anthropic\.claude-3-5-haiku-20241022-v1:0@\d{4}-\d{2}-\d{2}$/);
    expect(r.models.get('mini')!.price!.inputPerMTok).toBe(100_000);
    expect(r.models.get('mini')!.priceSource).toBe('config:prices.gpt-4o-mini');
  });

  it('reports every problem at once, each with its path', () => {
    const cfg = base();
    cfg.models = [...cfg.models, { id: 'x', provider: 'nowhere', upstreamModel: 'x', price: { inputPerMTok: 1, outputPerMTok: 1 } }, { id: 'small-a', provider: 'up', upstreamModel: 'y', price: { inputPerMTok: 1, outputPerMTok: 1 } }];
    cfg.tiers = [...cfg.tiers, { name: 'ghost', models: ['missing-model'] }];
    cfg.routing = { thresholds: [{ tier: 'small', upTo: 0.5 }, { tier: 'nope', upTo: 0.4 }], baselineModel: 'unknown' };
    cfg.tenants = [{ id: 'a', apiKeys: [], allowedTiers: ['platinum'] }];
    const p = problems(cfg);
    expect(p).toEqual(expect.arrayContaining([
      "models: duplicate id 'small-a'",
      "tiers[2].models[0]: unknown model 'missing-model'",
      expect.stringMatching(/^models\[3\]\.provider: unknown provider 'nowhere'/),
      "routing.thresholds[1].tier: unknown tier 'nope'",
      'routing.thresholds[1].upTo: 0.4 must be greater than the previous 0.5',
      'routing.thresholds[1].upTo: the last threshold must be 1 so every score has a tier',
      "routing.baselineModel: unknown model 'unknown'",
      "tenants[0].allowedTiers[0]: unknown tier 'platinum'",
    ]));
  });

  it.each([
    ['a wrong type', { providers: 'x' }, /^providers: /],
    ['an unknown provider type', { providers: [{ type: 'grpc', id: 'g' }] }, /^providers\.0\.type: /],
    ['an unknown top-level key', { colour: 'blue' }, /Unrecognized key/],
    ['a bad key hash', { tenants: [{ id: 'a', apiKeys: [{ sha256: 'not-hex' }] }] }, /^tenants\.0\.apiKeys\.0\.sha256: lowercase hex/],
    ['a negative limit', { quota: { defaults: { dailyUsd: -1 } } }, /^quota\.defaults\.dailyUsd: /],
  ])('fails on %s, naming the field', (_name, patch, pattern) => {
    expect(problems({ ...base(), ...patch })).toEqual(expect.arrayContaining([expect.stringMatching(pattern)]));
  });

  describe('cache.semantic', () => {
    const withSemantic = (semantic: Record<string, unknown>) => ({ ...base(), cache: { semantic: { enabled: true, ...semantic } } });

    it('defaults the threshold per embedder and prices Titan from the catalog', () => {
      expect(resolveConfig(withSemantic({})).semanticCache).toMatchObject({ threshold: 0.65, embeddingPriceSource: 'local' });
      const titan = resolveConfig(withSemantic({ embedder: { type: 'bedrock' } })).semanticCache;
      expect(titan).toMatchObject({ threshold: 0.95, embeddingPrice: { inputPerMTok: 20_000 } });
      expect(titan.embeddingPriceSource).toMatch(/^catalog:amazon.titan-embed-text-v2:0@/);
      expect(resolveConfig(withSemantic({ threshold: 0.8, embedder: { type: 'bedrock' } })).semanticCache.threshold).toBe(0.8);
    });

    it('fails when an OpenAI-compatible embedding model has no price: never a silent $0', () => {
      expect(problems(withSemantic({ embedder: { type: 'openai-compatible', baseUrl: 'http://localhost:11434/v1', model: 'nomic-embed-text' } }))).toEqual([
        "cache.semantic.embedder.pricePerMTok: no price for embedding model 'nomic-embed-text' in the catalog; set it (0 for a local server) — embeddings are never priced at $0 silently",
      ]);
      expect(resolveConfig(withSemantic({ embedder: { type: 'openai-compatible', baseUrl: 'http://localhost:11434/v1', model: 'nomic-embed-text', pricePerMTok: 0 } })).semanticCache.embeddingPriceSource)
        .toBe('config:cache.semantic.embedder.pricePerMTok');
    });

    it('fails on an unknown guard, a Titan size it does not make, and an index name OpenSearch refuses', () => {
      expect(problems(withSemantic({ guards: { colour: true } }))).toEqual([expect.stringContaining('cache.semantic.guards')]);
      expect(problems(withSemantic({ embedder: { type: 'bedrock', dimensions: 768 } }))).toEqual([expect.stringContaining('cache.semantic.embedder.dimensions')]);
      expect(problems(withSemantic({ index: { type: 'opensearch', endpoint: 'https://x.aoss.amazonaws.com', indexName: 'Upper' } }))).toEqual([
        expect.stringContaining('cache.semantic.index.indexName'),
      ]);
    });
  });

  it('fails when two tenants share a key', () => {
    const cfg = base();
    cfg.tenants = [{ id: 'a', apiKeys: [{ sha256: 'a'.repeat(64) }] }, { id: 'b', apiKeys: [{ sha256: 'a'.repeat(64) }] }];
    expect(problems(cfg)).toEqual(["tenants[1].apiKeys[0]: key hash already belongs to tenant 'a'"]);
  });
});

describe('lifecycleWarnings', () => {
  const cfg = (upstreamModel: string) => resolveConfig({
    providers: [{ type: 'openai-compatible', id: 'openai', baseUrl: 'https://api.openai.com/v1' }],
    models: [{ id: 'm', provider: 'openai', upstreamModel }],
    tiers: [{ name: 't', models: ['m'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'm' },
  });
  const at = (iso: string) => Date.parse(`${iso}T12:00:00Z`);

  it('warns 60 days ahead of a shutdown, and after it, never earlier', () => {
    expect(lifecycleWarnings(cfg('gpt-5'), at('2026-10-10'))).toEqual([]);
    expect(lifecycleWarnings(cfg('gpt-5'), at('2026-10-11'))).toEqual([
      "model 'm' (gpt-5) retires on 2026-12-11 (in 60 days); the provider recommends 'gpt-5.5' (https://platform.openai.com/docs/deprecations)",
    ]);
    expect(lifecycleWarnings(cfg('gpt-5'), at('2026-12-11'))[0]).toContain('was retired on 2026-12-11');
    expect(lifecycleWarnings(cfg('gpt-5.4'), at('2026-12-01'))).toEqual([]);
  });
});
