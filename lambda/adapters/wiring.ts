import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { ResolvedConfig } from '../core/config/resolve';
import { Gateway } from '../core/pipeline';
import type { AlertSink, ChatProvider, QuotaStore, UsageSink } from '../core/ports';
import { BedrockProvider } from './bedrock-provider';
import { LexicalEmbedder } from './lexical-embedder';
import { MemoryExactCache } from './memory-exact-cache';
import { MemoryQuotaStore } from './memory-quota-store';
import { MemorySemanticIndex } from './memory-semantic-index';
import { OpenAiCompatibleProvider } from './openai-compatible-provider';
import { SageMakerProvider } from './sagemaker-provider';
import { sha256, systemClock, systemIds } from './system-runtime';
import { JsonlUsageSink, LogAlertSink, NullUsageSink, StdoutUsageSink } from './usage-sinks';

export interface WiringOptions {
  /** Where provider API keys are read from (`apiKeyEnv`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly usage?: UsageSink;
  readonly alerts?: AlertSink;
  readonly quota?: QuotaStore;
  /** Called for problems that do not stop start-up, such as a provider whose API key variable is unset. */
  readonly warn?: (message: string) => void;
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
      case 'azure-openai': {
        let key: string | undefined;
        if (p.apiKeyEnv) {
          key = opts.env[p.apiKeyEnv];
          if (!key) opts.warn?.(`provider '${p.id}': environment variable ${p.apiKeyEnv} is not set; its calls will fail and fall back`);
        }
        providers.set(p.id, new OpenAiCompatibleProvider(p, key));
        break;
      }
      case 'bedrock': {
        const region = p.region ?? '';
        if (!bedrock.has(region)) bedrock.set(region, new BedrockRuntimeClient(p.region ? { region: p.region } : {}));
        providers.set(p.id, new BedrockProvider(bedrock.get(region)!, p.timeoutMs));
        break;
      }
      case 'sagemaker': {
        const region = p.region ?? '';
        if (!sagemaker.has(region)) sagemaker.set(region, new SageMakerRuntimeClient(p.region ? { region: p.region } : {}));
        providers.set(p.id, new SageMakerProvider(sagemaker.get(region)!, p.timeoutMs));
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

/** A gateway on in-process stores: the local gateway, and the Lambda until the DynamoDB / OpenSearch adapters land. */
export function buildGateway(config: ResolvedConfig, opts: WiringOptions): Gateway {
  const semanticOn = config.raw.cache.semantic.enabled;
  const embedder = semanticOn || config.raw.context.policies.length ? new LexicalEmbedder() : undefined;
  return new Gateway({
    config,
    providers: buildProviders(config, opts),
    quota: opts.quota ?? new MemoryQuotaStore(),
    exactCache: config.raw.cache.exact.enabled ? new MemoryExactCache() : undefined,
    semantic: semanticOn ? { embedder: embedder!, index: new MemorySemanticIndex() } : undefined,
    embedder,
    usage: opts.usage ?? buildUsageSink(config),
    alerts: opts.alerts ?? new LogAlertSink(),
    clock: systemClock,
    ids: systemIds,
    sha256,
  });
}
