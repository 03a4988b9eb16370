import { PINECONE_METADATA_MAX_BYTES, PineconeSemanticIndex } from '../../../lambda/adapters/pinecone-semantic-index';
import { buildCache } from '../../../lambda/adapters/wiring';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { testConfig } from '../../support/config';
import { FakePinecone } from '../../support/pinecone';
import { cachedAnswer } from './exact-cache.contract';
import { semanticIndexContract, unit } from './semantic-index.contract';

const fakes: FakePinecone[] = [];
afterAll(async () => {
  for (const f of fakes) await f.stop();
});

async function fake(dims = 16): Promise<FakePinecone> {
  const f = new FakePinecone(dims);
  await f.start();
  fakes.push(f);
  return f;
}

// Against a recording stand-in of Pinecone's data plane (test/support/pinecone.ts); with PINECONE_HOST and
// PINECONE_API_KEY set (a cosine index of 16 dimensions) the contract also runs against the real service, where
// eventual consistency may need a retry.
semanticIndexContract('pinecone (loopback data plane)', async (now) => {
  const f = await fake();
  return new PineconeSemanticIndex({ host: f.host, apiKey: f.apiKey, now });
});
if (process.env.PINECONE_HOST && process.env.PINECONE_API_KEY) {
  semanticIndexContract('pinecone (real service)', async (now) => new PineconeSemanticIndex({ host: process.env.PINECONE_HOST!, apiKey: process.env.PINECONE_API_KEY!, now }));
}

describe('PineconeSemanticIndex requests', () => {
  const entry = (prompt: string) => ({ prompt, value: cachedAnswer(`answer to ${prompt}`) });

  it('sends the documented shapes: a namespace per tenant, the context and expiry as a metadata filter, the key and API version as headers', async () => {
    const f = await fake(4);
    const now = Date.UTC(2026, 11, 1);
    const index = new PineconeSemanticIndex({ host: f.host, apiKey: f.apiKey, now: () => now, apiVersion: '2025-10' });
    await index.put('acme', 'ctx-1', unit(4, 0), entry('q'), 60_000);
    await index.search('acme', 'ctx-1', unit(4, 0), 0.9, 5);
    const [upsert, query] = f.requests;
    expect(upsert.path).toBe('/vectors/upsert');
    expect(upsert.headers).toMatchObject({ 'api-key': 'pc-test-key', 'x-pinecone-api-version': '2025-10', 'content-type': 'application/json' });
    expect(upsert.body).toEqual({
      namespace: 'tenant-acme',
      vectors: [{ id: expect.stringMatching(/^ctx-1-/), values: [1, 0, 0, 0], metadata: { context: 'ctx-1', expires_at: now + 60_000, prompt: 'q', value: JSON.stringify(cachedAnswer('answer to q')) } }],
    });
    expect(query.path).toBe('/query');
    expect(query.body).toEqual({
      namespace: 'tenant-acme', vector: [1, 0, 0, 0], topK: 5,
      filter: { context: { $eq: 'ctx-1' }, expires_at: { $gt: now } }, includeMetadata: true, includeValues: false,
    });
  });

  it('does not store an entry over Pinecone\'s 40 KB metadata limit (the request would be refused)', async () => {
    const f = await fake(4);
    const index = new PineconeSemanticIndex({ host: f.host, apiKey: f.apiKey });
    await index.put('acme', 'ctx', unit(4, 0), entry('x'.repeat(PINECONE_METADATA_MAX_BYTES)), 60_000);
    expect(f.requests).toEqual([]);
  });

  it('turns HTTP errors and malformed answers into errors naming the call (the cache step serves a miss)', async () => {
    const f = await fake(4);
    await expect(new PineconeSemanticIndex({ host: f.host, apiKey: 'wrong' }).search('acme', 'ctx', unit(4, 0), 0.9, 5)).rejects.toThrow('pinecone /query: HTTP 401: Unauthorized');
    await expect(new PineconeSemanticIndex({ host: f.host, apiKey: f.apiKey }).put('acme', 'ctx', unit(8, 0), entry('q'), 1000)).rejects.toThrow('pinecone /vectors/upsert: HTTP 400: Vector dimension 8 does not match the dimension of the index 4');
    const bad = new PineconeSemanticIndex({ host: 'http://x', apiKey: 'k', fetch: (async () => new Response('{"matches": [{"id": "a", "score": "high"}]}')) as typeof fetch });
    await expect(bad.search('acme', 'ctx', unit(4, 0), 0.9, 5)).rejects.toThrow('match a has no numeric score');
    const none = new PineconeSemanticIndex({ host: 'http://x', apiKey: 'k', fetch: (async () => new Response('{}')) as typeof fetch });
    await expect(none.search('acme', 'ctx', unit(4, 0), 0.9, 5)).rejects.toThrow('the response has no matches list');
  });

  it('re-checks each match: another context, an expired record or an unreadable answer is never served', async () => {
    const now = 1_000_000;
    const matches = [
      { id: 'a', score: 0.99, metadata: { context: 'other', expires_at: now + 1, prompt: 'p', value: '{}' } },
      { id: 'b', score: 0.98, metadata: { context: 'ctx', expires_at: now, prompt: 'p', value: '{}' } },
      { id: 'c', score: 0.97, metadata: { context: 'ctx', expires_at: now + 1, prompt: 'p', value: 'not json' } },
      { id: 'd', score: 0.96, metadata: { context: 'ctx', expires_at: now + 1, prompt: 'kept', value: '{"modelId": "m"}' } },
    ];
    const index = new PineconeSemanticIndex({ host: 'http://x', apiKey: 'k', now: () => now, fetch: (async () => new Response(JSON.stringify({ matches }))) as typeof fetch });
    expect(await index.search('acme', 'ctx', unit(4, 0), 0.9, 5)).toEqual([{ score: 0.96, prompt: 'kept', value: { modelId: 'm' } }]);
  });

  it('an entry not yet visible (eventual consistency) is a miss, then a hit', async () => {
    const f = await fake(4);
    f.visibilityDelayMs = 300;
    const index = new PineconeSemanticIndex({ host: f.host, apiKey: f.apiKey });
    await index.put('acme', 'ctx', unit(4, 0), entry('q'), 60_000);
    expect(await index.search('acme', 'ctx', unit(4, 0), 0.9, 5)).toEqual([]);
    await new Promise((r) => setTimeout(r, 350));
    expect((await index.search('acme', 'ctx', unit(4, 0), 0.9, 5)).map((c) => c.prompt)).toEqual(['q']);
  });
});

