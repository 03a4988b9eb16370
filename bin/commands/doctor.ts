import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APIGatewayClient, GetAccountCommand, GetApiKeysCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { BedrockClient, GetFoundationModelAvailabilityCommand, GetFoundationModelCommand, GetInferenceProfileCommand } from '@aws-sdk/client-bedrock';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { DescribeRouteTablesCommand, DescribeSubnetsCommand, DescribeVpcEndpointsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CloudWatchLogsClient, DescribeResourcePoliciesCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CostExplorerClient, GetAnomalyMonitorsCommand, type AnomalyMonitor } from '@aws-sdk/client-cost-explorer';
import { DescribeOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, ListServiceQuotasCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { Command } from 'commander';
import {
  checkAnomalyMonitors, checkApiGatewayRole, checkBedrockModels, checkCounts, checkLambdaConcurrency, checkProbes, checkSageMakerQuotas, checkTagActivation, configSource, LAMBDA_CONCURRENCY_QUOTA,
  checkRouterEgress, checkSemanticCalibration, stackNeeds, type BedrockModelFact, type Finding, type ProbeResult, type RouterNetwork, type StackNeeds, type VpcFacts,
} from '../../lambda/core/finops/doctor';
import { costExplorerRegion } from '../../lambda/core/finops/tag-activation';
import { baseModelId, isProfileId } from '../../lambda/core/pricing/catalog';
import { action, integerIn, pages, UsageError } from '../cli-support';

type Stack = { name: string; account?: string; region?: string; template: Record<string, unknown>; config?: unknown; network?: Omit<RouterNetwork, 'subnetIds'> };

/** The stacks of a cloud assembly (manifest.json), their environments, templates and gateway configs. */
export function readAssembly(dir: string, configFile?: string): Stack[] {
  type Metadata = Record<string, { type?: string; data?: unknown }[]>;
  let manifest: { artifacts?: Record<string, { type?: string; environment?: string; properties?: { templateFile?: string }; metadata?: Metadata; additionalMetadataFile?: string }> };
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    throw new UsageError(`cannot read ${join(dir, 'manifest.json')}: synthesise first (npm start, cdk synth) or pass --app DIR`);
  }
  let explicit: unknown;
  if (configFile) {
    try {
      explicit = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (err) {
      throw new UsageError(`--config ${configFile}: ${(err as Error).message}`);
    }
  }
  const stacks: Stack[] = [];
  for (const [name, a] of Object.entries(manifest.artifacts ?? {})) {
    if (a.type !== 'aws:cloudformation:stack' || !a.properties?.templateFile) continue;
    const template = JSON.parse(readFileSync(join(dir, a.properties.templateFile), 'utf8'));
    const env = /^aws:\/\/([^/]+)\/(.+)$/.exec(a.environment ?? '');
    const known = (v: string | undefined) => (v && !v.startsWith('unknown-') ? v : undefined);
    let config = explicit;
    if (config === undefined) {
      const src = configSource(template);
      if (src && 'json' in src) config = JSON.parse(src.json);
      else if (src && existsSync(join(dir, src.assetPath, src.file))) config = JSON.parse(readFileSync(join(dir, src.assetPath, src.file), 'utf8'));
    }
    // RouterFunction records how a router in a VPC gets out (construct metadata, in the manifest).
    // The CDK CLI may move a stack's metadata to its own file (additionalMetadataFile).
    const metadata: Metadata = { ...a.metadata, ...(a.additionalMetadataFile && existsSync(join(dir, a.additionalMetadataFile)) ? JSON.parse(readFileSync(join(dir, a.additionalMetadataFile), 'utf8')) as Metadata : {}) };
    const network = Object.values(metadata).flat().find((m) => m.type === 'cdk-llm-finops:network')?.data as Stack['network'];
    stacks.push({ name, account: known(env?.[1]), region: known(env?.[2]), template, config, network });
  }
  if (!stacks.length) throw new UsageError(`${dir} holds no stacks`);
  return stacks;
}

const message = (err: unknown): string => {
  const e = err as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
};

async function bedrockFacts(client: BedrockClient, ids: readonly string[]): Promise<BedrockModelFact[]> {
  const facts: BedrockModelFact[] = [];
  for (const id of ids) {
    if (id.startsWith('arn:')) continue; // an ARN the user chose: nothing to resolve
    const profile = isProfileId(id);
    const kind = profile ? 'profile' : 'model';
    const modelId = baseModelId(id);
    let lifecycle: string | undefined;
    try {
      if (profile) await client.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: id }));
      else lifecycle = (await client.send(new GetFoundationModelCommand({ modelIdentifier: id }))).modelDetails?.modelLifecycle?.status;
    } catch (err) {
      facts.push({ id, kind, found: false, error: message(err) });
      continue;
    }
    let authorized: boolean | undefined;
    let accessDetail: string | undefined;
    try {
      const a = await client.send(new GetFoundationModelAvailabilityCommand({ modelId }));
      authorized = a.authorizationStatus === 'AUTHORIZED' && a.entitlementAvailability === 'AVAILABLE';
      accessDetail = `authorization ${a.authorizationStatus}, entitlement ${a.entitlementAvailability}, agreement ${a.agreementAvailability?.status ?? 'n/a'}`;
    } catch (err) {
      accessDetail = `availability not checked: ${message(err)}`;
    }
    facts.push({ id, kind, found: true, lifecycle, authorized, accessDetail });
  }
  return facts;
}

