/**
 * `llm-finops doctor`: what a synthesised template needs from the account that the template cannot show, and the
 * verdict once the account's facts are known. Pure: the CLI reads the cloud assembly and asks AWS (read-only calls),
 * this module decides. Each finding names the fix and the documentation behind the rule.
 */

import { activationCommand } from './tag-activation';
import { endpointOfConfig, num, scalableTargetOf } from './template';

type Template = { Resources?: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }> };

/** What one stack needs from its account and Region. */
export interface StackNeeds {
  readonly stack: string;
  /** Stages that write access logs (they need the account's API Gateway CloudWatch role). */
  readonly accessLoggingStages: number;
  /** The template sets the account's API Gateway CloudWatch role itself (AWS::ApiGateway::Account). */
  readonly setsApiGatewayAccount: boolean;
  /** A DIMENSIONAL/SERVICE anomaly monitor (one per account). */
  readonly serviceAnomalyMonitors: number;
  readonly customAnomalyMonitors: number;
  /** BudgetGuard's default: a custom resource that reuses or creates the account's AWS-services monitor at deploy. */
  readonly sharedAnomalyMonitors: number;
  /** Cost-allocation tag keys the stack activates (TenantInferenceProfiles' activator). */
  readonly tagKeys: readonly string[];
  /** SageMaker hosting instances by type: the most each endpoint config may run, summed per type. */
  readonly sagemakerInstances: Readonly<Record<string, number>>;
  readonly logsResourcePolicies: number;
  readonly apiKeys: number;
  readonly usagePlans: number;
  /** Bedrock upstream ids of the gateway config (foundation-model ids and inference-profile ids). */
  readonly bedrockModels: readonly string[];
  /** Router functions: each in-flight request, and each streamed answer for its whole length, holds one execution. */
  readonly routers: number;
  /**
   * A router in a VPC: how it gets out (the RouterFunction's `cdk-llm-finops:network` metadata) and its subnets as
   * literal ids (an imported VPC); subnets made in the same stack have no id before deploy and are not checked.
   */
  readonly routerNetwork?: RouterNetwork;
}

export interface RouterNetwork {
  readonly egress: 'nat' | 'create-endpoints' | 'existing-endpoints';
  readonly interfaceServices: readonly string[];
  readonly gatewayServices: readonly string[];
  readonly outside: readonly string[];
  readonly subnetIds: readonly string[];
}

