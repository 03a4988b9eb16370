import type { ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { startLocalGateway } from '../support/local';
import { fakeEmbedding, FakeUpstream } from '../support/upstream';
import { hash, KEYS } from '../support/config';

const EMBED = { id: 'embed-small', provider: 'up', upstreamModel: 'up-embed', kind: 'embedding' as const, price: { inputPerMTok: 1, outputPerMTok: 0 } };

describe('POST /v1/embeddings through llm-finops local (real openai client over loopback)', () => {
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let baseUrl: string;
  let records: () => Record<string, unknown>[];
  const client = (key: string = KEYS.acme) => new OpenAI({ apiKey: key, baseURL: baseUrl, maxRetries: 0 });

  beforeAll(async () => {
    await upstream.start();
    ({ proc, baseUrl, records } = await startLocalGateway(upstream.baseUrl, {
      models: [
        { id: 'small-a', provider: 'up', upstreamModel: 'up-small-a', price: { inputPerMTok: 1, outputPerMTok: 2 }, maxOutputTokens: 1000 },
        { id: 'big', provider: 'up', upstreamModel: 'up-big', price: { inputPerMTok: 10, outputPerMTok: 30 }, maxOutputTokens: 4000 },
        EMBED,
      ],
      tiers: [{ name: 'small', models: ['small-a'] }, { name: 'large', models: ['big'] }],
      tenants: [
        { id: 'acme', team: 'platform', apiKeys: [{ sha256: hash(KEYS.acme) }], limits: { dailyUsd: 10 } },
        // An explicit model list without the embedding model: it may not embed.
        { id: 'globex', apiKeys: [{ sha256: hash(KEYS.globex) }], allowedModels: ['small-a'] },
        { id: 'initech', apiKeys: [{ sha256: hash(KEYS.initech) }], limits: { dailyUsd: 0.0001 } },
      ],
    }, 'llm-finops-embed-'));
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
  });

  beforeEach(() => upstream.reset());
  const last = () => records()[records().length - 1];

  it('returns one vector per input in input order (the client\'s default base64, decoded by it), costed and recorded', async () => {
    const { data, response } = await client().embeddings.create({ model: 'embed-small', input: ['hello world', 'bye'] }).withResponse();
    // The upstream answered in reverse order with its indexes; the gateway put them back.
    expect(data.data.map((d) => d.index)).toEqual([0, 1]);
    const expected = fakeEmbedding('hello world', 8).map((x) => x * 3);
    data.data[0].embedding.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 5));
    expect(data.data[1].embedding).toHaveLength(8);
    expect(data.model).toBe('embed-small');
    // The fake bills ceil(chars / 4): 3 + 1 = 4 tokens at $1/M.
    expect(data.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(response.headers.get('x-llm-cost-usd')).toBe('0.000004');
    expect(response.headers.get('x-llm-baseline-cost-usd')).toBe('0.000004');
    expect(response.headers.get('x-llm-route-reason')).toBe('embeddings');
    // The openai client asks for base64 by default; the gateway always asks the upstream for floats.
    expect(upstream.received[0]).toMatchObject({ path: '/v1/embeddings', body: { model: 'up-embed', input: ['hello world', 'bye'], encoding_format: 'float' } });
    expect(last()).toMatchObject({
      tenant: 'acme', team: 'platform', model: 'embed-small', upstream_model: 'up-embed', provider_type: 'openai-compatible', tier: null,
      route_reason: 'embeddings', stream: false, cache: 'none', input_tokens: 4, output_tokens: 0, cost_usd: 0.000004, baseline_cost_usd: 0.000004,
      usage_estimated: false, status: 200,
    });
  });

  it('passes floats, dimensions and user through, and hashes the user like chat does', async () => {
    const out = await client().embeddings.create({ model: 'embed-small', input: 'one text', encoding_format: 'float', dimensions: 4, user: 'u-1' });
    expect(out.data).toHaveLength(1);
    expect(out.data[0].embedding).toEqual(fakeEmbedding('one text', 4).map((x) => x * 3));
    expect(upstream.received[0].body).toMatchObject({ input: ['one text'], dimensions: 4, user: 'u-1' });
    expect(last().end_user).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses what it cannot serve with the right status, each recorded at $0', async () => {
    const e = (p: Promise<unknown>) => p.then(() => undefined, (err: { status?: number; code?: string }) => ({ status: err.status, code: err.code }));
    expect(await e(client().embeddings.create({ model: 'small-a', input: 'x' }))).toEqual({ status: 400, code: 'model_not_embedding' });
    expect(await e(client().embeddings.create({ model: 'nope', input: 'x' }))).toEqual({ status: 404, code: 'model_not_found' });
    expect(await e(client(KEYS.globex).embeddings.create({ model: 'embed-small', input: 'x' }))).toEqual({ status: 403, code: 'model_not_allowed' });
    expect(await e(client().embeddings.create({ model: 'embed-small', input: [] }))).toEqual({ status: 400, code: 'missing_required_parameter' });
    expect(await e(client().chat.completions.create({ model: 'embed-small', messages: [{ role: 'user', content: 'hi' }] }))).toEqual({ status: 400, code: 'model_not_chat' });
    expect(upstream.received).toEqual([]);
    expect(records().slice(-5).map((r) => [r.status, r.cost_usd])).toEqual([[400, 0], [404, 0], [403, 0], [400, 0], [400, 0]]);
  });

  it('holds the tenant\'s limit before the call: an input whose estimate is over the budget is refused (429), the upstream never called', async () => {
    // initech may spend $0.0001 a day: 400k characters ~ 100k tokens ~ $0.1 at $1/M.
    const err = await client(KEYS.initech).embeddings.create({ model: 'embed-small', input: 'x'.repeat(400_000) }).catch((x) => x);
    expect(err.status).toBe(429);
    expect(upstream.received).toEqual([]);
  });

  it('prices a hostile usage report from the estimate, flagged, and refuses malformed vectors with a 502', async () => {
    upstream.script('up-embed', { kind: 'ok', rawUsage: { prompt_tokens: -50, total_tokens: -50 } });
    await client().embeddings.create({ model: 'embed-small', input: 'twelve chars' });
    expect(last()).toMatchObject({ usage_estimated: true, usage_flags: ['usage_invalid'], usage_problem: 'embed-small: prompt_tokens is negative (-50)' });
    expect(last().input_tokens).toBeGreaterThan(0);
    upstream.setDefault('up-embed', { kind: 'raw', contentType: 'application/json', body: JSON.stringify({ data: [{ index: 0, embedding: [1, 'x'] }] }) });
    const err = await client().embeddings.create({ model: 'embed-small', input: 'a' }).catch((x) => x);
    expect(err.status).toBe(502);
    expect(last()).toMatchObject({ status: 502, cost_usd: 0 });
  });

  it('lists the embedding model in GET /v1/models for tenants that may use it', async () => {
    const ids = (await client().models.list()).data.map((m) => m.id);
    expect(ids).toContain('embed-small');
    expect((await client(KEYS.globex).models.list()).data.map((m) => m.id)).not.toContain('embed-small');
  });
});