async function sagemakerQuotas(client: ServiceQuotasClient, types: readonly string[]): Promise<Map<string, number | undefined>> {
  const quotas = await pages(async (NextToken) => {
    const r = await client.send(new ListServiceQuotasCommand({ ServiceCode: 'sagemaker', NextToken, MaxResults: 100 }));
    return { items: r.Quotas ?? [], next: r.NextToken };
  });
  return new Map(types.map((t) => [t, quotas.find((q) => q.QuotaName === `${t} for endpoint usage`)?.Value]));
}

/**
 * One Converse call per model, 1 output token, a one-word prompt: a few input tokens each (a fraction of a cent for the
 * whole config at any catalog price). Sequential, so a throttled account is not made worse.
 */
async function probeBedrock(client: BedrockRuntimeClient, ids: readonly string[]): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  for (const id of ids) {
    const started = Date.now();
    try {
      await client.send(new ConverseCommand({ modelId: id, messages: [{ role: 'user', content: [{ text: 'ping' }] }], inferenceConfig: { maxTokens: 1 } }), { abortSignal: AbortSignal.timeout(30_000) });
      results.push({ id, ok: true, latencyMs: Date.now() - started });
    } catch (err) {
      const e = err as { name?: string; message?: string };
      results.push({ id, ok: false, name: e.name ?? 'Error', error: e.message ?? String(err) });
    }
  }
  return results;
}

/** The default route of each subnet (its own route table, else the VPC's main one) and the VPC's endpoints. */
async function vpcFacts(client: EC2Client, region: string, subnetIds: readonly string[]): Promise<VpcFacts> {
  const subnets = (await client.send(new DescribeSubnetsCommand({ SubnetIds: [...subnetIds] }))).Subnets ?? [];
  const vpcId = subnets[0]?.VpcId;
  if (!vpcId) throw new Error(`DescribeSubnets found none of ${subnetIds.join(', ')}`);
  const tables = await pages(async (NextToken) => {
    const r = await client.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], NextToken }));
    return { items: r.RouteTables ?? [], next: r.NextToken };
  });
  const target = (t: (typeof tables)[number] | undefined): string | null => {
    const r = t?.Routes?.find((x) => x.DestinationCidrBlock === '0.0.0.0/0' && x.State !== 'blackhole');
    return r ? (r.NatGatewayId ?? r.TransitGatewayId ?? r.NetworkInterfaceId ?? r.VpcPeeringConnectionId ?? r.GatewayId ?? r.InstanceId ?? null) : null;
  };
  const main = tables.find((t) => t.Associations?.some((a) => a.Main));
  const defaultRoutes = new Map(subnetIds.map((s) => [s, target(tables.find((t) => t.Associations?.some((a) => a.SubnetId === s)) ?? main)] as const));
  const endpoints = await pages(async (NextToken) => {
    const r = await client.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], NextToken }));
    return { items: r.VpcEndpoints ?? [], next: r.NextToken };
  });
  return {
    region, defaultRoutes,
    endpoints: endpoints.map((e) => ({ serviceName: e.ServiceName ?? '', type: e.VpcEndpointType ?? '', privateDns: e.PrivateDnsEnabled === true, state: (e.State ?? '').toLowerCase() })),
  };
}

