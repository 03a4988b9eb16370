import { connectValkey, ValkeySemanticIndex, type ValkeyCommands } from '../../../lambda/adapters/valkey-semantic-index';
import { buildCache } from '../../../lambda/adapters/wiring';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { testConfig } from '../../support/config';
import { FakeValkey } from '../../support/valkey';
import { cachedAnswer } from './exact-cache.contract';
import { semanticIndexContract, unit } from './semantic-index.contract';

const fakes: FakeValkey[] = [];
const clients: ValkeyCommands[] = [];
afterAll(async () => {
  for (const c of clients) await c.close?.();
  for (const f of fakes) await f.stop();
});

async function fake(password?: string): Promise<FakeValkey> {
  const f = new FakeValkey(password);
  await f.start();
  fakes.push(f);
  return f;
}

function client(url: string, password?: string, username?: string): ValkeyCommands {
  const c = connectValkey({ url, password, username, timeoutMs: 2_000 });
  clients.push(c);
  return c;
}

// The real ioredis client against a RESP loopback stand-in of Valkey with valkey-search (test/support/valkey.ts);
// with VALKEY_URL set (redis[s]://[user:password@]host:port of a Valkey 8.2+ with search, or Redis 8) the contract
// also runs against that server, each run under a fresh key prefix and index name.
semanticIndexContract('valkey (loopback RESP server, real ioredis client)', async (now) => {
  const f = await fake('s3cret');
  return new ValkeySemanticIndex({ client: client(f.url, 's3cret'), indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 16, now });
});
if (process.env.VALKEY_URL) {
  semanticIndexContract('valkey (real server)', async (now) => {
    const run = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    return new ValkeySemanticIndex({ client: client(process.env.VALKEY_URL!), indexName: `semcache-${run}`, keyPrefix: `llmcache-${run}:`, dimensions: 16, now });
  });
}

