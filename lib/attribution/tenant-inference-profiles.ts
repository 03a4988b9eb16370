import { createHash } from 'node:crypto';
import { Annotations, CfnResource, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as bedrock from 'aws-cdk-lib/aws-bedrock';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { BUNDLES, ENV_COST_ALLOCATION_TAGS, ENV_TENANT_UPSTREAMS, METRICS_NAMESPACE } from '../../lambda/contract';
import { GatewayConfig } from '../gateway/gateway-config';
import { bundleCode } from '../bundle-code';
import { bedrockModelSourceArn } from '../gateway/config-resources';
import type { IRouterBinding } from '../gateway/router-binding';

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
  readonly gatewayConfig: GatewayConfig;
  readonly tenants: TenantProfileSpec[];
  /** @default 'llm-finops:tenant' */
  readonly tenantTagKey?: string;
  /** @default 'llm-finops:team' */
  readonly teamTagKey?: string;
  /**
   * Activate the tag keys as cost allocation tags: a function calling ce:UpdateCostAllocationTagsStatus (us-east-1)
   * at deploy and every 6 hours until they are active. AWS only accepts keys it has seen on a resource (up to 24 hours
   * after the first profile is tagged) and only from a management or standalone account; an alarm fires when they are
   * still inactive after 30 hours. In an Organizations member account (which may neither list nor activate them) each
   * run logs the management account's command and publishes TagActivationNotPermitted instead: no alarm. Activation is
   * not retroactive.
   * @default true
   */
  readonly activateCostAllocationTags?: boolean;
  /** Where the inactive-tags alarm notifies (the platform passes its alert topic). */
  readonly alarmTopic?: sns.ITopic;
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

/**
 * A Bedrock application inference profile per tenant and model, tagged with the tenant (and team), so Bedrock spend
 * reaches CUR 2.0 with the tenant in `resource_tags` (at daily grain) and Cost Explorer can filter on it. The
 * router calls a tenant's profile instead of the shared model id (`bindRouter`), and its usage records name the
 * profile. Tenants created at run time (`llm-finops tenants create`) use the shared ids.
 */
export class TenantInferenceProfiles extends Construct {
  /** Profile ARNs: tenant -> model id -> ARN. */
  readonly arns: Record<string, Record<string, string>> = {};
  private readonly profileIds: Record<string, Record<string, string>> = {};
  readonly profiles: bedrock.CfnApplicationInferenceProfile[] = [];
  /** The scheduled cost-allocation tag activator (with activateCostAllocationTags). */
  readonly tagActivator?: lambda.Function;
  /** Fires when the tag keys are still inactive after 30 hours (with activateCostAllocationTags). */
  readonly inactiveTagsAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: TenantInferenceProfilesProps) {
    super(scope, id);
    const { models, tenants } = this.checkProps(props);
    const tenantTag = props.tenantTagKey ?? 'llm-finops:tenant';
    const teamTag = props.teamTagKey ?? 'llm-finops:team';
    this.buildProfiles(props.tenants, models, tenants, tenantTag, teamTag);
    if (props.activateCostAllocationTags ?? true) {
      const activation = this.buildTagActivation([tenantTag, teamTag], props.alarmTopic);
      this.tagActivator = activation.fn;
      this.inactiveTagsAlarm = activation.alarm;
    }
  }

  /** The config's Bedrock models (gateway model id -> upstream id) and tenants; every requested tenant and model checked. */
  private checkProps(props: TenantInferenceProfilesProps): { models: Map<string, string>; tenants: Map<string, { id: string; team?: string }> } {
    const config = GatewayConfig._documentOf(props.gatewayConfig, 'TenantInferenceProfiles gatewayConfig') as { [key: string]: any };
    const bedrockProviders = new Set((config.providers as { id: string; type: string }[]).filter((p) => p.type === 'bedrock').map((p) => p.id));
    const models = new Map((config.models as { id: string; provider: string; upstreamModel: string }[]).filter((m) => bedrockProviders.has(m.provider)).map((m) => [m.id, m.upstreamModel]));
    const tenants = new Map(((config.tenants ?? []) as { id: string; team?: string }[]).map((t) => [t.id, t]));
    const problems: string[] = [];
    if (!props.tenants.length) problems.push('tenants: at least one');
    if (!models.size) problems.push('gatewayConfig: no Bedrock model to make profiles for');
    for (const [i, t] of props.tenants.entries()) {
      if (!tenants.has(t.tenant)) problems.push(`tenants[${i}].tenant: '${t.tenant}' is not a tenant of the gateway config`);
      for (const m of t.models ?? []) if (!models.has(m)) problems.push(`tenants[${i}].models: '${m}' is not a Bedrock model of the gateway config`);
    }
    if (problems.length) throw new Error(`Invalid TenantInferenceProfiles props:\n  - ${problems.join('\n  - ')}`);
    return { models, tenants };
  }

  /** One tagged application inference profile per tenant and model, copied from the model (or its system profile). */
  private buildProfiles(specs: TenantProfileSpec[], models: Map<string, string>, tenants: Map<string, { team?: string }>, tenantTag: string, teamTag: string): void {
    const stack = Stack.of(this);
    for (const t of specs) {
      const team = t.team ?? tenants.get(t.tenant)?.team;
      this.arns[t.tenant] = {};
      this.profileIds[t.tenant] = {};
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
        this.profileIds[t.tenant][modelId] = profile.attrInferenceProfileId;
      }
    }
  }

  /**
   * A scheduled activator, not a one-shot custom resource: AWS accepts a key only once it has seen it on a resource
   * (up to 24 hours after the profiles are tagged), and only from a management or standalone account. It runs at
   * deploy (asynchronously: it can never fail or roll back the deployment) and every 6 hours, and publishes
   * InactiveCostAllocationTags, so keys still inactive after 30 hours raise an alarm instead of tenant budgets
   * silently tracking $0. https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html
   */
  private buildTagActivation(keys: string[], alarmTopic?: sns.ITopic): { fn: lambda.Function; alarm: cloudwatch.Alarm } {
    const fn = new lambda.Function(this, 'TagActivator', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: bundleCode(BUNDLES.tagActivator),
      memorySize: 256,
      timeout: Duration.seconds(60),
      logGroup: new logs.LogGroup(this, 'TagActivatorLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      environment: { [ENV_COST_ALLOCATION_TAGS]: JSON.stringify(keys) },
      description: 'cdk-llm-finops: activates the tenant and team cost allocation tags until they are active',
    });
    // Neither call takes a resource ARN.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ce:ListCostAllocationTags', 'ce:UpdateCostAllocationTagsStatus'], resources: ['*'] }));
    new events.Rule(this, 'TagActivatorSchedule', {
      schedule: events.Schedule.rate(Duration.hours(6)),
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 2 })],
      description: 'cdk-llm-finops: retry cost allocation tag activation',
    });
    const now = new triggers.Trigger(this, 'TagActivatorAtDeploy', { handler: fn, invocationType: triggers.InvocationType.EVENT, executeOnHandlerChange: true });
    for (const p of this.profiles) now.executeAfter(p);
    const alarm = new cloudwatch.Alarm(this, 'InactiveTagsAlarm', {
      alarmDescription:
        `Cost allocation tags ${keys.join(', ')} are still not active: tenant and team spend is not tagged in the CUR and tag-filtered budgets track $0. ` +
        'See the TagActivator logs (llm_finops_tag_activation) for each key and what to do: in an Organizations member account, activate them from the management account.',
      metric: new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: 'InactiveCostAllocationTags', statistic: 'Minimum', period: Duration.hours(6) }),
      threshold: 1,
      // Five 6-hour runs: past the 24 hours AWS may take to make a new key activatable.
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
    });
    if (alarmTopic) alarm.addAlarmAction(new cwActions.SnsAction(alarmTopic));
    Annotations.of(this).addInfoV2('cdk-llm-finops:tagActivation',
      `Cost allocation tags ${keys.join(', ')} are activated by a scheduled function (at deploy and every 6 hours) where the account may ` +
      '(a management or standalone account); new keys become activatable up to 24 hours after first use. An alarm (InactiveTagsAlarm) fires ' +
      'when they are still inactive after 30 hours; in an Organizations member account (no alarm there: the log names the command) activate them from the management account.');
    Validations.of(fn).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ce:ListCostAllocationTags and ce:UpdateCostAllocationTagsStatus take no resource ARN.' });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'Only its own CloudWatch Logs.',
    });
    this.prepareTriggerProvider(now);
    return { fn, alarm };
  }

  /** The CDK Trigger provider (one per stack): its nag acknowledgement and a log group with an expiry, made first. */
  private prepareTriggerProvider(trigger: triggers.Trigger): void {
    const stack = Stack.of(this);
    const provider = stack.node.tryFindChild('AWSCDK.TriggerCustomResourceProviderCustomResourceProvider');
    if (!provider) return;
    Validations.of(provider).acknowledge({ id: 'AwsSolutions-IAM4', reason: 'The CDK Trigger provider (CDK-managed) uses the basic execution role.' });
    // Lambda would create the provider's log group on its first run with no expiry: made first here, with one.
    const handler = provider.node.tryFindChild('Handler') as CfnResource | undefined;
    if (handler && !stack.node.tryFindChild('TriggerProviderLogs')) {
      const group = new logs.LogGroup(stack, 'TriggerProviderLogs', {
        logGroupName: Fn.join('', ['/aws/lambda/', handler.ref]), retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY,
      });
      trigger.node.addDependency(group);
    }
  }

  /**
   * Lets the router call the profiles: sets LLM_FINOPS_TENANT_UPSTREAMS (the ARN prefix once and {tenant: {model:
   * profile id}}, expanded to ARNs and laid over tenants[].upstreamModels at cold start) and grants
   * bedrock:InvokeModel(WithResponseStream) on the profiles (the models behind them are granted by the router's
   * config). Ids rather than ARNs: about a sixth of the bytes in Lambda's 4 KB environment.
   */
  bindRouter(fn: IRouterBinding): void {
    const stack = Stack.of(this);
    const ids: Record<string, Record<string, string>> = {};
    for (const [tenant, models] of Object.entries(this.profileIds)) ids[tenant] = { ...models };
    fn.addEnvironment(ENV_TENANT_UPSTREAMS, stack.toJsonString({ prefix: `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:application-inference-profile/`, ids }));
    iam.Grant.addToPrincipal({
      grantee: { grantPrincipal: fn.grantPrincipal },
      actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
      resourceArns: this.profiles.map((p) => p.attrInferenceProfileArn),
    });
  }
}
