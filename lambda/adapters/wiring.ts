import { ENV_CAPTURE_BUCKET } from '../contract';
import { resolve as resolvePath } from 'node:path';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { ResolvedConfig } from '../core/config/resolve';
import type { Capture, CaptureSink } from '../core/capture/capture';
import { Gateway } from '../core/pipeline';
import type { Verifier } from '../core/cache/verifier';
import { type Artefacts, loadFileArtefacts } from './artefacts';
import { awsClientConfig } from './aws-client-config';
import type { AlertSink, ChatProvider, Embedder, ExactCache, OperationsLog, QuotaStore, SemanticIndex, TenantDirectory, UsageSink } from '../core/ports';
import { BedrockProvider } from './bedrock-provider';
import { DynamoDbExactCache } from './dynamodb-exact-cache';
import { LexicalEmbedder } from './lexical-embedder';
import { MemoryExactCache } from './memory-exact-cache';
import { MemoryQuotaStore } from './memory-quota-store';
import { MemorySemanticIndex } from './memory-semantic-index';
import { OpenAiCompatibleProvider } from './openai-compatible-provider';
import {
  anthropicProvider, bedrockEmbedder, captureModule, directoryCaptureSink, embeddedIndex, s3CaptureSink, messagesCodec, openAiCompatibleEmbedder, openSearchIndex, pineconeIndex, responsesCodec,
  sageMakerProvider, sageMakerRuntimeClient, sentenceEmbedder, sentenceVerifier, valkeyIndex,
} from './lazy';
import { answerLimits } from './stream-limits';
import { sha256, systemClock, systemIds } from './system-runtime';
import { JsonlUsageSink, LogAlertSink, NullUsageSink, StdoutUsageSink } from './usage-sinks';

export interface WiringOptions {
  /** Where provider API keys are read from (`apiKeyEnv`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly usage?: UsageSink;
  readonly alerts?: AlertSink;
  readonly quota?: QuotaStore;
  /** Run-time tenants (`llm-finops tenants`); without it only the config's tenants exist. */
  readonly tenants?: TenantDirectory;
  /** Called for problems that do not stop start-up, such as a provider whose API key variable is unset. */
  readonly warn?: (message: string) => void;
  /** Relative paths in the config (verifier, embedded index) resolve against this; default the working directory. */
  readonly baseDir?: string;
  /** Operational events (quota store outages, late settlements): one JSON line each on stderr when not given. */
  readonly ops?: OperationsLog;
  /** Replaces the exact tier's store from config (tests, or the CLI's --dynamodb-endpoint). */
  readonly exactCache?: ExactCache;
  /** The trained router and verifier, loaded beforehand (loadArtefacts); else read from their files. */
  readonly artefacts?: Artefacts;
  /** Where captured exchanges go (tests); else `capture.path` in the config. */
  readonly capture?: CaptureSink;
}

type CacheConfig = ResolvedConfig['raw']['cache'];

/**
 * The configured embedder. `bulk` (the CLI's calibrate, eval and train-verifier, thousands of texts at once): a
 * Bedrock client in the SDK's adaptive retry mode, which slows its own sending when Bedrock throttles, with up to 10
 * attempts a call, so a burst against a new account's quotas finishes instead of failing half way.
 */
export function buildEmbedder(e: CacheConfig['semantic']['embedder'], env: WiringOptions['env'], opts: { readonly bulk?: boolean } = {}): Embedder {
  switch (e.type) {
    case 'local':
      return new LexicalEmbedder(e.dimensions);
    case 'sentence':
      return new (sentenceEmbedder().SentenceEmbedder)({ maxChars: e.maxChars });
    case 'bedrock':
      return new (bedrockEmbedder().BedrockEmbedder)(
        new BedrockRuntimeClient({ ...(e.region ? { region: e.region } : {}), ...(opts.bulk ? { retryMode: 'adaptive', maxAttempts: 10 } : {}) }),
        // A bulk call's time includes the adaptive client's waits between throttled attempts.
        { modelId: e.model, dimensions: e.dimensions, ...(opts.bulk ? { timeoutMs: 120_000 } : {}) },
      );
    case 'openai-compatible': {
      const apiKey = e.apiKeyEnv ? env[e.apiKeyEnv] : undefined;
      if (e.apiKeyEnv && !apiKey) throw new Error(`cache.semantic.embedder.apiKeyEnv: environment variable ${e.apiKeyEnv} is not set`);
      return new (openAiCompatibleEmbedder().OpenAiCompatibleEmbedder)({ baseUrl: e.baseUrl, model: e.model, apiKey, dimensions: e.dimensions, timeoutMs: e.timeoutMs });
    }
  }
}