/** The account's applied Lambda concurrency quota, or AWS's default where the account has no applied value. */
async function lambdaConcurrency(client: ServiceQuotasClient): Promise<number | undefined> {
  const input = { ServiceCode: 'lambda', QuotaCode: LAMBDA_CONCURRENCY_QUOTA };
  try {
    return (await client.send(new GetServiceQuotaCommand(input))).Quota?.Value;
  } catch (err) {
    if ((err as { name?: string }).name !== 'NoSuchResourceException') throw err;
    return (await client.send(new GetAWSDefaultServiceQuotaCommand(input))).Quota?.Value;
  }
}

/** One check that could not run (a read call refused): a warning naming the call, never a crash. */
function unchecked(check: string, where: { stack: string; region: string }, err: unknown): Finding {
  return { check, ...where, verdict: 'warn', message: `not checked: ${message(err)}`, fix: 'run doctor with credentials that may make this read-only call' };
}

export async function diagnose(stacks: readonly Stack[], opts: { region?: string; expectedStreams?: number; probe?: boolean }): Promise<Finding[]> {
  const identity = await new STSClient({ region: opts.region ?? stacks.find((s) => s.region)?.region ?? 'us-east-1' }).send(new GetCallerIdentityCommand({})).catch((err) => {
    throw new Error(`no usable AWS credentials (${message(err)}): doctor reads the account with the usual AWS credential chain`);
  });
  const account = identity.Account!;
  const findings: Finding[] = [];
  // Account-wide facts, fetched once.
  let org: { managementAccountId: string } | null | Error | undefined;
  let monitors: AnomalyMonitor[] | Error | undefined;
  const probed = new Set<string>();
  for (const s of stacks) {
    const region = s.region ?? opts.region;
    if (!region) throw new UsageError(`stack ${s.name} is environment-agnostic: pass --region (or set AWS_REGION)`);
    const where = { stack: s.name, region };
    const n: StackNeeds = stackNeeds(s.name, s.template as never, s.config, s.network);
    const calibration = checkSemanticCalibration(s.config, where);
    if (calibration) findings.push(calibration);
    if (s.account && s.account !== account) {
      findings.push({ check: 'credentials', ...where, verdict: 'warn', message: `the credentials are for account ${account}, the stack targets ${s.account}: the checks describe ${account}` });
    }
    const apigw = new APIGatewayClient({ region });
    if (n.accessLoggingStages) {
      try {
        const f = checkApiGatewayRole(n, where, (await apigw.send(new GetAccountCommand({}))).cloudwatchRoleArn);
        if (f) findings.push(f);
      } catch (err) {
        findings.push(unchecked('apigateway-cloudwatch-role', where, err));
      }
    }
    if (n.serviceAnomalyMonitors || n.customAnomalyMonitors || n.sharedAnomalyMonitors) {
      if (monitors === undefined) {
        monitors = await pages(async (NextPageToken) => {
          const r = await new CostExplorerClient({ region: costExplorerRegion(region) }).send(new GetAnomalyMonitorsCommand({ NextPageToken }));
          return { items: r.AnomalyMonitors ?? [], next: r.NextPageToken };
        }).catch((err: unknown) => err as Error);
      }
      if (monitors instanceof Error) findings.push(unchecked('anomaly-monitor', where, monitors));
      else {
        const f = checkAnomalyMonitors(n, where, monitors);
        if (f) findings.push(f);
      }
    }
    if (n.tagKeys.length) {
      if (org === undefined) {
        org = await new OrganizationsClient({ region: 'us-east-1' }).send(new DescribeOrganizationCommand({})).then(
          (r) => ({ managementAccountId: r.Organization!.MasterAccountId! }),
          (err: { name?: string }) => (err.name === 'AWSOrganizationsNotInUseException' ? null : (err as Error)),
        );
      }
      if (org instanceof Error) findings.push(unchecked('cost-allocation-tags', where, org));
      else {
        const f = checkTagActivation(n, where, account, org);
        if (f) findings.push(f);
      }
    }
    if (n.bedrockModels.length) findings.push(...checkBedrockModels(where, await bedrockFacts(new BedrockClient({ region }), n.bedrockModels)));
    if (opts.probe && n.bedrockModels.length) {
      findings.push(...checkProbes(where, await probeBedrock(new BedrockRuntimeClient({ region }), n.bedrockModels.filter((id) => !probed.has(`${region} ${id}`)))));
      for (const id of n.bedrockModels) probed.add(`${region} ${id}`);
    }
    if (n.routerNetwork?.subnetIds.length) {
      try {
        const f = checkRouterEgress(n, where, await vpcFacts(new EC2Client({ region }), region, n.routerNetwork.subnetIds));
        if (f) findings.push(f);
      } catch (err) {
        findings.push(unchecked('router-egress', where, err));
      }
    }
    if (n.routers) {
      try {
        const f = checkLambdaConcurrency(n, where, await lambdaConcurrency(new ServiceQuotasClient({ region })), opts.expectedStreams);
        if (f) findings.push(f);
      } catch (err) {
        findings.push(unchecked('lambda-concurrency', where, err));
      }
    }
    const types = Object.keys(n.sagemakerInstances);
    if (types.length) {
      try {
        findings.push(...checkSageMakerQuotas(n, where, await sagemakerQuotas(new ServiceQuotasClient({ region }), types)));
      } catch (err) {
        findings.push(unchecked('sagemaker-quota', where, err));
      }
    }
    if (n.logsResourcePolicies || n.apiKeys || n.usagePlans) {
      try {
        const [policies, keys, plans] = await Promise.all([
          n.logsResourcePolicies ? pages(async (nextToken) => {
            const r = await new CloudWatchLogsClient({ region }).send(new DescribeResourcePoliciesCommand({ nextToken, limit: 50 }));
            return { items: r.resourcePolicies ?? [], next: r.nextToken };
          }) : [],
          n.apiKeys ? pages(async (position) => {
            const r = await apigw.send(new GetApiKeysCommand({ position, limit: 500 }));
            return { items: r.items ?? [], next: r.position };
          }) : [],
          n.usagePlans ? pages(async (position) => {
            const r = await apigw.send(new GetUsagePlansCommand({ position, limit: 500 }));
            return { items: r.items ?? [], next: r.position };
          }) : [],
        ]);
        findings.push(...checkCounts(n, where, { logsResourcePolicies: policies.length, apiKeys: keys.length, usagePlans: plans.length }));
      } catch (err) {
        findings.push(unchecked('limits', where, err));
      }
    }
  }
  return findings;
}

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

