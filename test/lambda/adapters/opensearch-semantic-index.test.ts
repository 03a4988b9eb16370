import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenSearchSemanticIndex } from '../../../lambda/adapters/opensearch-semantic-index';
import type { SemanticIndex } from '../../../lambda/core/ports';
import { cachedAnswer } from './exact-cache.contract';
import { semanticIndexContract, unit } from './semantic-index.contract';

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/**
 * A recording transport: a loopback HTTP server that records each request the real client sends (signed, as on the
 * wire) and answers with the canned response queued for it. It does not emulate OpenSearch.
 */
class RecordingEndpoint {
  readonly requests: Recorded[] = [];
  private readonly replies: { status: number; body?: unknown }[] = [];
  private server?: Server;

  reply(status: number, body?: unknown): this {
    this.replies.push({ status, body });
    return this;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ method: req.method!, path: req.url!, headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
        const r = this.replies.shift() ?? { status: 500, body: { error: 'no reply queued' } };
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(r.body === undefined ? '' : JSON.stringify(r.body));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()));
  }
}

const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' });
const NOW = Date.UTC(2026, 10, 29);

describe('OpenSearchSemanticIndex', () => {
  let ep: RecordingEndpoint;
  let url: string;
  beforeEach(async () => {
    ep = new RecordingEndpoint();
    url = await ep.start();
  });
  afterEach(() => ep.stop());

  const make = (service: 'es' | 'aoss' = 'es') =>
    new OpenSearchSemanticIndex({ endpoint: url, indexName: 'llm-cache', dimensions: 4, auth: { type: 'sigv4', region: 'eu-west-1', service, getCredentials: credentials }, now: () => NOW });

  it('creates the index once with a cosinesimil knn_vector mapping, signing each request with SigV4', async () => {
    ep.reply(404).reply(200, { acknowledged: true }).reply(201, { result: 'created' }).reply(201, { result: 'created' });
    const index = make('aoss');
    await index.put('acme', 'ctx', unit(4, 0), { prompt: 'p', value: cachedAnswer('a') }, 60_000);
    await index.put('acme', 'ctx', unit(4, 1), { prompt: 'q', value: cachedAnswer('b') }, 60_000);
    expect(ep.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(['HEAD /llm-cache', 'PUT /llm-cache', 'POST /llm-cache/_doc', 'POST /llm-cache/_doc']);
    expect(ep.requests[1].body).toEqual(OpenSearchSemanticIndex.mapping(4));
    expect(ep.requests[1].body).toMatchObject({
      settings: { index: { knn: true } },
      mappings: { properties: { tenant: { type: 'keyword' }, vector: { type: 'knn_vector', dimension: 4, method: { space_type: 'cosinesimil', engine: 'lucene' } } } },
    });
    for (const r of ep.requests) {
      expect(r.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/aoss\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/);
      expect(r.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    }
    expect(ep.requests[2].body).toEqual({
      tenant: 'acme', context: 'ctx', expires_at: NOW + 60_000, prompt: 'p', value: cachedAnswer('a'), vector: [1, 0, 0, 0],
    });
  });

  it('searches with a kNN query filtered on tenant, context and expiry, and converts scores to cosine', async () => {
    ep.reply(200).reply(200, { 'llm-cache': { mappings: { properties: { vector: { type: 'knn_vector', dimension: 4 } } } } });
    ep.reply(200, {
      hits: {
        hits: [
          { _score: 0.99, _source: { tenant: 'acme', context: 'ctx', expires_at: NOW + 1, prompt: 'near', value: cachedAnswer('n') } },
          { _score: 0.97, _source: { tenant: 'globex', context: 'ctx', expires_at: NOW + 1, prompt: 'foreign', value: cachedAnswer('x') } },
          { _score: 0.9, _source: { tenant: 'acme', context: 'ctx', expires_at: NOW + 1, prompt: 'below', value: cachedAnswer('b') } },
        ],
      },
    });
    const out = await make().search('acme', 'ctx', unit(4, 0), 0.9, 3);
    expect(ep.requests[2].body).toEqual({
      size: 3,
      _source: ['tenant', 'context', 'prompt', 'value', 'expires_at'],
      query: {
        knn: {
          vector: {
            vector: [1, 0, 0, 0],
            k: 3,
            filter: { bool: { filter: [{ term: { tenant: 'acme' } }, { term: { context: 'ctx' } }, { range: { expires_at: { gt: NOW } } }] } },
          },
        },
      },
    });
    expect(ep.requests[2].headers.authorization).toContain('/eu-west-1/es/aws4_request');
    // 0.99 -> cos 0.98; the other tenant's hit is dropped even if the engine returned it; 0.9 -> cos 0.8 < 0.9.
    expect(out.map((c) => [c.prompt, Math.round(c.score * 100) / 100])).toEqual([['near', 0.98]]);
  });

  it('refuses an existing index whose vectors have another size', async () => {
    ep.reply(200).reply(200, { 'llm-cache': { mappings: { properties: { vector: { type: 'knn_vector', dimension: 1024 } } } } });
    await expect(make().search('acme', 'ctx', unit(4, 0), 0.9, 1)).rejects.toThrow("index 'llm-cache' has vector knn_vector of 1024 dimensions, the embedder makes 4");
  });

  it('treats a concurrent creation by another instance as success', async () => {
    ep.reply(404).reply(400, { error: { type: 'resource_already_exists_exception' } });
    ep.reply(200, { 'llm-cache': { mappings: { properties: { vector: { type: 'knn_vector', dimension: 4 } } } } });
    await expect(make().ensureIndex()).resolves.toBeUndefined();
  });
});

// Against a real cluster (for example a local OpenSearch 2.x with security off): OPENSEARCH_URL=http://localhost:9200.
const real = process.env.OPENSEARCH_URL;
(real ? describe : describe.skip)('against OPENSEARCH_URL', () => {
  let n = 0;
  semanticIndexContract('opensearch', async (now) => {
    const index = new OpenSearchSemanticIndex({ endpoint: real!, indexName: `llm-finops-contract-${process.pid}-${++n}`, dimensions: 16, auth: { type: 'none' }, now });
    // Make each write visible to the next search, as the contract reads its own writes.
    const visible: SemanticIndex = {
      search: (...a) => index.search(...a),
      put: async (...a) => {
        await index.put(...a);
        await index.client.indices.refresh({ index: `llm-finops-contract-${process.pid}-${n}` });
      },
    };
    return visible;
  });
});
