import { cacheability, exactCacheKey, lastUserText, semanticContextHash } from '../cache/keys';
import { chooseSemanticHit } from '../cache/semantic';
import type { ChatRequest } from '../openai/types';
import type { CachedCompletion } from '../ports';
import type { GatewayDeps, StoreAnswer, Trace } from './types';

export interface CacheHit {
  readonly entry: CachedCompletion;
  readonly kind: 'hit-exact' | 'hit-semantic';
  readonly score?: number;
}

export interface CacheLookup {
  readonly hit?: CacheHit;
  /** Stores the request's answer where it was looked up; a no-op for requests that were not a miss. */
  readonly store: StoreAnswer;
}

/**
 * The cache step: the exact tier (tenant + route target + every answer-changing parameter), then the semantic tier
 * (the last user turn embedded, searched within the tenant and the conversation's context partition, served only
 * past the guards). The embedding call goes on the receipt. A cache backend that fails never fails the request: the
 * error is noted on the trace and the request goes on as a miss.
 */
export class CacheStep {
  constructor(private readonly deps: GatewayDeps) {}

  /**
   * `autoTier`: for a `model: auto` request, the tier the router chose. Automatic answers are cached per chosen tier, so
   * the same prompt routed to another tier (another feature tag, a retrained router) is not served another tier's answer.
   */
  async lookup(trace: Trace, req: ChatRequest, tenantId: string, maxTokens: number | undefined, bypass: boolean, autoTier: string | null): Promise<CacheLookup> {
    const { deps } = this;
    const cacheCfg = deps.config.raw.cache;
    const decision = cacheability(req, cacheCfg.exact.maxTemperature);
    const cacheOn = (cacheCfg.exact.enabled && !!deps.exactCache) || (cacheCfg.semantic.enabled && !!deps.semantic);
    trace.cache = !cacheOn || !decision.cacheable ? 'none' : bypass ? 'bypass' : 'miss';
    const requested = req.model ?? 'auto';
    const target = requested === 'auto' ? `auto:${autoTier ?? ''}` : requested;
    const exactKey = trace.cache === 'miss' && cacheCfg.exact.enabled && deps.exactCache
      ? exactCacheKey(deps.sha256, tenantId, target, req, maxTokens)
      : undefined;
    const guarded = async <T>(what: string, op: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await op();
      } catch (err) {
        const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
        trace.cacheError = trace.cacheError ? `${trace.cacheError}; ${msg}` : msg;
        return undefined;
      }
    };
    if (exactKey) {
      const entry = await guarded('exact get', () => deps.exactCache!.get(exactKey));
      if (entry) return { hit: { entry, kind: 'hit-exact' }, store: noStore };
    }
    let semanticKey: { contextHash: string; vector: Float32Array; prompt: string } | undefined;
    if (trace.cache === 'miss' && cacheCfg.semantic.enabled && deps.semantic) {
      const semantic = deps.semantic;
      const contextHash = semanticContextHash(deps.sha256, semantic.embedder.id, target, req, maxTokens);
      const prompt = lastUserText(req);
      const hit = await guarded('semantic search', async () => {
        const embedded = await semantic.embedder.embed([prompt]);
        trace.receipt.embedding(embedded.inputTokens, deps.config.semanticCache.embeddingPrice);
        const vector = embedded.vectors[0];
        semanticKey = { contextHash, vector, prompt };
        const candidates = await semantic.index.search(tenantId, contextHash, vector, deps.config.semanticCache.threshold, cacheCfg.semantic.maxCandidates);
        return chooseSemanticHit(prompt, candidates, deps.config.semanticCache.guards, semantic.verifier).hit;
      });
      if (hit) return { hit: { entry: hit.value, kind: 'hit-semantic', score: hit.score }, store: noStore };
    }
    if (trace.cache !== 'miss') return { store: noStore };
    const store: StoreAnswer = async (model, completion, usage) => {
      const entry: CachedCompletion = { completion, usage, modelId: model.id, tier: trace.tier ?? '', storedAtMs: deps.clock.now() };
      if (JSON.stringify(completion).length > cacheCfg.exact.maxEntryBytes) return;
      // Only a complete answer is worth replaying: not one cut by max_tokens or a content filter. (Some self-hosted
      // containers report no finish reason at all; those answers are cached.)
      if (completion.choices.some((c) => c.finish_reason === 'length' || c.finish_reason === 'content_filter')) return;
      const ttlMs = (cacheCfg.ttlByFeature[trace.feature] ?? cacheCfg.exact.ttlSeconds) * 1000;
      const key = semanticKey;
      if (exactKey) await guarded('exact set', () => deps.exactCache!.set(exactKey, entry, ttlMs));
      if (key) await guarded('semantic put', () => deps.semantic!.index.put(tenantId, key.contextHash, key.vector, { prompt: key.prompt, value: entry }, ttlMs));
    };
    return { store };
  }
}

const noStore: StoreAnswer = async () => undefined;