describe('ValkeySemanticIndex commands', () => {
  const entry = (prompt: string) => ({ prompt, value: cachedAnswer(`answer to ${prompt}`) });

  it('creates the HNSW index once, writes a hash with its expiry in one transaction, and searches with a tag and expiry pre-filter', async () => {
    const f = await fake();
    const now = Date.UTC(2026, 11, 1);
    const index = new ValkeySemanticIndex({ client: client(f.url), indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4, now: () => now, efRuntime: 64 });
    await index.put('acme', 'ctx-1', unit(4, 0), entry('q'), 60_000);
    await index.search('acme', 'ctx-1', unit(4, 0), 0.9, 5);
    const cmds = f.dataCommands();
    expect(cmds.map((c) => c[0])).toEqual(['FT.INFO', 'FT.CREATE', 'MULTI', 'HSET', 'PEXPIRE', 'EXEC', 'FT.SEARCH']);
    expect(cmds[1]).toEqual(['FT.CREATE', 'semcache', 'ON', 'HASH', 'PREFIX', '1', 'llmcache:', 'SCHEMA',
      'vector', 'VECTOR', 'HNSW', '10', 'TYPE', 'FLOAT32', 'DIM', '4', 'DISTANCE_METRIC', 'COSINE', 'M', '16', 'EF_CONSTRUCTION', '128',
      'tenant', 'TAG', 'context', 'TAG', 'expires_at', 'NUMERIC']);
    const acme = Buffer.from('acme').toString('hex');
    const ctx = Buffer.from('ctx-1').toString('hex');
    const [, key, ...fields] = cmds[3];
    expect(key).toMatch(new RegExp(`^llmcache:${acme}:ctx-1:`));
    expect(fields.slice(0, 10)).toEqual(['tenant', acme, 'context', ctx, 'expires_at', String(now + 60_000), 'prompt', 'q', 'value', JSON.stringify(cachedAnswer('answer to q'))]);
    expect(fields[10]).toBe('vector');
    expect(cmds[4]).toEqual(['PEXPIRE', key, '60000']);
    expect(cmds[6].slice(0, 3)).toEqual(['FT.SEARCH', 'semcache', `(@tenant:{${acme}} @context:{${ctx}} @expires_at:[${now + 1} +inf])=>[KNN 5 @vector $vec EF_RUNTIME 64]`]);
    expect(cmds[6].slice(3, 6)).toEqual(['PARAMS', '2', 'vec']);
    expect(cmds[6].slice(7)).toEqual(['LIMIT', '0', '5', 'DIALECT', '2']);
    await index.search('acme', 'ctx-1', unit(4, 0), 0.9, 5);
    expect(f.dataCommands().filter((c) => c[0].startsWith('FT.INFO') || c[0] === 'FT.CREATE')).toHaveLength(2);
  });

  it('a tenant id with query syntax in it stays inside its tag: hex-encoded, it matches only itself', async () => {
    const f = await fake();
    const index = new ValkeySemanticIndex({ client: client(f.url), indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 });
    await index.put('acme', 'ctx', unit(4, 0), entry('acme only'), 60_000);
    for (const hostile of ['acme} | @tenant:{*', 'ac\\me', '*', 'acme|globex']) {
      expect(await index.search(hostile, 'ctx', unit(4, 0), -1, 5)).toEqual([]);
    }
    expect((await index.search('acme', 'ctx', unit(4, 0), 0.9, 5)).map((c) => c.prompt)).toEqual(['acme only']);
  });

  it('reuses an existing index of the right size and refuses one of another size', async () => {
    const f = await fake();
    const c = client(f.url);
    await new ValkeySemanticIndex({ client: c, indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 }).ensureIndex();
    await new ValkeySemanticIndex({ client: c, indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 }).ensureIndex();
    await expect(new ValkeySemanticIndex({ client: c, indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 8 }).ensureIndex())
      .rejects.toThrow("Valkey index 'semcache' has vectors of 4 dimensions, the embedder makes 8");
    expect(f.dataCommands().filter((x) => x[0] === 'FT.CREATE')).toHaveLength(1);
  });

  it('the key itself expires on the server (PEXPIRE), not only in the filter', async () => {
    const f = await fake();
    let serverNow = 1_000_000;
    f.now = () => serverNow;
    const c = client(f.url);
    const index = new ValkeySemanticIndex({ client: c, indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 });
    await index.put('acme', 'ctx', unit(4, 0), entry('short'), 50);
    const key = f.dataCommands().find((x) => x[0] === 'HSET')![1];
    serverNow += 49;
    expect(await c.call('HGETALL', key)).not.toEqual([]);
    serverNow += 1;
    expect(await c.call('HGETALL', key)).toEqual([]);
  });

  it('authenticates with the password, and a wrong one fails the call with the server\'s error (the cache step serves a miss)', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const f = await fake('s3cret');
    const good = new ValkeySemanticIndex({ client: client(f.url, 's3cret'), indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 });
    await good.put('acme', 'ctx', unit(4, 0), entry('q'), 60_000);
    expect(f.commands.find((c) => c[0] === 'AUTH')).toEqual(['AUTH', 's3cret']);
    const bad = new ValkeySemanticIndex({ client: client(f.url, 'wrong'), indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 });
    await expect(bad.search('acme', 'ctx', unit(4, 0), 0.9, 5)).rejects.toThrow(/WRONGPASS|NOAUTH/);
    // The client says so once per distinct message, not once per reconnect.
    expect(warn.mock.calls.filter(([m]) => String(m).includes('WRONGPASS'))).toHaveLength(1);
    warn.mockRestore();
  });

  it('refuses a vector of the wrong size before writing, and turns malformed replies into errors', async () => {
    const f = await fake();
    const index = new ValkeySemanticIndex({ client: client(f.url), indexName: 'semcache', keyPrefix: 'llmcache:', dimensions: 4 });
    await expect(index.put('acme', 'ctx', unit(8, 0), entry('q'), 1000)).rejects.toThrow('the vector has 8 dimensions, the index 4');
    const scripted = (reply: unknown): ValkeyCommands => ({
      call: async (cmd) => (cmd === 'FT.INFO' ? ['attributes', [['identifier', 'vector', 'index', ['dimensions', 4]]]] : reply),
      transaction: async () => undefined,
    });
    const on = (reply: unknown) => new ValkeySemanticIndex({ client: scripted(reply), indexName: 'i', keyPrefix: 'p:', dimensions: 4 }).search('acme', 'ctx', unit(4, 0), 0.9, 5);
    await expect(on('OK')).rejects.toThrow('the reply is not [count, key, fields, ...]');
    await expect(on([1, 'p:k', 'oops'])).rejects.toThrow('result p:k has no field list');
    await expect(on([1, 'p:k', ['prompt', 'q']])).rejects.toThrow('result p:k has no numeric __vector_score');
  });

  it('re-checks each result: another tenant, another context, an expired entry or an unreadable answer is never served', async () => {
    const now = 1_000_000;
    const t = ValkeySemanticIndex.tag('acme');
    const c = ValkeySemanticIndex.tag('ctx');
    const row = (key: string, fields: Record<string, string>) => [key, Object.entries({ __vector_score: '0.01', ...fields }).flat()];
    const reply = [4,
      ...row('a', { tenant: ValkeySemanticIndex.tag('globex'), context: c, expires_at: String(now + 1), prompt: 'p', value: '{}' }),
      ...row('b', { tenant: t, context: c, expires_at: String(now), prompt: 'p', value: '{}' }),
      ...row('c', { tenant: t, context: c, expires_at: String(now + 1), prompt: 'p', value: 'not json' }),
      ...row('d', { tenant: t, context: c, expires_at: String(now + 1), prompt: 'kept', value: '{"modelId": "m"}' }),
    ];
    const scripted: ValkeyCommands = { call: async (cmd) => (cmd === 'FT.INFO' ? ['dim', 4] : reply), transaction: async () => undefined };
    const index = new ValkeySemanticIndex({ client: scripted, indexName: 'i', keyPrefix: 'p:', dimensions: 4, now: () => now });
    expect(await index.search('acme', 'ctx', unit(4, 0), 0.9, 5)).toEqual([{ score: 0.99, prompt: 'kept', value: { modelId: 'm' } }]);
  });
});