export function formatFindings(findings: readonly Finding[]): string {
  const lines = findings.map((f) => `${MARK[f.verdict]}  ${f.stack} ${f.region}  ${f.check}: ${f.message}${f.fix ? `\n        fix: ${f.fix}` : ''}${f.doc && f.verdict !== 'ok' ? `\n        see: ${f.doc}` : ''}`);
  const n = (v: string) => findings.filter((f) => f.verdict === v).length;
  return `${lines.join('\n')}\n${n('fail')} will fail, ${n('warn')} warning(s), ${n('ok')} ok\n`;
}

/** `doctor`: the account prerequisites and limits the templates cannot show, read-only. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .summary('check an account against the synthesised stacks before cdk deploy')
    .description(
      'Before cdk deploy: for each stack of a synthesised cloud assembly, check (read-only calls, credentials from the usual AWS chain) what ' +
        'the templates cannot show: the API Gateway CloudWatch role, existing anomaly monitors, Organizations membership for tag activation, ' +
        'Bedrock model and inference-profile availability and access in the Region, SageMaker endpoint instance quotas, API keys and usage ' +
        'plans headroom, CloudWatch Logs resource policies (10 per Region), the account\'s Lambda concurrency against the streams a router holds. Prints ok / WARN / FAIL with the fix; exit 1 when something will fail.',
    )
    .option('--app <dir>', 'the cloud assembly (cdk synth output)', 'cdk.out')
    .option('--config <file>', 'the gateway config (default: read from the router function in the assembly)')
    .option('--region <region>', 'Region of environment-agnostic stacks (default: AWS_REGION, AWS_DEFAULT_REGION)')
    .option('--expected-streams <n>', 'concurrent requests (streamed answers) the gateway should hold at once: fail when the account\'s Lambda concurrency is lower', integerIn(1))
    .option('--probe', 'also call each configured Bedrock model once (Converse, 1 output token, a one-word prompt: a fraction of a cent in all) with these credentials and report what answers')
    .option('--json', 'print JSON')
    .action(
      action<{ app: string; config?: string; region?: string; json?: boolean; expectedStreams?: number; probe?: boolean }>(async (o) => {
        const stacks = readAssembly(o.app, o.config);
        const findings = await diagnose(stacks, { region: o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION, expectedStreams: o.expectedStreams, probe: o.probe });
        process.stdout.write(o.json ? `${JSON.stringify({ findings }, null, 2)}\n` : formatFindings(findings));
        return findings.some((f) => f.verdict === 'fail') ? 1 : 0;
      }),
    );
}
