import { GatewayConfigSchema } from '../config/schema';
import { findCatalogPrice, PRICE_CATALOG } from '../pricing/catalog';
import { effectiveLimits, planRequest, rateHoursOf } from '../quota/policy';
import { onlyRaises, scheduledMinimum } from './schedule';
import { num, scalableTargetOf, str, type CfnTemplate } from './template';

/**
 * Dated unit prices (USD, us-east-1 list, read 2026-11-29 from the AWS pricing pages; see ../shared/PRICES.md) for
 * the stack's own cost. Figures marked verified: false disagree between sources.
 */
export const UNIT_PRICES = {
  asOf: '2026-11-29',
  natGatewayPerHour: { usd: 0.045, verified: true },
  openSearchInstancePerHour: { usd: { 't3.small.search': 0.036, 't3.medium.search': 0.073, 'r7g.large.search': 0.178, 'm7g.large.search': 0.139 } as Record<string, number>, verified: false },
  openSearchGp3PerGbMonth: { usd: 0.122, verified: false },
  openSearchServerlessOcuPerHour: { usd: 0.24, verified: true },
  /**
   * ElastiCache for Valkey node-based, on demand: the Redis OSS list price less the 20% AWS gives Valkey nodes
   * (announced 2024-10-08). Not read from the price list API here: verify for your region.
   */
  elastiCacheValkeyNodePerHour: {
    usd: { 'cache.t4g.medium': 0.052, 'cache.m7g.large': 0.1264, 'cache.r7g.large': 0.1752, 'cache.r7g.xlarge': 0.3496 } as Record<string, number>,
    verified: false,
  },
  dashboardPerMonth: { usd: 3, verified: true },
  alarmPerMonth: { usd: 0.1, verified: true },
  secretPerMonth: { usd: 0.4, verified: true },
  kmsKeyPerMonth: { usd: 1, verified: true },
  wafWebAclPerMonth: { usd: 5, verified: true },
  apiGatewayRestPerMillion: { usd: 3.5, verified: true },
  lambdaRequestsPerMillion: { usd: 0.2, verified: true },
  lambdaArmPerGbSecond: { usd: 0.0000133334, verified: true },
  lambdaX86PerGbSecond: { usd: 0.0000166667, verified: true },
  dynamoDbWritePerMillion: { usd: 0.625, verified: true },
  dynamoDbReadPerMillion: { usd: 0.125, verified: true },
  /** Direct PUT ingestion per GB, each record billed in 5 KB increments; Parquet conversion per GB on top. */
  firehoseIngestPerGb: { usd: 0.029, verified: false },
  firehoseFormatConversionPerGb: { usd: 0.018, verified: false },
  /** CloudWatch Logs standard-class ingestion (the router's log group holds one usage record per request). */
  cloudWatchLogsIngestPerGb: { usd: 0.5, verified: true },
} as const;

/** Firehose bills each record as at least 5 KB: a usage record (~1.5 KB) costs 5 KB. */
const FIREHOSE_BILLED_GB_PER_MILLION = (5 * 1e6) / (1024 * 1024);

const HOURS = 730;

export type { CfnTemplate } from './template';

export interface FixedItem {
  readonly stack: string;
  readonly resource: string;
  readonly type: string;
  readonly usdPerMonth: number | null;
  readonly basis: string;
}

export interface UsageProfile {
  /** Requests per month. */
  readonly requestsPerMonth: number;
  /** Mean router Lambda duration per request, seconds (it waits for the model). */
  readonly meanDurationSeconds: number;
}