/** Where the router's gateway config is: inline in its environment, or a file in its code asset. */
export function configSource(template: Template): { json: string } | { assetPath: string; file: string } | undefined {
  for (const r of Object.values(template.Resources ?? {})) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = ((r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {});
    if (typeof vars.LLM_FINOPS_CONFIG === 'string' && vars.LLM_FINOPS_USAGE_SCOPE === undefined) return { json: vars.LLM_FINOPS_CONFIG };
    // The CDK CLI records the asset folder in the metadata; without it (app.synth() alone) the code's S3 key names it.
    const key = (r.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
    const asset = r.Metadata?.['aws:asset:path'] ?? (typeof key === 'string' && /^[0-9a-f]{64}\.zip$/.test(key) ? `asset.${key.slice(0, -4)}` : undefined);
    if (typeof vars.LLM_FINOPS_CONFIG_FILE === 'string' && typeof asset === 'string' && vars.LLM_FINOPS_USAGE_SCOPE === undefined) {
      return { assetPath: asset, file: vars.LLM_FINOPS_CONFIG_FILE };
    }
  }
  return undefined;
}

/** The Bedrock upstream ids a gateway config names. */
export function bedrockModelsOf(config: unknown): string[] {
  const c = config as { providers?: { id?: string; type?: string }[]; models?: { provider?: string; upstreamModel?: string }[] } | undefined;
  const bedrock = new Set((c?.providers ?? []).filter((p) => p.type === 'bedrock').map((p) => p.id));
  return [...new Set((c?.models ?? []).filter((m) => bedrock.has(m.provider) && typeof m.upstreamModel === 'string').map((m) => m.upstreamModel!))];
}

export function stackNeeds(stack: string, template: Template, config?: unknown, network?: Omit<RouterNetwork, 'subnetIds'>): StackNeeds {
  const resources = Object.values(template.Resources ?? {});
  const of = (type: string) => resources.filter((r) => r.Type === type);
  const sagemaker: Record<string, number> = {};
  const all = template.Resources ?? {};
  for (const [id, r] of Object.entries(all)) {
    if (r.Type !== 'AWS::SageMaker::EndpointConfig') continue;
    // A variant scaled by Application Auto Scaling may reach its target's maximum, not only its initial count.
    const endpoint = endpointOfConfig(id, all);
    const target = endpoint ? scalableTargetOf(endpoint[0], endpoint[1], all) : undefined;
    const targetMax = target?.ScalableDimension === 'sagemaker:variant:DesiredInstanceCount' ? num(target.MaxCapacity) ?? 0 : 0;
    for (const v of (r.Properties?.ProductionVariants as Record<string, unknown>[] | undefined) ?? []) {
      const type = v.InstanceType;
      if (typeof type !== 'string') continue;
      const scaling = v.ManagedInstanceScaling as { MaxInstanceCount?: unknown } | undefined;
      sagemaker[type] = (sagemaker[type] ?? 0) + Math.max(num(v.InitialInstanceCount) ?? 0, num(scaling?.MaxInstanceCount) ?? 0, targetMax);
    }
  }
  const tagKeys = new Set<string>();
  for (const r of of('AWS::Lambda::Function')) {
    const raw = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.LLM_FINOPS_COST_ALLOCATION_TAGS;
    if (typeof raw === 'string') {
      try {
        for (const k of JSON.parse(raw) as string[]) tagKeys.add(k);
      } catch {
        // not ours to judge here: the activator refuses it at cold start
      }
    }
  }
  const monitors = of('AWS::CE::AnomalyMonitor');
  const routers = of('AWS::Lambda::Function').filter((r) => {
    const vars = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    return (vars.LLM_FINOPS_CONFIG !== undefined || vars.LLM_FINOPS_CONFIG_FILE !== undefined) && vars.LLM_FINOPS_USAGE_SCOPE === undefined;
  });
  return {
    stack,
    accessLoggingStages: of('AWS::ApiGateway::Stage').filter((r) => r.Properties?.AccessLogSetting !== undefined).length,
    setsApiGatewayAccount: of('AWS::ApiGateway::Account').length > 0,
    serviceAnomalyMonitors: monitors.filter((m) => m.Properties?.MonitorType === 'DIMENSIONAL' && m.Properties?.MonitorDimension === 'SERVICE').length,
    customAnomalyMonitors: monitors.filter((m) => m.Properties?.MonitorType === 'CUSTOM').length,
    sharedAnomalyMonitors: of('Custom::LlmFinopsAnomalyMonitor').length,
    tagKeys: [...tagKeys],
    sagemakerInstances: sagemaker,
    logsResourcePolicies: of('AWS::Logs::ResourcePolicy').length,
    apiKeys: of('AWS::ApiGateway::ApiKey').length,
    usagePlans: of('AWS::ApiGateway::UsagePlan').length,
    bedrockModels: bedrockModelsOf(config),
    routers: routers.length,
    routerNetwork: network ? { ...network, subnetIds: routers.flatMap((r) => ((r.Properties?.VpcConfig as { SubnetIds?: unknown[] } | undefined)?.SubnetIds ?? []).filter((s): s is string => typeof s === 'string')) } : undefined,
  };
}

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Finding {
  readonly check: string;
  readonly stack: string;
  readonly region: string;
  readonly verdict: Verdict;
  readonly message: string;
  readonly fix?: string;
  readonly doc?: string;
}

/** Documented limits the checks hold the account to (defaults; an account may have raised the adjustable ones). */
export const LIMITS = {
  logsResourcePolicies: 10,
  apiKeysPerRegion: 10_000,
  usagePlansPerRegion: 300,
  customAnomalyMonitors: 500,
} as const;

export const DOCS = {
  apiGatewayRole: 'https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html',
  anomalyMonitors: 'https://docs.aws.amazon.com/cost-management/latest/userguide/management-limits.html',
  tagActivation: 'https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html',
  bedrockProfiles: 'https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html',
  bedrockAccess: 'https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html',
  sagemakerQuotas: 'https://docs.aws.amazon.com/sagemaker/latest/dg/regions-quotas.html',
  apiGatewayQuotas: 'https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html',
  logsPolicies: 'https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html',
  lambdaConcurrency: 'https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html',
  lambdaVpc: 'https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc-internet.html',
} as const;

/** Lambda's "Concurrent executions" quota (Service Quotas code); new accounts may start far below the usual 1,000. */
export const LAMBDA_CONCURRENCY_QUOTA = 'L-B99A9384';

type Where = { stack: string; region: string };

export function checkApiGatewayRole(n: StackNeeds, where: Where, cloudwatchRoleArn: string | undefined): Finding | undefined {
  if (!n.accessLoggingStages) return undefined;
  const base = { check: 'apigateway-cloudwatch-role', ...where, doc: DOCS.apiGatewayRole };
  if (n.setsApiGatewayAccount) {
    return cloudwatchRoleArn
      ? { ...base, verdict: 'warn', message: `the stack sets the account's API Gateway CloudWatch role, which is already ${cloudwatchRoleArn}: it will be replaced (and kept on delete)`, fix: 'setUpApiGatewayAccountLogging: false where the role exists' }
      : { ...base, verdict: 'ok', message: 'the stack sets the account\'s API Gateway CloudWatch role (none is set yet)' };
  }
  return cloudwatchRoleArn
    ? { ...base, verdict: 'ok', message: `the account's API Gateway CloudWatch role is set (${cloudwatchRoleArn})` }
    : { ...base, verdict: 'fail', message: 'no API Gateway CloudWatch role in this account and Region: a stage with access logging fails to create', fix: 'deploy with setUpApiGatewayAccountLogging: true (one stack per account and Region)' };
}

export function checkAnomalyMonitors(n: StackNeeds, where: Where, existing: readonly { MonitorType?: string; MonitorDimension?: string; MonitorName?: string }[]): Finding | undefined {
  if (!n.serviceAnomalyMonitors && !n.customAnomalyMonitors && !n.sharedAnomalyMonitors) return undefined;
  const base = { check: 'anomaly-monitor', ...where, doc: DOCS.anomalyMonitors };
  const service = existing.filter((m) => m.MonitorType === 'DIMENSIONAL' && m.MonitorDimension === 'SERVICE').length;
  if (n.sharedAnomalyMonitors && !n.serviceAnomalyMonitors && !n.customAnomalyMonitors) {
    const found = existing.find((m) => m.MonitorType === 'DIMENSIONAL' && m.MonitorDimension === 'SERVICE');
    return { ...base, verdict: 'ok', message: found
      ? `the stack subscribes to the account's AWS-services anomaly monitor (${found.MonitorName ?? 'unnamed'})`
      : 'the stack creates the account\'s AWS-services anomaly monitor at deploy (kept when the stack is deleted)' };
  }
  if (n.serviceAnomalyMonitors && service) {
    return { ...base, verdict: 'fail', message: 'the account already has its one AWS-services (DIMENSIONAL/SERVICE) anomaly monitor', fix: 'drop anomalyMonitorAwsServices (a custom monitor is made instead) or pass anomalyMonitorArn' };
  }
  const custom = existing.filter((m) => m.MonitorType === 'CUSTOM').length;
  if (custom + n.customAnomalyMonitors > LIMITS.customAnomalyMonitors) {
    return { ...base, verdict: 'fail', message: `${custom} custom anomaly monitors exist; ${n.customAnomalyMonitors} more exceed the ${LIMITS.customAnomalyMonitors} allowed`, fix: 'reuse one with anomalyMonitorArn' };
  }
  return { ...base, verdict: 'ok', message: `room for the stack's anomaly monitor (${service} AWS-services, ${custom} custom monitors exist)` };
}

/** org: the organization's management account, or null when the account is in no organization. */
export function checkTagActivation(n: StackNeeds, where: Where, account: string, org: { managementAccountId: string } | null): Finding | undefined {
  if (!n.tagKeys.length) return undefined;
  const base = { check: 'cost-allocation-tags', ...where, doc: DOCS.tagActivation };
  if (org && org.managementAccountId !== account) {
    return {
      ...base, verdict: 'warn',
      message: `account ${account} is a member of an organization (management account ${org.managementAccountId}): it may not activate ${n.tagKeys.join(', ')}; the activator reports that in its log (TagActivationNotPermitted) instead of raising InactiveTagsAlarm`,
      fix: `activate the keys from the management account: ${activationCommand(n.tagKeys)}`,
    };
  }
  return { ...base, verdict: 'ok', message: `${org ? 'the management account' : 'a standalone account'} may activate ${n.tagKeys.join(', ')}` };
}

export type BedrockModelFact =
  | {
      readonly id: string;
      readonly kind: 'profile' | 'model';
      readonly found: true;
      readonly lifecycle?: string;
      /** From GetFoundationModelAvailability of the model (or the profile's model): false when not usable yet. */
      readonly authorized?: boolean;
      readonly accessDetail?: string;
    }
  | { readonly id: string; readonly kind: 'profile' | 'model'; readonly found: false; readonly error: string };

export function checkBedrockModels(where: Where, facts: readonly BedrockModelFact[]): Finding[] {
  return facts.map((f) => {
    const base = { check: 'bedrock-model', ...where };
    if (!f.found) {
      return f.kind === 'profile'
        ? { ...base, verdict: 'fail' as const, message: `inference profile ${f.id} does not exist in ${where.region} (${f.error})`, fix: 'use the profile of this Region\'s geography (us., eu., apac., ...) or a global. profile', doc: DOCS.bedrockProfiles }
        : { ...base, verdict: 'fail' as const, message: `model ${f.id} is not offered in ${where.region} (${f.error})`, fix: 'pick a model offered in the Region, or call it through a cross-Region inference profile', doc: DOCS.bedrockProfiles };
    }
    if (f.authorized === false) {
      return { ...base, verdict: 'fail' as const, message: `${f.id}: not usable by this account yet (${f.accessDetail ?? 'not authorized'})`, fix: 'enable the model in the Bedrock console (Model access), accepting its offer where one is needed', doc: DOCS.bedrockAccess };
    }
    if (f.lifecycle && f.lifecycle !== 'ACTIVE') {
      return { ...base, verdict: 'warn' as const, message: `${f.id} is ${f.lifecycle} in ${where.region}: it will be retired`, fix: 'move to its successor (llm-finops config validate names it)', doc: DOCS.bedrockAccess };
    }
    return { ...base, verdict: 'ok' as const, message: `${f.kind === 'profile' ? 'inference profile' : 'model'} ${f.id} is available in ${where.region}` };
  });
}

/** quotas: instance type -> the account's "<type> for endpoint usage" quota (undefined when Service Quotas has none). */
export function checkSageMakerQuotas(n: StackNeeds, where: Where, quotas: ReadonlyMap<string, number | undefined>): Finding[] {
  return Object.entries(n.sagemakerInstances).map(([type, needed]) => {
    const base = { check: 'sagemaker-quota', ...where, doc: DOCS.sagemakerQuotas };
    const quota = quotas.get(type);
    if (quota === undefined) return { ...base, verdict: 'warn' as const, message: `no "${type} for endpoint usage" quota found in Service Quotas for ${where.region}: the type may not be offered there` };
    if (quota < needed) {
      return { ...base, verdict: 'fail' as const, message: `${type}: the stack may run ${needed} instance(s), the account's endpoint quota is ${quota}`, fix: `request an increase of "${type} for endpoint usage" in Service Quotas (SageMaker)` };
    }
    return { ...base, verdict: 'ok' as const, message: `${type}: quota ${quota}, the stack needs up to ${needed} (other endpoints in the account share it)` };
  });
}

export function checkCounts(n: StackNeeds, where: Where, existing: { logsResourcePolicies: number; apiKeys: number; usagePlans: number }): Finding[] {
  const out: Finding[] = [];
  const count = (check: string, have: number, add: number, limit: number, what: string, fix: string, doc: string, hard: boolean) => {
    if (!add) return;
    const total = have + add;
    out.push({
      check, ...where, doc,
      verdict: total > limit ? (hard ? 'fail' : 'warn') : 'ok',
      message: `${what}: ${have} exist, the stack adds ${add}, the limit is ${limit}${total > limit ? '' : ` (${limit - total} left)`}`,
      ...(total > limit ? { fix } : {}),
    });
  };
  count('logs-resource-policies', existing.logsResourcePolicies, n.logsResourcePolicies, LIMITS.logsResourcePolicies, 'CloudWatch Logs resource policies', 'delete unused policies (aws logs describe-resource-policies) or use fewer managed-domain caches', DOCS.logsPolicies, true);
  count('apigateway-api-keys', existing.apiKeys, n.apiKeys, LIMITS.apiKeysPerRegion, 'API Gateway API keys', 'request a quota increase or remove unused keys', DOCS.apiGatewayQuotas, false);
  count('apigateway-usage-plans', existing.usagePlans, n.usagePlans, LIMITS.usagePlansPerRegion, 'API Gateway usage plans', 'request a quota increase or remove unused plans', DOCS.apiGatewayQuotas, false);
  return out;
}

/**
 * Every request holds one router execution while it runs, and a streamed answer holds it for the whole answer (a
 * coding agent's turn: a minute or more), so concurrent streams, not requests per second, meet the account's Lambda
 * concurrency, which every function in the Region shares. `expected`: the concurrent streams the operator plans for.
 */
export function checkLambdaConcurrency(n: StackNeeds, where: Where, quota: number | undefined, expected?: number): Finding | undefined {
  if (!n.routers) return undefined;
  const base = { check: 'lambda-concurrency', ...where, doc: DOCS.lambdaConcurrency };
  const fix = `request an increase of Lambda "Concurrent executions" (${LAMBDA_CONCURRENCY_QUOTA}) in Service Quotas`;
  if (quota === undefined) return { ...base, verdict: 'warn', message: 'the account\'s Lambda concurrency quota was not found in Service Quotas' };
  if (expected !== undefined && expected > quota) {
    return { ...base, verdict: 'fail', message: `${expected} concurrent streams need ${expected} router executions; the account allows ${quota} for every function in ${where.region}`, fix };
  }
  if (quota < 100) {
    return { ...base, verdict: 'warn', message: `the account allows ${quota} concurrent Lambda executions in ${where.region} (a new account's starting value): each streamed answer holds one for its whole length, so ${quota} concurrent streams throttle the gateway`, fix };
  }
  return { ...base, verdict: 'ok', message: `the account allows ${quota} concurrent Lambda executions in ${where.region}${expected !== undefined ? ` for ${expected} expected concurrent streams` : ''} (shared by every function there)` };
}

/** One probe of a configured Bedrock model: a 1-token Converse call made by `doctor --probe`. */
export type ProbeResult = { readonly id: string; readonly ok: true; readonly latencyMs: number } | { readonly id: string; readonly ok: false; readonly error: string; readonly name: string };

/**
 * What a probe's answer means for the first real request. AccessDenied on a third-party model in a fresh account is
 * the Marketplace subscription or Anthropic's use-case form (Bedrock user guide, "Access Amazon Bedrock foundation
 * models", read 2026-12-06), not a missing InvokeModel grant: doctor runs with the operator's credentials, not the
 * router's role.
 */
export function checkProbes(where: Where, results: readonly ProbeResult[]): Finding[] {
  return results.map((r) => {
    const base = { check: 'bedrock-probe', ...where };
    if (r.ok) return { ...base, verdict: 'ok' as const, message: `${r.id} answered a 1-token request in ${r.latencyMs} ms` };
    if (r.name === 'AccessDeniedException') {
      return {
        ...base, verdict: 'fail' as const, doc: DOCS.bedrockAccess,
        message: `${r.id} refused: ${r.error}`,
        fix: /anthropic\./.test(r.id)
          ? "submit Anthropic's use-case form once (Bedrock console, model catalog) and let the first call subscribe the account (aws-marketplace:Subscribe on the caller: the router role has it unless bedrockMarketplaceSubscribe is false)"
          : 'let the first call subscribe the account (aws-marketplace:Subscribe, Unsubscribe, ViewSubscriptions on the caller), or grant these credentials bedrock:InvokeModel',
      };
    }
    if (r.name === 'ThrottlingException' || r.name === 'ServiceUnavailableException') {
      return { ...base, verdict: 'warn' as const, message: `${r.id} is reachable but answered ${r.name}: ${r.error}`, fix: 'check the account\'s Bedrock tokens-per-minute quota for the model in Service Quotas' };
    }
    return { ...base, verdict: 'fail' as const, message: `${r.id} failed: ${r.name}: ${r.error}`, doc: DOCS.bedrockProfiles };
  });
}

/** What EC2 says about the router's subnets: each one's default route target, and the VPC's endpoints. */
export interface VpcFacts {
  readonly region: string;
  /** Subnet id -> the target of its 0.0.0.0/0 route (nat-..., tgw-..., igw-..., eni-..., pcx-...), or null for none. */
  readonly defaultRoutes: ReadonlyMap<string, string | null>;
  readonly endpoints: readonly { readonly serviceName: string; readonly type: string; readonly privateDns: boolean; readonly state: string }[];
}

/** Whether a router in a VPC has a way out: its NAT routes, or the endpoints it needs (or would create). */
export function checkRouterEgress(n: StackNeeds, where: Where, facts: VpcFacts): Finding | undefined {
  const net = n.routerNetwork;
  if (!net || !net.subnetIds.length) return undefined;
  const base = { check: 'router-egress', ...where, doc: DOCS.lambdaVpc };
  const name = (s: string) => `com.amazonaws.${facts.region}.${s}`;
  const live = facts.endpoints.filter((e) => e.state === 'available' || e.state === 'pending');
  if (net.egress === 'nat') {
    const bad = net.subnetIds.filter((s) => !/^(nat|tgw|eni|pcx|vgw|i)-/.test(facts.defaultRoutes.get(s) ?? ''));
    if (!bad.length) return { ...base, verdict: 'ok', message: `the router's subnets route 0.0.0.0/0 through ${[...new Set(net.subnetIds.map((s) => facts.defaultRoutes.get(s)))].join(', ')}` };
    const why = bad.map((s) => `${s} (${facts.defaultRoutes.get(s) ? `${facts.defaultRoutes.get(s)}: a Lambda function gets no public IP` : 'no default route'})`).join(', ');
    return { ...base, verdict: 'fail', message: `the router's subnets ${why} have no NAT route: its calls to AWS and to providers will time out`, fix: 'use PRIVATE_WITH_EGRESS subnets, or routerEgress: RouterEgress.CREATE_ENDPOINTS' };
  }
  if (net.egress === 'existing-endpoints') {
    const missing = [
      ...net.interfaceServices.filter((s) => !live.some((e) => e.serviceName === name(s) && e.type === 'Interface' && e.privateDns)),
      ...net.gatewayServices.filter((s) => !live.some((e) => e.serviceName === name(s) && e.type === 'Gateway')),
    ];
    return missing.length
      ? { ...base, verdict: 'fail', message: `the VPC has no endpoint (interface endpoints with private DNS) for ${missing.join(', ')}: the router's calls there will time out`, fix: 'create them, or routerEgress: RouterEgress.CREATE_ENDPOINTS' }
      : { ...base, verdict: 'ok', message: `the VPC has the endpoints the router needs: ${[...net.interfaceServices, ...net.gatewayServices].join(', ')}` };
  }
  // create-endpoints: private DNS cannot be enabled twice for one service in a VPC.
  const clash = net.interfaceServices.filter((s) => live.some((e) => e.serviceName === name(s) && e.type === 'Interface' && e.privateDns));
  return clash.length
    ? { ...base, verdict: 'fail', message: `the VPC already has interface endpoints with private DNS for ${clash.join(', ')}: creating the stack's fails`, fix: 'routerEgress: RouterEgress.EXISTING_ENDPOINTS (the router uses the existing ones)' }
    : { ...base, verdict: 'ok', message: `the stack creates the router's endpoints (${[...net.interfaceServices, ...net.gatewayServices].join(', ')}); none clashes with the VPC's` };
}

/**
 * A semantic cache deployed on a remote embedder (Bedrock, OpenAI-compatible) at the default threshold, which was never
 * measured for that embedder (the offline measurements are the sentence encoder's): a warning with the command that
 * calibrates it on the user's pairs. Read from the config alone; no AWS call.
 */
export function checkSemanticCalibration(config: unknown, where: { stack: string; region: string }): Finding | undefined {
  const sem = (config as { cache?: { semantic?: { enabled?: boolean; threshold?: number; embedder?: { type?: string; model?: string } } } } | undefined)?.cache?.semantic;
  const type = sem?.embedder?.type;
  if (!sem?.enabled || (type !== 'bedrock' && type !== 'openai-compatible') || sem.threshold !== undefined) return undefined;
  return {
    check: 'semantic-calibration', ...where, verdict: 'warn',
    message: `the semantic cache embeds with ${type}${sem.embedder?.model ? ` (${sem.embedder.model})` : ''} at the default threshold, never measured for that embedder: it may serve wrong answers or none`,
    fix: `llm-finops cache calibrate --embedder ${type} --data YOUR_PAIRS.jsonl --yes --config <gateway.json> --write (states its cost first; cents for a few thousand pairs; without --data, the pairs shipped with the CLI choose the content rule and may raise the threshold, not lower it)`,
  };
}