function buildIndex(sem: CacheConfig['semantic'], embedder: Embedder, baseDir: string, env: WiringOptions['env'], artefacts: Artefacts): SemanticIndex {
  const ix = sem.index;
  switch (ix.type) {
    case 'memory':
      return new MemorySemanticIndex(ix.maxEntriesPerPartition, Date.now, { maxEntries: ix.maxEntries, maxEntriesPerTenant: ix.maxEntriesPerTenant, maxBytes: ix.maxMegabytes * 1024 * 1024 });
    case 'embedded':
      return new (embeddedIndex().EmbeddedSemanticIndex)({ path: resolvePath(baseDir, ix.path), maxEntries: ix.maxEntries, annMinEntries: ix.annMinEntries });
    case 'opensearch': {
      if (!embedder.dimensions) throw new Error('cache.semantic.index: OpenSearch needs the vector size; set cache.semantic.embedder.dimensions');
      const region = ix.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
      if (!region) throw new Error('cache.semantic.index.region: required for OpenSearch SigV4 outside Lambda (or set AWS_REGION)');
      return new (openSearchIndex().OpenSearchSemanticIndex)({ endpoint: ix.endpoint, indexName: ix.indexName, dimensions: embedder.dimensions, auth: { type: 'sigv4', region, service: ix.service } });
    }
    case 'pinecone': {
      const apiKey = ix.apiKeyEnv ? env[ix.apiKeyEnv] : artefacts.indexKey;
      if (!apiKey) {
        throw new Error(ix.apiKeyEnv
          ? `cache.semantic.index.apiKeyEnv: environment variable ${ix.apiKeyEnv} is not set`
          : 'cache.semantic.index.apiKeySecret: the key was not loaded (build the gateway with loadArtefacts())');
      }
      return new (pineconeIndex().PineconeSemanticIndex)({ host: ix.host, apiKey, apiVersion: ix.apiVersion, timeoutMs: ix.timeoutMs });
    }
    case 'valkey': {
      if (!embedder.dimensions) throw new Error('cache.semantic.index: Valkey needs the vector size; set cache.semantic.embedder.dimensions');
      const password = ix.passwordEnv ? env[ix.passwordEnv] : ix.passwordSecret ? artefacts.indexKey : undefined;
      if (ix.passwordEnv && !password) throw new Error(`cache.semantic.index.passwordEnv: environment variable ${ix.passwordEnv} is not set`);
      if (ix.passwordSecret && !password) throw new Error('cache.semantic.index.passwordSecret: the token was not loaded (build the gateway with loadArtefacts())');
      const { connectValkey, ValkeySemanticIndex } = valkeyIndex();
      const client = connectValkey({ url: ix.url, username: ix.username, password, timeoutMs: ix.timeoutMs });
      return new ValkeySemanticIndex({ client, indexName: ix.indexName, keyPrefix: ix.keyPrefix, dimensions: embedder.dimensions, efRuntime: ix.efRuntime });
    }
  }
}

/** The cache tiers the config asks for, with the verifier from the loaded artefacts. */
export function buildCache(
  config: ResolvedConfig, opts: WiringOptions, artefacts: Artefacts,
): { exactCache?: ExactCache; semantic?: { embedder: Embedder; index: SemanticIndex; verifier?: Verifier } } {
  const cache = config.raw.cache;
  const baseDir = opts.baseDir ?? process.cwd();
  let exactCache: ExactCache | undefined;
  if (cache.exact.enabled) {
    const store = cache.exact.store;
    exactCache = opts.exactCache ?? (store.type === 'dynamodb'
      ? new DynamoDbExactCache(new DynamoDBClient(awsClientConfig('dynamodb', store.region)), store.tableName)
      : new MemoryExactCache(store.maxEntries, Date.now, store.maxEntriesPerTenant));
  }
  if (!cache.semantic.enabled) return { exactCache };
  if (artefacts.indexKeyError) {
    // The cache's secret could not be read: serve without the semantic tier, loudly, instead of not at all.
    opts.warn?.(`semantic cache disabled until this instance restarts: ${artefacts.indexKeyError}`);
    return { exactCache };
  }
  const embedder = buildEmbedder(cache.semantic.embedder, opts.env);
  // The sentence encoder's defaults (threshold, guards) were chosen together with its built-in verifier.
  let verifier = artefacts.verifier;
  if (!verifier && cache.semantic.embedder.type === 'sentence' && cache.semantic.builtinVerifier) {
    verifier = sentenceVerifier().builtinSentenceVerifier();
  }
  return { exactCache, semantic: { embedder, index: buildIndex(cache.semantic, embedder, baseDir, opts.env, artefacts), verifier } };
}

/** A provider's API key: its loaded secret, else its environment variable (a warning when that is unset). */
/** A provider's API key: from its secret (loaded by loadArtefacts) or its environment variable. */
export function providerKey(p: { readonly id: string; readonly apiKeyEnv?: string; readonly apiKeySecret?: string }, opts: WiringOptions): string | undefined {
  let key: string | undefined = p.apiKeySecret ? opts.artefacts?.providerKeys?.get(p.id) : undefined;
  if (p.apiKeySecret && !key) throw new Error(`provider '${p.id}': its apiKeySecret was not loaded (build the gateway with loadArtefacts())`);
  if (p.apiKeyEnv) {
    key = opts.env[p.apiKeyEnv];
    if (!key) opts.warn?.(`provider '${p.id}': environment variable ${p.apiKeyEnv} is not set; its calls will fail and fall back`);
  }
  return key;
}