export interface Estimate {
  readonly fixed: readonly FixedItem[];
  readonly fixedUsdPerMonth: number;
  /** Items whose price is unknown: the total excludes them. */
  readonly unpriced: readonly string[];
  readonly variablePerMillionRequests: Readonly<Record<string, number>>;
  readonly variableUsdPerMillionRequests: number;
  readonly usage?: UsageProfile & { readonly variableUsdPerMonth: number; readonly totalUsdPerMonth: number };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Fixed monthly cost of one resource at its minimum capacity; null when the type is priced but this one is not. */
function fixedCost(logicalId: string, type: string, props: Record<string, unknown>, all: NonNullable<CfnTemplate['Resources']>): { usd: number | null; basis: string } | undefined {
  const p = UNIT_PRICES;
  switch (type) {
    case 'AWS::EC2::NatGateway':
      return { usd: p.natGatewayPerHour.usd * HOURS, basis: `${HOURS} h x $${p.natGatewayPerHour.usd}` };
    case 'AWS::OpenSearchService::Domain': {
      const cluster = (props.ClusterConfig ?? {}) as Record<string, unknown>;
      const inst = str(cluster.InstanceType) ?? 'r7g.large.search';
      const count = num(cluster.InstanceCount) ?? 1;
      const hourly = p.openSearchInstancePerHour.usd[inst];
      const ebs = (props.EBSOptions ?? {}) as Record<string, unknown>;
      const gb = ebs.EBSEnabled === false ? 0 : num(ebs.VolumeSize) ?? 10;
      if (hourly === undefined) return { usd: null, basis: `no price for ${inst}` };
      const data = count * hourly * HOURS + count * gb * p.openSearchGp3PerGbMonth.usd;
      if (cluster.DedicatedMasterEnabled !== true) return { usd: data, basis: `${count} x ${inst} x ${HOURS} h + ${count} x ${gb} GB gp3` };
      const master = str(cluster.DedicatedMasterType) ?? inst;
      const masters = num(cluster.DedicatedMasterCount) ?? 3;
      const masterHourly = p.openSearchInstancePerHour.usd[master];
      if (masterHourly === undefined) return { usd: null, basis: `no price for dedicated master ${master}` };
      return {
        usd: data + masters * masterHourly * HOURS,
        basis: `${count} x ${inst} x ${HOURS} h + ${count} x ${gb} GB gp3 + ${masters} x ${master} masters x ${HOURS} h`,
      };
    }
    case 'AWS::OpenSearchServerless::Collection': {
      // The floor: 2 OCU (indexing + search) with standby replicas, 1 without.
      const ocu = props.StandbyReplicas === 'DISABLED' ? 1 : 2;
      return { usd: ocu * p.openSearchServerlessOcuPerHour.usd * HOURS, basis: `minimum ${ocu} OCU x ${HOURS} h` };
    }
    case 'AWS::ElastiCache::ReplicationGroup': {
      const node = str(props.CacheNodeType) ?? 'unknown';
      // Cluster mode disabled: NumCacheClusters nodes; enabled: shards x (1 + replicas).
      const shards = num(props.NumNodeGroups);
      const nodes = shards !== undefined ? shards * (1 + (num(props.ReplicasPerNodeGroup) ?? 0)) : num(props.NumCacheClusters) ?? 1;
      const engine = String(props.Engine ?? 'redis').toLowerCase();
      const hourly = engine === 'valkey' ? p.elastiCacheValkeyNodePerHour.usd[node] : undefined;
      if (hourly === undefined) return { usd: null, basis: `no price for ${engine} ${node}` };
      return { usd: nodes * hourly * HOURS, basis: `${nodes} x ${node} (${engine}) x ${HOURS} h` };
    }
    case 'AWS::SageMaker::Endpoint': {
      const configRef = (props.EndpointConfigName as { 'Fn::GetAtt'?: string[]; Ref?: string } | undefined);
      const logical = configRef?.['Fn::GetAtt']?.[0] ?? configRef?.Ref;
      const cfg = logical ? all[logical]?.Properties : undefined;
      const variants = (cfg?.ProductionVariants ?? []) as Record<string, unknown>[];
      let usd = 0;
      const parts: string[] = [];
      const target = scalableTargetOf(logicalId, props, all);
      for (const v of variants) {
        const inst = str(v.InstanceType);
        if (!inst) continue;
        // Endpoints serving inference components may scale to zero; their floor is ManagedInstanceScaling.MinInstanceCount.
        const scaling = v.ManagedInstanceScaling as Record<string, unknown> | undefined;
        const count = num(scaling?.MinInstanceCount) ?? num(v.InitialInstanceCount) ?? 1;
        const price = PRICE_CATALOG.instances.find((i) => i.id === inst)?.usdPerHour;
        if (price === undefined) return { usd: null, basis: `no catalog price for ${inst}` };
        // Scheduled minimums (e.g. one copy on weekdays) raise the floor for the hours they hold: one instance per
        // model copy, as InferenceEndpoint sizes a copy to the instance's accelerators.
        const actions = (target?.ScheduledActions ?? []) as { Schedule?: string; ScalableTargetAction?: { MinCapacity?: number } }[];
        const floors = actions.filter((a) => typeof a.Schedule === 'string').map((a) => ({ schedule: a.Schedule!, minCapacity: num(a.ScalableTargetAction?.MinCapacity) }));
        if (floors.length) {
          const base = num(target?.MinCapacity) ?? count;
          const { hoursAt } = scheduledMinimum(base, floors);
          const cap = num(scaling?.MaxInstanceCount) ?? Infinity;
          const entries = Object.entries(hoursAt).map(([n, h]) => [Math.min(cap, Math.max(count, Number(n))), h] as [number, number]);
          usd += entries.reduce((sum, [n, h]) => sum + n * price * h, 0);
          parts.push(`${inst}: ${entries.filter(([n]) => n > 0).map(([n, h]) => `${n} x ${h} h`).join(' + ') || '0 h'} a month at the scheduled minimums` +
            (onlyRaises(base, floors) ? ' (no schedule lowers the minimum again: once raised it holds around the clock)' : ''));
          continue;
        }
        usd += count * price * HOURS;
        parts.push(`${count} x ${inst} x ${HOURS} h`);
      }
      return { usd, basis: parts.join(' + ') || 'no instance variants (serverless)' };
    }
    case 'AWS::CloudWatch::Dashboard':
      return { usd: p.dashboardPerMonth.usd, basis: 'per dashboard (3 free per account)' };
    case 'AWS::CloudWatch::Alarm': {
      // A metric-math alarm is billed per metric it reads.
      const metrics = Array.isArray(props.Metrics) ? props.Metrics.filter((m) => (m as Record<string, unknown>).MetricStat).length : 0;
      return metrics > 1
        ? { usd: metrics * p.alarmPerMonth.usd, basis: `standard-resolution alarm on ${metrics} metrics` }
        : { usd: p.alarmPerMonth.usd, basis: 'standard-resolution alarm' };
    }
    case 'AWS::SecretsManager::Secret':
      return { usd: p.secretPerMonth.usd, basis: 'per secret' };
    case 'AWS::KMS::Key':
      return { usd: p.kmsKeyPerMonth.usd, basis: 'per customer-managed key' };
    case 'AWS::WAFv2::WebACL': {
      const rules = Array.isArray(props.Rules) ? props.Rules.length : 0;
      return { usd: p.wafWebAclPerMonth.usd + rules, basis: `web ACL + ${rules} rules x $1` };
    }
    default:
      return undefined;
  }
}

/**
 * The fixed monthly cost of synthesised stacks and the variable cost per request, from their templates. Per-request
 * items: API Gateway REST requests, router Lambda requests and GB-seconds (it waits for the model), and about ten
 * DynamoDB writes and five reads per request when a quota table is present. Model tokens are not included: they are
 * what the gateway routes and records.
 */
/** A typical last user turn embedded by the semantic tier. */
const EMBEDDING_TOKENS_PER_REQUEST = 50;
/**
 * The sentence encoder's time per prompt on one vCPU (a Lambda of 1,769 MB): 17.8 ms median in bench/sentence-lambda.ts
 * (Node 24, one core of the 2-core development VM, 2026-12-06); below
 * that memory the function gets that share of a vCPU and takes proportionally longer.
 */
export const SENTENCE_EMBED_SECONDS_PER_VCPU = 0.018;
const MB_PER_VCPU = 1769;

export function estimate(stacks: Readonly<Record<string, CfnTemplate>>, usage?: UsageProfile): Estimate {
  const fixed: FixedItem[] = [];
  const unpriced: string[] = [];
  let hasRestApi = false;
  let hasQuotaTable = false;
  let routerGb = 0;
  let routerX86 = false;
  let hasExactCache = false;
  let quotaCounters: number | undefined;
  let embeddingPerMTok: number | undefined;
  let sentenceEncoder = false;
  let usageStream: 'plain' | 'parquet' | undefined;
  for (const [stack, template] of Object.entries(stacks)) {
    const all = template.Resources ?? {};
    for (const [logical, res] of Object.entries(all)) {
      const props = res.Properties ?? {};
      if (res.Type === 'AWS::ApiGateway::RestApi') hasRestApi = true;
      if (res.Type === 'AWS::DynamoDB::Table') hasQuotaTable = true;
      if (res.Type === 'AWS::KinesisFirehose::DeliveryStream') {
        const conversion = (props.ExtendedS3DestinationConfiguration as { DataFormatConversionConfiguration?: { Enabled?: boolean } } | undefined)?.DataFormatConversionConfiguration;
        usageStream = conversion?.Enabled ? 'parquet' : usageStream ?? 'plain';
      }
      if (res.Type === 'AWS::Lambda::Function') {
        const env = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
        if ('LLM_FINOPS_CONFIG' in env || 'LLM_FINOPS_CONFIG_FILE' in env) {
          routerGb = Math.max(routerGb, (num(props.MemorySize) ?? 128) / 1024);
          routerX86 = !(Array.isArray(props.Architectures) && props.Architectures.includes('arm64'));
        }
        if ('LLM_FINOPS_EXACT_CACHE_TABLE' in env) hasExactCache = true;
        if ('LLM_FINOPS_CONFIG' in env) quotaCounters = quotaCountersPerRequest(env.LLM_FINOPS_CONFIG) ?? quotaCounters;
        // Committed capacity the gateway config declares (Provisioned Throughput, PTU): paid by the hour whatever the
        // traffic, bought outside CloudFormation, so only the config knows it.
        for (const c of commitmentsOf(env.LLM_FINOPS_CONFIG)) {
          fixed.push({ stack, resource: `${logical}/${c.model}`, type: `commitment:${c.type}`, usdPerMonth: round2(c.units * c.usdPerUnitHour * HOURS), basis: `${c.units} x $${c.usdPerUnitHour}/h x ${HOURS} h (${c.term}), from the gateway config` });
        }
        const embedder = env.LLM_FINOPS_SEMANTIC_EMBEDDER;
        if (typeof embedder === 'string') {
          const model = (JSON.parse(embedder) as { model?: string }).model;
          embeddingPerMTok = model ? findCatalogPrice(model)?.inputPerMTok : undefined;
        }
        // The encoder's weights directory: set with its layer, whether a SemanticCache or the config itself asked.
        if ('LLM_FINOPS_SENTENCE_MODEL_DIR' in env) sentenceEncoder = true;
      }
      const c = fixedCost(logical, res.Type, props, all);
      if (!c) continue;
      fixed.push({ stack, resource: logical, type: res.Type, usdPerMonth: c.usd === null ? null : round2(c.usd), basis: c.basis });
      if (c.usd === null) unpriced.push(`${stack}/${logical} (${c.basis})`);
    }
  }
  const p = UNIT_PRICES;
  const duration = usage?.meanDurationSeconds ?? 3;
  const variable: Record<string, number> = {};
  if (hasRestApi) variable['API Gateway REST requests'] = p.apiGatewayRestPerMillion.usd;
  if (routerGb > 0) {
    variable['Lambda requests'] = p.lambdaRequestsPerMillion.usd;
    variable[`Lambda compute (${routerGb} GB x ${duration} s)`] = round2(routerGb * duration * 1e6 * (routerX86 ? p.lambdaX86PerGbSecond.usd : p.lambdaArmPerGbSecond.usd));
  }
  // One ~1.5 KB usage record per request in the router's log group (plus the runtime's own lines, not counted).
  if (routerGb > 0) variable['CloudWatch Logs ingestion of usage records (1.5 KB each)'] = round2(((1.5 * 1e6) / (1024 * 1024)) * p.cloudWatchLogsIngestPerGb.usd);
  if (hasQuotaTable) {
    if (quotaCounters === undefined) variable['DynamoDB quota writes (10) and reads (5)'] = round2(10 * p.dynamoDbWritePerMillion.usd + 5 * p.dynamoDbReadPerMillion.usd);
    // Reserve (the reservation item's put, one conditional raise per counter) and settle (the actual amounts on the
    // reservation item, one update per counter, the item's delete): 2N + 3 writes of items under 1 KB, as
    // bench/governance-cost.ts counts them. Controls are read once per controlsCacheSeconds per instance.
    else variable[`DynamoDB quota: ${quotaCounters} counters, ${2 * quotaCounters + 3} writes`] = round2((2 * quotaCounters + 3) * p.dynamoDbWritePerMillion.usd);
  }
  // A lookup per request, and at most one 2 KB answer stored (2 write units) on a miss.
  if (hasExactCache) variable['DynamoDB exact cache read (1) and write (2)'] = round2(p.dynamoDbReadPerMillion.usd + 2 * p.dynamoDbWritePerMillion.usd);
  if (usageStream) {
    const perGb = p.firehoseIngestPerGb.usd + (usageStream === 'parquet' ? p.firehoseFormatConversionPerGb.usd : 0);
    variable[`Firehose usage delivery (5 KB billed per record${usageStream === 'parquet' ? ', Parquet conversion' : ''})`] = round2(FIREHOSE_BILLED_GB_PER_MILLION * perGb);
  }
  if (embeddingPerMTok !== undefined) variable[`Embeddings (${EMBEDDING_TOKENS_PER_REQUEST} tokens)`] = round2(EMBEDDING_TOKENS_PER_REQUEST * embeddingPerMTok);
  // The sentence encoder bills no tokens: its cost is the router's extra compute while it embeds.
  if (sentenceEncoder && routerGb > 0) {
    const seconds = SENTENCE_EMBED_SECONDS_PER_VCPU * Math.max(1, MB_PER_VCPU / (routerGb * 1024));
    variable[`Sentence encoding in the router (${Math.round(seconds * 1000)} ms at ${routerGb} GB)`] = round2(routerGb * seconds * 1e6 * (routerX86 ? p.lambdaX86PerGbSecond.usd : p.lambdaArmPerGbSecond.usd));
  }
  const perMillion = round2(Object.values(variable).reduce((a, b) => a + b, 0));
  const fixedTotal = round2(fixed.reduce((a, f) => a + (f.usdPerMonth ?? 0), 0));
  const out: Estimate = { fixed, fixedUsdPerMonth: fixedTotal, unpriced, variablePerMillionRequests: variable, variableUsdPerMillionRequests: perMillion };
  if (!usage) return out;
  const variableMonth = round2((perMillion * usage.requestsPerMonth) / 1e6);
  return { ...out, usage: { ...usage, variableUsdPerMonth: variableMonth, totalUsdPerMonth: round2(fixedTotal + variableMonth) } };
}

/**
 * The quota counters one request touches under a gateway config (JSON text): its first tenant's (or the defaults')
 * limits, every policy that may count it (a request with an end user, a session and an API key, on the first model),
 * and the forecast's hour counters. Undefined when the document is not plain valid JSON (a deploy-time token).
 */
export function quotaCountersPerRequest(config: unknown): number | undefined {
  if (typeof config !== 'string') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(config);
  } catch {
    return undefined;
  }
  const parsed = GatewayConfigSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const c = parsed.data;
  const q = c.quota;
  const tenant = c.tenants[0];
  const now = Date.UTC(2026, 0, 15, 12);
  const amounts = { usdMicros: 1, tokens: 1 };
  const limits = effectiveLimits({ tenant: tenant?.limits, defaults: q.defaults, global: q.global, policies: q.policies, tenantId: tenant?.id ?? 't' }, {});
  const model = c.models[0];
  const ctx = { tenant: tenant?.id ?? 't', feature: 'default', team: tenant?.team ?? 'team', endUser: 'u', session: 's', apiKey: 'k', model: model.id, provider: model.provider };
  return planRequest(limits, ctx, now, amounts, rateHoursOf(q.forecast)).length;
}

/**
 * The commitments (models[].commitment) a gateway config document (JSON text or parsed) declares, read without the
 * schema: none when it is not plain JSON (a router's config held as a deploy-time token). Also used by `llm-finops report --config`.
 */
export function commitmentsOf(config: unknown): { model: string; type: string; units: number; usdPerUnitHour: number; term: string }[] {
  let parsed: { models?: unknown };
  if (typeof config === 'string') {
    try {
      parsed = JSON.parse(config);
    } catch {
      return [];
    }
  } else if (typeof config === 'object' && config !== null) parsed = config;
  else return [];
  if (!Array.isArray(parsed.models)) return [];
  const out: { model: string; type: string; units: number; usdPerUnitHour: number; term: string }[] = [];
  for (const m of parsed.models as { id?: unknown; commitment?: { type?: unknown; units?: unknown; usdPerUnitHour?: unknown; term?: unknown } }[]) {
    const c = m?.commitment;
    if (!c || typeof c.units !== 'number' || typeof c.usdPerUnitHour !== 'number') continue;
    out.push({ model: String(m.id), type: String(c.type), units: c.units, usdPerUnitHour: c.usdPerUnitHour, term: typeof c.term === 'string' ? c.term : 'none' });
  }
  return out;
}