describe('Pinecone in the config', () => {
  const withIndex = (index: Record<string, unknown>) => resolveConfig(testConfig('http://127.0.0.1:9/v1', {
    cache: { semantic: { enabled: true, embedder: { type: 'local', dimensions: 64 }, index: index as never } },
  }));

  it('builds the adapter with the key from the named environment variable, and says which variable is unset', () => {
    const config = withIndex({ type: 'pinecone', host: 'cache-abc.svc.aped-1234.pinecone.io', apiKeyEnv: 'PINECONE_KEY' });
    expect(buildCache(config, { env: { PINECONE_KEY: 'k' } }, {}).semantic?.index).toBeInstanceOf(PineconeSemanticIndex);
    expect(() => buildCache(config, { env: {} }, {})).toThrow('cache.semantic.index.apiKeyEnv: environment variable PINECONE_KEY is not set');
    const secret = withIndex({ type: 'pinecone', host: 'h', apiKeySecret: 'llm/pinecone' });
    expect(buildCache(secret, { env: {} }, { indexKey: 'from-secret' }).semantic?.index).toBeInstanceOf(PineconeSemanticIndex);
    expect(() => buildCache(secret, { env: {} }, {})).toThrow('the key was not loaded');
  });

  it('needs exactly one of apiKeyEnv and apiKeySecret', () => {
    expect(() => withIndex({ type: 'pinecone', host: 'h' })).toThrow('set exactly one of apiKeyEnv and apiKeySecret');
    expect(() => withIndex({ type: 'pinecone', host: 'h', apiKeyEnv: 'A', apiKeySecret: 'b' })).toThrow('set exactly one of apiKeyEnv and apiKeySecret');
  });
});
