import { createHash } from 'node:crypto';
import { Annotations, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as bedrock from 'aws-cdk-lib/aws-bedrock';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ENV_TENANT_UPSTREAMS, type GatewayConfigDocument } from '../../lambda/contract';
import { bedrockModelSourceArn } from '../gateway/config-resources';

/** One tenant's profiles. */
export interface TenantProfileSpec {
  /** Tenant id, as in the gateway config. */
  readonly tenant: string;
  /** Its team, for the team tag. @default - the config tenant's team, if any */
  readonly team?: string;
  /** Gateway model ids (Bedrock models) to give the tenant a profile for. @default - every Bedrock model in the config */
  readonly models?: string[];
}

export interface TenantInferenceProfilesProps {
  /** The gateway config: models resolve to their Bedrock ids through it, tenants must be in it. */
  readonly gatewayConfig: GatewayConfigDocument;
  readonly tenants: TenantProfileSpec[];
  /** @default 'llm-finops:tenant' */
  readonly tenantTagKey?: string;
  /** @default 'llm-finops:team' */
  readonly teamTagKey?: string;
  /**
   * Activate the tag keys as cost allocation tags (a custom resource calling ce:UpdateCostAllocationTagsStatus in
   * us-east-1). AWS only accepts keys it has seen on a resource, which can take up to 24 hours after the first
   * profile is tagged: a key refused then is reported in the custom resource's response; redeploy (or activate it in
   * the Billing console) later. Activation is not retroactive.
   * @default true
   */
  readonly activateCostAllocationTags?: boolean;
}

/**
 * A profile name Bedrock accepts (`^([0-9a-zA-Z][ _-]?)+$`, 64 characters): other characters (e.g. the dot of
 * `claude-sonnet-4.5`) become '-', and no two separators follow each other. Names are unique per account and Region,
 * so a `scope` (unique per construct in the app) keeps two platforms (staging, prod) with the same tenant apart; a
 * name past 64 characters keeps its start and ends in a hash of the whole, so two long names never collide.
 */
export function profileName(tenant: string, modelId: string, scope = ''): string {
  const clean = (x: string): string => x.replace(/[^0-9a-zA-Z _-]/g, '-').replace(/[ _-]{2,}/g, (m) => m[0]).replace(/^[ _-]+|[ _-]+$/g, '');
  const full = clean(`${scope ? `${scope}-` : ''}${tenant}-${modelId}`);
  if (full.length <= 64) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 12);
  return `${clean(full.slice(0, 51))}-${hash}`;
}

/** The id CDK gives AwsCustomResource's singleton provider function in a stack. */
const AWS_CUSTOM_RESOURCE_PROVIDER = 'AWS679f53fac002430cb0da5b7982bd2287';

/**
 * A Bedrock application inference profile per tenant and model, tagged with the tenant (and team), so Bedrock spend
 * reaches CUR 2.0 with the tenant in `resource_tags` (at daily grain) and Cost Explorer can filter on it. The
 * router calls a tenant's profile instead of the shared model id (`bindRouter`), and its usage records name the
 * profile. Tenants created at run time (`llm-finops tenants create`) use the shared ids.
 */
export class TenantInferenceProfiles extends Construct {
  /** Profile ARNs: tenant -> model id -> ARN. */
  readonly arns: Record<string, Record<string, string>> = {};
  readonly profiles: bedrock.CfnApplicationInferenceProfile[] = [];
  readonly tagActivation?: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: TenantInferenceProfilesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const config = props.gatewayConfig as { [key: string]: any };
    const bedrockProviders = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
    const models = new Map((config.models as { id: string; provider: string; upstreamModel: string }[]).filter((m) => bedrockProviders.has(m.provider)).map((m) => [m.id, m.upstreamModel]));
    const tenants = new Map(((config.tenants ?? []) as { id: string; team?: string }[]).map((t) => [t.id, t]));
    const tenantTag = props.tenantTagKey ?? 'llm-finops:tenant';
    const teamTag = props.teamTagKey ?? 'llm-finops:team';
    const problems: string[] = [];
    if (!props.tenants.length) problems.push('tenants: at least one');
    if (!models.size) problems.push('gatewayConfig: no Bedrock model to make profiles for');
    for (const [i, t] of props.tenants.entries()) {
      if (!tenants.has(t.tenant)) problems.push(`tenants[${i}].tenant: '${t.tenant}' is not a tenant of the gateway config`);
      for (const m of t.models ?? []) if (!models.has(m)) problems.push(`tenants[${i}].models: '${m}' is not a Bedrock model of the gateway config`);
    }
    if (problems.length) throw new Error(`Invalid TenantInferenceProfiles props:\n  - ${problems.join('\n  - ')}`);

