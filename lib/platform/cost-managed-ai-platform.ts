import { Annotations, CfnOutput, Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { GatewayConfig } from '../gateway/gateway-config';
import { CostAttribution, type CostAttributionProps } from '../attribution/cost-attribution';
import { TenantInferenceProfiles, type TenantProfileSpec } from '../attribution/tenant-inference-profiles';
import { AlertTopic, type AlertTopicProps, type IAlertTopic } from '../budgets/alert-topic';
import { BatchLane, type BatchLaneOptions } from '../batch/batch-lane';
import { CaptureStore, type CaptureStoreOptions } from '../capture/capture-store';
import { BudgetGuard, type BudgetLimits, KillSwitchMode } from '../budgets/budget-guard';
import { SemanticCache, type SemanticCacheProps } from '../cache/semantic-cache';
import { CostDashboard, type GatewayAlarmThresholds } from '../dashboard/cost-dashboard';
import type { InferenceEndpoint } from '../inference/inference-endpoint';
import { type GatewayDomainOptions, LlmGateway } from '../gateway/llm-gateway';
import type { RouterEgress } from '../gateway/router-function';
import { TokenQuotaTable } from '../quota/token-quota-table';

/** The platform's budgets: BudgetLimits (see BudgetGuardProps) plus what the platform wires for you. */
export interface PlatformBudgetOptions extends BudgetLimits {
  /**
   * What the kill switch does to the config's premium tiers when a budget passes 100%.
   * @default KillSwitchMode.DOWNGRADE
   */
  readonly killSwitchMode?: KillSwitchMode;
  /**
   * Also attach an IAM deny on premium Bedrock models to the router role at 100% of the total budget (a Budget
   * Action). Needs quota.premiumTiers in the config with a Bedrock model that serves no other tier.
   * @default true when the config has such models
   */
  readonly premiumDeny?: boolean;
}

export interface CostManagedAiPlatformProps {
  /** The gateway config (`GatewayConfig.fromFile` or `.fromObject`): providers, models, tiers, routing, tenants. */
  readonly gatewayConfig: GatewayConfig;

  /**
   * Whether to deploy the semantic and exact cache storage; without it the router caches in process only.
   * @default true
   */
  readonly enableSemanticCache?: boolean;

  /**
   * The semantic and exact cache storage's settings.
   * @default - a SemanticCache with its defaults: managed domain, development preset (~$55/month), the sentence encoder
   */
  readonly semanticCache?: SemanticCacheProps;

  /**
   * With a Valkey semantic cache (which puts the router in the cache's VPC): how the router reaches AWS services and
   * providers. RouterEgress.CREATE_ENDPOINTS makes the VPC endpoints it needs; isolated subnets need it (or
   * EXISTING_ENDPOINTS).
   * @default RouterEgress.NAT
   */
  readonly routerEgress?: RouterEgress;

  /**
   * Longest LLM call the API waits for.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;

  /**
   * Active X-Ray tracing on the API and the functions.
   * @default false
   */
  readonly tracing?: boolean;

  /**
   * Set up the account's API Gateway CloudWatch Logs role in this Region (see LlmGatewayProps.setUpApiGatewayAccountLogging):
   * true in one stack per account and Region, false where it exists.
   * @default - not set up here, and synth warns until you choose
   */
  readonly setUpApiGatewayAccountLogging?: boolean;

  /**
   * A WAF web ACL made here on the API (see LlmGatewayProps.webAcl).
   * @default false
   */
  readonly webAcl?: boolean;

  /**
   * Your own regional WAFv2 web ACL's ARN, associated with the API instead (see LlmGatewayProps.webAclArn).
   * @default - none
   */
  readonly webAclArn?: string;

  /**
   * A custom domain for the API.
   * @default - the execute-api URL
   */
  readonly domain?: GatewayDomainOptions;

  /**
   * Who hears about spend: email, Slack through AWS Chatbot, PagerDuty, encryption of the alert topic. Budget,
   * anomaly, 80% quota, kill-switch and alarm notices all go to this one topic.
   * @default - a TLS-only topic without subscribers
   */
  readonly notifications?: AlertTopicProps;

  /**
   * An alert topic made elsewhere (`AlertTopic.fromAlertTopicAttributes`, or another stack's `AlertTopic`), shared
   * with other platforms or teams; its subscribers are set where it was made, so `notifications` must be left out.
   * @default - a new AlertTopic with `notifications`
   */
  readonly alertTopic?: IAlertTopic;

  /**
   * AWS Budgets with the kill switch and anomaly detection.
   * @default - none
   */
  readonly budgets?: PlatformBudgetOptions;

  /**
   * The CloudWatch dashboard and gateway alarms.
   * @default true
   */
  readonly dashboard?: boolean;

  /**
   * Whether to deliver usage records to S3 (Firehose, Parquet) with Glue tables and the Athena attribution queries;
   * without it usage records stay in the router's log.
   * @default true
   */
  readonly enableCostAttribution?: boolean;

  /**
   * The cost attribution's settings; pass `cur` (a CurExport's location) to reconcile with the bill.
   * @default - CostAttribution with its defaults
   */
  readonly costAttribution?: CostAttributionProps;

  /**
   * Tenants that get their own tagged Bedrock application inference profiles (their Bedrock spend reaches CUR with
   * the tenant tag; the router calls the profiles).
   * @default - none: every tenant uses the shared model ids
   */
  readonly tenantInferenceProfiles?: TenantProfileSpec[];

  /**
   * Self-hosted endpoints the config's sagemaker models name (`endpoint.gatewayModel(...)`): the dashboard shows their
   * utilisation. The router's invoke permission comes from the config itself.
   * @default - none
   */
  readonly inferenceEndpoints?: InferenceEndpoint[];

  /**
   * The deferred lane: the Files, Batch and Message Batches APIs on the gateway, answered by Bedrock batch inference
   * at half the on-demand price, with quotas held and one usage record per line (BatchLane).
   * @default false
   */
  readonly enableBatchLane?: boolean;

  /**
   * The batch lane's settings.
   * @default - BatchLane's defaults (30 days' retention, a 5-minute sweep)
   */
  readonly batchLane?: BatchLaneOptions;

  /**
   * The capture store of the small-model path: a KMS-encrypted bucket the router writes training examples to, for the
   * features the gateway config opts in (`capture.features`) of tenants that consent (`tenants[].captureConsent`).
   * @default false
   */
  readonly enableCapture?: boolean;

  /**
   * The capture store's settings.
   * @default - CaptureStore's defaults (90 days' retention, a key made here)
   */
  readonly capture?: CaptureStoreOptions;

  /**
   * Alarm thresholds.
   * @default - GatewayAlarmThresholds defaults; with budgets, a spend-rate alarm at 4x the budget's average hourly rate
   */
  readonly alarms?: GatewayAlarmThresholds;
}

/**
 * The cost-managed AI stack in one construct: the OpenAI-compatible streaming gateway with its key authorizer and
 * router, DynamoDB quotas, the semantic cache, one alert topic for every notice, AWS Budgets with the kill switch,
 * the cost dashboard with its alarms, and cost attribution (usage to S3 and Athena), wired together.
 */
export class CostManagedAiPlatform extends Construct {
  /** The alert topic every notice goes to (made here, or the `alertTopic` given). */
  readonly alerts: IAlertTopic;
  readonly quota: TokenQuotaTable;
  readonly gateway: LlmGateway;
  readonly cache?: SemanticCache;
  readonly budgetGuard?: BudgetGuard;
  readonly dashboard?: CostDashboard;
  readonly attribution?: CostAttribution;
  readonly profiles?: TenantInferenceProfiles;
  readonly batchLane?: BatchLane;
  /** Training data for the small-model path (enableCapture). */
  readonly captureStore?: CaptureStore;

  constructor(scope: Construct, id: string, props: CostManagedAiPlatformProps) {
    super(scope, id);
    // Quotas must be shared by every router instance: DynamoDB, never the in-process store.
    const problems: string[] = [];
    if (props.alertTopic && props.notifications) problems.push('notifications: subscribers of an alertTopic made elsewhere are set where it was made; leave notifications out');
    this.alerts = props.alertTopic ?? new AlertTopic(this, 'Alerts', props.notifications);
    this.quota = new TokenQuotaTable(this, 'Quota', { alertTopic: this.alerts.topic });
    new CfnOutput(this, 'AlertTopicArn', { value: this.alerts.topic.topicArn, description: 'Every cost alert: subscribe a queue, a Lambda or another endpoint here' });
    if (props.enableSemanticCache === false && props.semanticCache !== undefined) problems.push('semanticCache: settings for a cache enableSemanticCache: false leaves out');
    if (props.enableCostAttribution === false && props.costAttribution !== undefined) problems.push('costAttribution: settings for what enableCostAttribution: false leaves out');
    if (!props.enableBatchLane && props.batchLane !== undefined) problems.push('batchLane: settings for a lane enableBatchLane (default false) leaves out; set enableBatchLane: true');
    if (!props.enableCapture && props.capture !== undefined) problems.push('capture: settings for a capture store enableCapture (default false) leaves out; set enableCapture: true');
    if (problems.length) throw new Error(`Invalid CostManagedAiPlatform props:\n  - ${problems.join('\n  - ')}`);
    const withCache = props.enableSemanticCache ?? true;
    const withAttribution = props.enableCostAttribution ?? true;
    // Valkey runs in a VPC, and the router with it.
    const valkey = withCache && props.semanticCache?.engine?.kind === 'valkey' ? props.semanticCache.engine : undefined;
    this.gateway = new LlmGateway(this, 'Gateway', {
      config: props.gatewayConfig, quotaTable: this.quota, timeout: props.timeout, tracing: props.tracing, webAcl: props.webAcl, webAclArn: props.webAclArn, domain: props.domain,
      setUpApiGatewayAccountLogging: props.setUpApiGatewayAccountLogging, vpc: valkey?.vpc, vpcSubnets: valkey?.vpcSubnets, routerEgress: valkey ? props.routerEgress : undefined,
    });
    if (withCache) {
      this.cache = new SemanticCache(this, 'Cache', props.semanticCache ?? {});
      this.cache.bindRouter(this.gateway.router.function);
      new CfnOutput(this, 'CacheEndpoint', { value: this.cache.endpoint, description: `${this.cache.engine.kind === 'valkey' ? 'Valkey' : 'OpenSearch'} endpoint of the semantic cache` });
    }
    if (withAttribution) {
      this.attribution = new CostAttribution(this, 'Attribution', props.costAttribution ?? {});
      this.attribution.bindRouter(this.gateway.router.function);
      new CfnOutput(this, 'AttributionWorkGroup', { value: this.attribution.workGroup.ref, description: 'Athena workgroup with the llm-finops attribution queries' });
      new CfnOutput(this, 'UsageBucket', { value: this.attribution.usageBucket.bucketName, description: 'Usage records as Parquet (usage/dt=yyyy-MM-dd/); `aws s3 sync` it for llm-finops report' });
    }
    if (props.tenantInferenceProfiles?.length) {
      this.profiles = new TenantInferenceProfiles(this, 'TenantProfiles', { gatewayConfig: props.gatewayConfig, tenants: props.tenantInferenceProfiles, tenantTagKey: props.costAttribution?.tenantTagKey, teamTagKey: props.costAttribution?.teamTagKey, alarmTopic: this.alerts.topic });
      this.profiles.bindRouter(this.gateway.router.function);
    }
    if (props.enableBatchLane) {
      this.batchLane = new BatchLane(this, 'BatchLane', { ...props.batchLane, gateway: this.gateway, alarmTopic: this.alerts.topic });
    }
    if (props.enableCapture) {
      this.captureStore = new CaptureStore(this, 'Capture', props.capture);
      this.captureStore.bindRouter(this.gateway.router.function);
      new CfnOutput(this, 'CaptureBucket', { value: this.captureStore.bucket.bucketName, description: 'Captured training examples (capture/<feature>/); `aws s3 sync` it for llm-finops distill plan --capture' });
      const capture = this.gateway._configDocument().capture;
      if (!capture?.features?.length) {
        Annotations.of(this.captureStore).addWarningV2('cdk-llm-finops:capture-no-feature', 'enableCapture: the gateway config opts no feature in (capture.features), so nothing is captured');
      }
    }
    const b = props.budgets;
    if (b) {
      const premium = this.gateway.router.premiumModelResources();
      if (b.premiumDeny === true && !premium.length) {
        throw new Error('Invalid CostManagedAiPlatform props:\n  - budgets.premiumDeny: the config has no premium Bedrock model to deny (set quota.premiumTiers to tiers with Bedrock models that serve no other tier)');
      }
      const role = this.gateway.router.function.role!;
      const { killSwitchMode, premiumDeny, ...limits } = b;
      this.budgetGuard = new BudgetGuard(this, 'Budgets', {
        ...limits,
        alertTopic: this.alerts.topic,
        killSwitch: { quotaTable: this.quota, mode: killSwitchMode ?? KillSwitchMode.DOWNGRADE },
        premiumDeny: premiumDeny !== false && premium.length ? { role, resources: premium } : undefined,
      });
    }
    if (props.dashboard ?? true) {
      // With a budget: alarm when an hour costs 4x the budget's average hour (730 hours a month).
      const spendPerHourUsd = props.alarms?.spendPerHourUsd ?? (b ? Math.round((b.monthlyLimitUsd / 730) * 4 * 100) / 100 : undefined);
      this.dashboard = new CostDashboard(this, 'Dashboard', {
        gateway: this.gateway,
        alarmTopic: this.alerts.topic,
        alarms: { ...props.alarms, spendPerHourUsd },
        sageMakerEndpointNames: props.inferenceEndpoints?.map((e) => e.endpointName),
      });
    }
  }
}