describe('Valkey in the config', () => {
  const withIndex = (index: Record<string, unknown>) => resolveConfig(testConfig('http://127.0.0.1:9/v1', {
    cache: { semantic: { enabled: true, embedder: { type: 'local', dimensions: 64 }, index: index as never } },
  }));

  it('builds the adapter with the password from the named variable or the loaded secret, and serves a hit through it', async () => {
    const f = await fake('tok3n');
    const config = withIndex({ type: 'valkey', url: f.url, passwordEnv: 'VALKEY_TOKEN' });
    const built = buildCache(config, { env: { VALKEY_TOKEN: 'tok3n' } }, {}).semantic!;
    expect(built.index).toBeInstanceOf(ValkeySemanticIndex);
    const [v] = (await built.embedder.embed(['what is our refund window?'])).vectors;
    await built.index.put('acme', 'ctx', v, { prompt: 'what is our refund window?', value: cachedAnswer('30 days') }, 60_000);
    expect((await built.index.search('acme', 'ctx', v, 0.9, 3)).map((c) => c.value)).toEqual([cachedAnswer('30 days')]);
    expect(f.commands.find((c) => c[0] === 'FT.CREATE')).toEqual(expect.arrayContaining(['llm-finops-semantic-cache', 'llmcache:', 'DIM', '64']));
    await (built.index as unknown as { opts: { client: ValkeyCommands } }).opts.client.close?.();
    expect(() => buildCache(config, { env: {} }, {})).toThrow('cache.semantic.index.passwordEnv: environment variable VALKEY_TOKEN is not set');
    const secret = withIndex({ type: 'valkey', url: 'rediss://cache.example.internal:6379', passwordSecret: 'llm/valkey-auth' });
    expect(buildCache(secret, { env: {} }, { indexKey: 'from-secret' }).semantic?.index).toBeInstanceOf(ValkeySemanticIndex);
    expect(() => buildCache(secret, { env: {} }, {})).toThrow('the token was not loaded');
    // A secret that could not be read (loadArtefacts caught it): the exact tier stays, the semantic tier is off, said once.
    const warnings: string[] = [];
    const degraded = buildCache(secret, { env: {}, warn: (m) => warnings.push(m) }, { indexKeyError: 'cache.semantic.index.passwordSecret: cannot read llm/valkey-auth: AccessDeniedException' });
    expect(degraded.semantic).toBeUndefined();
    expect(warnings).toEqual(['semantic cache disabled until this instance restarts: cache.semantic.index.passwordSecret: cannot read llm/valkey-auth: AccessDeniedException']);
  });

  it('refuses a URL that is not redis:// or rediss://, and both password sources at once', () => {
    expect(() => withIndex({ type: 'valkey', url: 'https://cache.example' })).toThrow('redis://host:port or rediss://host:port (TLS)');
    expect(() => withIndex({ type: 'valkey', url: 'rediss://h:6379', passwordEnv: 'A', passwordSecret: 'b' })).toThrow('set at most one of passwordEnv and passwordSecret');
  });
});