/**
 * One adapter per configured provider. A provider whose key variable is unset still starts (its calls fail as
 * auth errors and the chain falls back), with a warning, so a local gateway runs with only the providers at hand.
 */
export function buildProviders(config: ResolvedConfig, opts: WiringOptions): Map<string, ChatProvider> {
  const providers = new Map<string, ChatProvider>();
  const bedrock = new Map<string, BedrockRuntimeClient>();
  const sagemaker = new Map<string, SageMakerRuntimeClient>();
  for (const p of config.raw.providers) {
    switch (p.type) {
      case 'openai-compatible':
      case 'azure-openai':
        providers.set(p.id, new OpenAiCompatibleProvider(p, providerKey(p, opts), config.raw.server.maxUpstreamResponseBytes));
        break;
      case 'anthropic':
        providers.set(p.id, new (anthropicProvider().AnthropicProvider)(p, providerKey(p, opts), config.raw.server.maxUpstreamResponseBytes));
        break;
      case 'bedrock': {
        const region = p.region ?? '';
        if (!bedrock.has(region)) bedrock.set(region, new BedrockRuntimeClient(p.region ? { region: p.region } : {}));
        providers.set(p.id, new BedrockProvider(bedrock.get(region)!, p.timeoutMs, Date.now, answerLimits(p, config.raw.server.maxUpstreamResponseBytes), p.anthropicBetas));
        break;
      }
      case 'sagemaker': {
        const region = p.region ?? '';
        if (!sagemaker.has(region)) sagemaker.set(region, new (sageMakerRuntimeClient().SageMakerRuntimeClient)(p.region ? { region: p.region } : {}));
        providers.set(p.id, new (sageMakerProvider().SageMakerProvider)(sagemaker.get(region)!, p.timeoutMs, answerLimits(p, config.raw.server.maxUpstreamResponseBytes)));
        break;
      }
    }
  }
  return providers;
}

export function buildUsageSink(config: ResolvedConfig): UsageSink {
  switch (config.raw.usage.sink) {
    case 'jsonl':
      return new JsonlUsageSink(config.raw.usage.path!);
    case 'none':
      return new NullUsageSink();
    default:
      return new StdoutUsageSink();
  }
}

/**
 * A gateway with the stores the config names (quota from `opts.quota`, else in process). Artefacts come from
 * `opts.artefacts` (see loadArtefacts, which also reads S3), else from files.
 */
export function buildGateway(config: ResolvedConfig, opts: WiringOptions): Gateway {
  const artefacts = opts.artefacts ?? loadFileArtefacts(config, opts.baseDir);
  const { exactCache, semantic } = buildCache(config, opts, artefacts);
  // Context re-ranking runs in process, so it always uses the local embedder, never a billed one.
  const contextEmbedder = config.raw.context.policies.length ? new LexicalEmbedder() : undefined;
  return new Gateway({
    capture: buildCapture(config, opts),
    config,
    providers: buildProviders(config, opts),
    quota: opts.quota ?? new MemoryQuotaStore(),
    exactCache,
    semantic,
    router: artefacts.router,
    tenants: opts.tenants,
    embedder: contextEmbedder,
    usage: opts.usage ?? buildUsageSink(config),
    alerts: opts.alerts ?? new LogAlertSink(),
    ops: opts.ops ?? { write: (line) => void process.stderr.write(`${JSON.stringify(line)}\n`) },
    clock: systemClock,
    ids: systemIds,
    sha256,
    codecs: { messages: messagesCodec, responses: responsesCodec },
  });
}

/**
 * The capture of training data when a feature opted in: to the sink given, else the CaptureStore's bucket (the Lambda,
 * ENV_CAPTURE_BUCKET), else `capture.path` (relative to the config). A config that opts features in with none of these
 * gets a warning and captures nothing.
 */
function buildCapture(config: ResolvedConfig, opts: WiringOptions): Capture | undefined {
  const c = config.raw.capture;
  if (!c.features.length) return undefined;
  const bucket = opts.env[ENV_CAPTURE_BUCKET];
  const sink = opts.capture
    ?? (bucket ? new (s3CaptureSink().S3CaptureSink)(bucket) : undefined)
    ?? (c.path ? new (directoryCaptureSink().DirectoryCaptureSink)(resolvePath(opts.baseDir ?? process.cwd(), c.path)) : undefined);
  if (!sink) {
    opts.warn?.(`capture: features ${c.features.map((f) => f.feature).join(', ')} opted in, but there is no capture.path (locally) or CaptureStore bucket (on AWS: enableCapture on the platform): nothing is captured`);
    return undefined;
  }
  const warn = opts.warn ?? ((m: string) => void process.stderr.write(`${m}\n`));
  return new (captureModule().Capture)(config, sink, systemClock, Math.random, (err) => warn(`capture: a batch could not be written: ${err instanceof Error ? err.message : String(err)}`));
}
