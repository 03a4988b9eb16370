import type { Client } from '@opensearch-project/opensearch';
import { onceUntilFailure } from './once';
import { awsCredentialProviderNode, openSearchAwsSigner, openSearchClient } from './lazy';
import type { CachedCompletion, SemanticCandidate, SemanticEntry, SemanticIndex } from '../core/ports';

export interface OpenSearchSemanticIndexOptions {
  /** https://search-....es.amazonaws.com (managed domain) or https://....aoss.amazonaws.com (Serverless collection). */
  readonly endpoint: string;
  readonly indexName: string;
  /** Vector size; must match the embedder. An existing index of another size is an error, never silently reused. */
  readonly dimensions: number;
  /** sigv4 (default) signs every request for the domain (`es`) or collection (`aoss`); none for a local cluster. */
  readonly auth?: { readonly type: 'sigv4'; readonly region: string; readonly service: 'es' | 'aoss'; readonly getCredentials?: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> } | { readonly type: 'none' };
  readonly now?: () => number;
  readonly requestTimeoutMs?: number;
}

interface Doc {
  tenant: string;
  context: string;
  expires_at: number;
  prompt: string;
  value: CachedCompletion;
}

/**
 * OpenSearch k-NN (managed domain or Serverless vector collection). One index holds every tenant; each document
 * carries tenant and context as keyword fields and every search is a Lucene HNSW kNN query with an efficient filter
 * on both (and on expiry), so the nearest neighbours are chosen among the caller's entries only; the adapter also
 * re-checks the tenant and context of each hit. OpenSearch's cosinesimil score is (1 + cos) / 2; it is converted
 * back to cos for the caller.
 */
export class OpenSearchSemanticIndex implements SemanticIndex {
  readonly client: Client;
  private readonly ready = onceUntilFailure(() => this.createIndex());
  private readonly now: () => number;

  constructor(private readonly opts: OpenSearchSemanticIndexOptions) {
    this.now = opts.now ?? Date.now;
    const auth = opts.auth ?? { type: 'sigv4', region: process.env.AWS_REGION ?? 'us-east-1', service: 'es' };
    const { Client } = openSearchClient();
    const { AwsSigv4Signer } = openSearchAwsSigner();
    this.client = new Client({
      ...(auth.type === 'sigv4'
        ? AwsSigv4Signer({ region: auth.region, service: auth.service, getCredentials: auth.getCredentials ?? defaultCredentials() })
        : {}),
      node: opts.endpoint,
      requestTimeout: opts.requestTimeoutMs ?? 2_000,
      maxRetries: 0,
    });
  }

  /** The mapping the adapter creates; exported for documentation and tests. */
  static mapping(dimensions: number): Record<string, unknown> {
    return {
      settings: { index: { knn: true } },
      mappings: {
        properties: {
          tenant: { type: 'keyword' },
          context: { type: 'keyword' },
          expires_at: { type: 'date', format: 'epoch_millis' },
          prompt: { type: 'text', index: false },
          value: { type: 'object', enabled: false },
          vector: {
            type: 'knn_vector',
            dimension: dimensions,
            method: { name: 'hnsw', engine: 'lucene', space_type: 'cosinesimil', parameters: { m: 16, ef_construction: 128 } },
          },
        },
      },
    };
  }

  /** Creates the index with the k-NN mapping unless it exists; checks an existing one's vector size. Idempotent. */
  ensureIndex(): Promise<void> {
    return this.ready();
  }

  async search(tenant: string, contextHash: string, vector: Float32Array, minScore: number, limit: number): Promise<SemanticCandidate[]> {
    await this.ensureIndex();
    const res = await this.client.search({
      index: this.opts.indexName,
      body: {
        size: limit,
        _source: ['tenant', 'context', 'prompt', 'value', 'expires_at'],
        query: {
          knn: {
            vector: {
              vector: Array.from(vector),
              k: limit,
              filter: {
                bool: {
                  filter: [
                    { term: { tenant } },
                    { term: { context: contextHash } },
                    { range: { expires_at: { gt: this.now() } } },
                  ],
                },
              },
            },
          },
        },
      },
    });
    const hits = (res.body as { hits?: { hits?: { _score?: number; _source?: Doc }[] } }).hits?.hits ?? [];
    const out: SemanticCandidate[] = [];
    for (const h of hits) {
      const src = h._source;
      if (!src || src.tenant !== tenant || src.context !== contextHash || src.expires_at <= this.now()) continue;
      const score = 2 * (h._score ?? 0) - 1;
      if (score >= minScore) out.push({ score, prompt: src.prompt, value: src.value });
    }
    return out.sort((a, b) => b.score - a.score).slice(0, limit);
  }

  async put(tenant: string, contextHash: string, vector: Float32Array, entry: SemanticEntry, ttlMs: number): Promise<void> {
    await this.ensureIndex();
    const doc: Doc & { vector: number[] } = {
      tenant, context: contextHash, expires_at: this.now() + ttlMs, prompt: entry.prompt, value: entry.value, vector: Array.from(vector),
    };
    // No document id: Serverless vector collections refuse caller-chosen ids.
    await this.client.index({ index: this.opts.indexName, body: doc });
  }

  private async createIndex(): Promise<void> {
    const index = this.opts.indexName;
    const exists = await this.client.indices.exists({ index });
    if (!exists.body) {
      try {
        await this.client.indices.create({ index, body: OpenSearchSemanticIndex.mapping(this.opts.dimensions) });
        return;
      } catch (err) {
        // Another instance created it first.
        if (!String((err as { body?: { error?: { type?: string } } }).body?.error?.type ?? err).includes('resource_already_exists_exception')) throw err;
      }
    }
    const mapping = await this.client.indices.getMapping({ index });
    const props = (mapping.body as Record<string, { mappings?: { properties?: { vector?: { type?: string; dimension?: number } } } }>)[index]?.mappings?.properties;
    const v = props?.vector;
    if (v?.type !== 'knn_vector' || v.dimension !== this.opts.dimensions) {
      throw new Error(
        `OpenSearch index '${index}' has vector ${v ? `${v.type} of ${v.dimension} dimensions` : 'unmapped'}, the embedder makes ${this.opts.dimensions}: ` +
          'use another indexName or delete the index',
      );
    }
  }
}

function defaultCredentials(): () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> {
  // Loaded lazily: the provider chain pulls in several SDK packages only SigV4 users need.
  return awsCredentialProviderNode().defaultProvider();
}