    for (const t of props.tenants) {
      const team = t.team ?? tenants.get(t.tenant)?.team;
      this.arns[t.tenant] = {};
      for (const modelId of t.models ?? [...models.keys()]) {
        const upstream = models.get(modelId)!;
        const copyFrom = bedrockModelSourceArn(upstream, { partition: stack.partition, region: stack.region, account: stack.account });
        const name = profileName(t.tenant, modelId, this.node.addr.slice(0, 8));
        const profile = new bedrock.CfnApplicationInferenceProfile(this, `Profile-${t.tenant}-${modelId}`, {
          inferenceProfileName: name,
          description: `cdk-llm-finops: ${modelId} for tenant ${t.tenant}`,
          modelSource: { copyFrom },
          tags: [{ key: tenantTag, value: t.tenant }, ...(team ? [{ key: teamTag, value: team }] : [])],
        });
        this.profiles.push(profile);
        this.arns[t.tenant][modelId] = profile.attrInferenceProfileArn;
      }
    }

    if (props.activateCostAllocationTags ?? true) {
      const keys = [tenantTag, teamTag];
      const call: cr.AwsSdkCall = {
        service: 'CostExplorer',
        action: 'updateCostAllocationTagsStatus',
        region: 'us-east-1',
        parameters: { CostAllocationTagsStatus: keys.map((k) => ({ TagKey: k, Status: 'Active' })) },
        physicalResourceId: cr.PhysicalResourceId.of(`cost-allocation-tags-${keys.join(',')}`),
        // Only an Organizations management account (or a standalone one) may activate tags: in a member account the
        // call is refused, and that must not roll back the whole stack. The tags then need activating from the
        // management account (Billing console or `aws ce update-cost-allocation-tags-status`).
        ignoreErrorCodesMatching: 'AccessDenied.*|UnauthorizedOperation|Unauthorized.*',
      };
      this.tagActivation = new cr.AwsCustomResource(this, 'ActivateTags', {
        onCreate: call,
        onUpdate: call,
        // ce:UpdateCostAllocationTagsStatus takes no resource ARN.
        policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['ce:UpdateCostAllocationTagsStatus'], resources: ['*'] })]),
        installLatestAwsSdk: false,
        // The provider function's logs, with a retention (its default group keeps them for ever).
        logGroup: new logs.LogGroup(this, 'ActivateTagsLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      });
      for (const p of this.profiles) this.tagActivation.node.addDependency(p);
      Annotations.of(this).addInfoV2('cdk-llm-finops:tagActivation',
        `Cost allocation tags ${keys.join(', ')} are activated by this stack where the account may (a management or standalone account); ` +
        'in an Organizations member account activate them from the management account. New tags become activatable up to 24 hours after first use: ' +
        'until then, and until activated, tenant budgets and CUR tags track $0 (redeploy, or activate in the Billing console).');
      Validations.of(this.tagActivation).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ce:UpdateCostAllocationTagsStatus takes no resource ARN.' });
      // The stack-wide provider function of AwsCustomResource: only the basic execution role (its own logs).
      const provider = stack.node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER);
      if (provider) {
        Validations.of(provider).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: "AwsCustomResource's provider function writes only its own CloudWatch Logs.",
        });
      }
    }
  }

  /**
   * Lets the router call the profiles: sets LLM_FINOPS_TENANT_UPSTREAMS ({tenant: {model: profile ARN}}, laid over
   * tenants[].upstreamModels at cold start) and grants bedrock:InvokeModel(WithResponseStream) on the profiles (the
   * models behind them are granted by the router's config).
   */
  bindRouter(fn: { addEnvironment(key: string, value: string): unknown; readonly grantPrincipal: iam.IPrincipal }): void {
    fn.addEnvironment(ENV_TENANT_UPSTREAMS, Stack.of(this).toJsonString(this.arns));
    iam.Grant.addToPrincipal({
      grantee: { grantPrincipal: fn.grantPrincipal },
      actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
      resourceArns: this.profiles.map((p) => p.attrInferenceProfileArn),
    });
  }
}
