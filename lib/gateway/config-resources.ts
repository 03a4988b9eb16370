import {
  ENV_ALERT_TOPIC_ARN, ENV_EXACT_CACHE_TABLE, ENV_QUOTA_TABLE, ENV_SEMANTIC_EMBEDDER, ENV_SEMANTIC_INDEX, ENV_TENANT_UPSTREAMS, ENV_USAGE_STREAM,
} from '../../lambda/contract';

/**
 * The AWS resources a gateway config names, as ARN strings: what the router may invoke or read. Pure (no CDK
 * import), so the CDK constructs and the cdktf flavour grant exactly the same things.
 */
export interface ArnContext {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

type Config = { [key: string]: any };

const PROFILE_PREFIX = /^(us|eu|apac|us-gov|jp|au|ca|global)\.(.+)$/;

/**
 * The ARN a Bedrock model id names: itself when it is an ARN, a cross-region inference profile (`us.`, `eu.`, ...)
 * in this account and region, else the foundation model in this region.
 */
export function bedrockModelSourceArn(upstreamModel: string, ctx: ArnContext): string {
  if (upstreamModel.startsWith('arn:')) return upstreamModel;
  return PROFILE_PREFIX.test(upstreamModel)
    ? `arn:${ctx.partition}:bedrock:${ctx.region}:${ctx.account}:inference-profile/${upstreamModel}`
    : `arn:${ctx.partition}:bedrock:${ctx.region}::foundation-model/${upstreamModel}`;
}

/** ARNs of a SageMaker endpoint and, when given, its inference component (ARNs lower-case the names). */
export function sageMakerEndpointArns(endpoint: string, inferenceComponent: string | undefined, ctx: ArnContext): string[] {
  const base = `arn:${ctx.partition}:sagemaker:${ctx.region}:${ctx.account}`;
  return [`${base}:endpoint/${endpoint.toLowerCase()}`, ...(inferenceComponent ? [`${base}:inference-component/${inferenceComponent.toLowerCase()}`] : [])];
}

/** ARNs for the Bedrock models in the config: models, cross-region profiles and the models behind them (any region of the geography). */
export function bedrockModelArns(config: Config, ctx: ArnContext, only?: ReadonlySet<string>): string[] {
  const bedrockProviders = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
  const arns = new Set<string>();
  for (const m of config.models as { id: string; provider: string; upstreamModel: string }[]) {
    if (!bedrockProviders.has(m.provider) || (only && !only.has(m.id))) continue;
    arns.add(bedrockModelSourceArn(m.upstreamModel, ctx));
    // A cross-region profile routes to the model in any region of its geography.
    const profile = m.upstreamModel.startsWith('arn:') ? null : PROFILE_PREFIX.exec(m.upstreamModel);
    if (profile) arns.add(`arn:${ctx.partition}:bedrock:*::foundation-model/${profile[2]}`);
  }
  return [...arns].sort();
}

/**
 * Configured Bedrock models sold through AWS Marketplace (every provider but Amazon's own): the first call to one in a
 * fresh account starts its subscription, which needs aws-marketplace permissions on the caller. An application
 * inference profile ARN counts unless its priceId names an Amazon model (the ARN does not say which model it wraps).
 */
export function marketplaceBedrockModels(config: Config): string[] {
  const bedrock = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
  const amazon = (id: string | undefined): boolean => !!id && /^((us|eu|apac|us-gov|jp|au|ca|global)\.)?amazon\./.test(id);
  return (config.models as { id: string; provider: string; upstreamModel: string; priceId?: string }[])
    .filter((m) => bedrock.has(m.provider) && !amazon(m.upstreamModel) && !(m.upstreamModel.startsWith('arn:') && amazon(m.priceId)))
    .map((m) => m.id);
}

/** Base model ids behind the cross-region inference profiles in the config. */
export function crossRegionModelIds(config: Config): string[] {
  const bedrock = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
  return [...new Set((config.models as { provider: string; upstreamModel: string }[])
    .filter((m) => bedrock.has(m.provider))
    .map((m) => PROFILE_PREFIX.exec(m.upstreamModel)?.[2])
    .filter((id): id is string => !!id))];
}

/** Model ids that serve only premium tiers (quota.premiumTiers): a model also in another tier is left out. */
export function premiumOnlyModelIds(config: Config): Set<string> {
  const premium = new Set<string>(config.quota?.premiumTiers ?? []);
  const tiers = (config.tiers ?? []) as { name: string; models: string[] }[];
  const inPremium = new Set(tiers.filter((t) => premium.has(t.name)).flatMap((t) => t.models));
  const inOther = new Set(tiers.filter((t) => !premium.has(t.name)).flatMap((t) => t.models));
  return new Set([...inPremium].filter((m) => !inOther.has(m)));
}

/** The SageMaker endpoints (and inference components) the config's sagemaker models name; ARNs lower-case names. */
export function sageMakerArns(config: Config, ctx: ArnContext): string[] {
  const providers = new Map((config.providers as { id: string; type: string; region?: string }[]).filter((p) => p.type === 'sagemaker').map((p) => [p.id, p]));
  const arns = new Set<string>();
  for (const m of config.models as { provider: string; upstreamModel: string; inferenceComponent?: string }[]) {
    const p = providers.get(m.provider);
    if (!p) continue;
    for (const arn of sageMakerEndpointArns(m.upstreamModel, m.inferenceComponent, { ...ctx, region: p.region ?? ctx.region })) arns.add(arn);
  }
  return [...arns].sort();
}

/**
 * Secrets holding provider API keys. A name becomes the ARN pattern Secrets Manager gives it (name plus a dash and
 * six random characters), so the grant covers that secret only.
 */
export function providerSecretArns(config: Config, ctx: ArnContext): string[] {
  const names = (config.providers as { apiKeySecret?: unknown }[]).map((p) => p.apiKeySecret).filter((s): s is string => typeof s === 'string');
  // The semantic index's key (Pinecone API key, Valkey AUTH token) is read the same way at cold start.
  const index = config.cache?.semantic?.enabled ? (config.cache.semantic.index as { apiKeySecret?: unknown; passwordSecret?: unknown } | undefined) : undefined;
  if (typeof index?.apiKeySecret === 'string') names.push(index.apiKeySecret);
  if (typeof index?.passwordSecret === 'string') names.push(index.passwordSecret);
  return [...new Set(names)].map((s) => (s.startsWith('arn:') ? s : `arn:${ctx.partition}:secretsmanager:${ctx.region}:${ctx.account}:secret:${s}-??????`));
}

/** S3 objects the router reads at cold start (trained router, cache verifier) as object ARNs. */
export function artefactObjectArns(config: Config, partition: string): string[] {
  const uris = [config.routing?.learned?.s3Uri, config.cache?.semantic?.enabled ? config.cache.semantic.verifier?.s3Uri : undefined];
  return uris.filter((u): u is string => typeof u === 'string' && u.startsWith('s3://')).map((u) => `arn:${partition}:s3:::${u.slice('s3://'.length)}`);
}

/** What the router calls over the network: the question a router in a VPC must answer before its first request. */
export interface RouterNetworkNeeds {
  /** AWS services reached through interface VPC endpoints (the `<name>` of com.amazonaws.<region>.<name>), sorted. */
  readonly interfaceServices: string[];
  /** AWS services reached through gateway VPC endpoints (free; route-table entries), sorted. */
  readonly gatewayServices: ('dynamodb' | 's3')[];
  /** Calls no VPC endpoint in the stack's Region serves: external providers and AWS services in another Region. */
  readonly outside: string[];
}

/**
 * The router's network calls from its config and the environment variables its bindings set (a quota table, the
 * usage stream, an alert topic, a semantic cache: `env` maps each variable to its value, resolved or as a string
 * holding CloudFormation intrinsics). Services in another Region than `region` count as outside: an interface
 * endpoint serves its own Region only.
 */
export function routerNetworkNeeds(config: Config, env: Record<string, unknown>, region: string): RouterNetworkNeeds {
  const iface = new Set<string>();
  const gateway = new Set<'dynamodb' | 's3'>();
  const outside = new Set<string>();
  const elsewhere = (r: unknown): boolean => typeof r === 'string' && !!r && r !== region && !r.startsWith('${Token[');
  for (const p of config.providers as { id: string; type: string; region?: string; baseUrl?: string; apiKeySecret?: string; endpoint?: string }[]) {
    if (p.apiKeySecret) iface.add('secretsmanager');
    if (p.type === 'bedrock' || p.type === 'sagemaker') {
      const service = p.type === 'bedrock' ? 'bedrock-runtime' : 'sagemaker.runtime';
      if (elsewhere(p.region)) outside.add(`provider '${p.id}' (${service} in ${p.region})`);
      else iface.add(service);
    } else {
      const url = p.baseUrl ?? p.endpoint ?? (p.type === 'anthropic' ? 'https://api.anthropic.com' : undefined);
      const host = url && URL.canParse(url) ? new URL(url).host : (url ?? '');
      outside.add(`provider '${p.id}'${host ? ` (${host})` : ''}`);
    }
  }
  const learned = config.routing?.learned?.s3Uri;
  const sem = config.cache?.semantic?.enabled ? config.cache.semantic : undefined;
  if (typeof learned === 'string' || typeof sem?.verifier?.s3Uri === 'string') gateway.add('s3');
  if (sem?.index?.passwordSecret || sem?.index?.apiKeySecret) iface.add('secretsmanager');
  if (sem?.embedder?.type === 'bedrock') iface.add('bedrock-runtime');
  if (config.cache?.exact?.enabled && config.cache.exact.store?.type === 'dynamodb') gateway.add('dynamodb');
  const text = (k: string): string | undefined => (env[k] === undefined ? undefined : typeof env[k] === 'string' ? (env[k] as string) : JSON.stringify(env[k]));
  if (text(ENV_QUOTA_TABLE) !== undefined || text(ENV_EXACT_CACHE_TABLE) !== undefined) gateway.add('dynamodb');
  if (text(ENV_ALERT_TOPIC_ARN) !== undefined) iface.add('sns');
  if (text(ENV_USAGE_STREAM) !== undefined) iface.add('kinesis-firehose');
  if (text(ENV_TENANT_UPSTREAMS) !== undefined) iface.add('bedrock-runtime');
  const index = text(ENV_SEMANTIC_INDEX);
  // The values hold quoted JSON, escaped once more inside CloudFormation intrinsics.
  if (index !== undefined && /valkey/.test(index)) iface.add('secretsmanager');
  if (index !== undefined && /opensearch/.test(index)) outside.add('the OpenSearch semantic cache (a public domain or collection endpoint)');
  if (text(ENV_SEMANTIC_EMBEDDER)?.includes('bedrock')) iface.add('bedrock-runtime');
  return { interfaceServices: [...iface].sort(), gatewayServices: [...gateway].sort(), outside: [...outside].sort() };
}
