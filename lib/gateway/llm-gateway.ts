import { Annotations, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { BUNDLES, ENV_CONFIG_JSON, usageIdentifierFor } from '../../lambda/contract';
import { bundleDir } from '../bundles';
import type { TokenQuotaTable } from '../quota/token-quota-table';
import { acknowledgeBasicExecutionRole } from '../nag';
import { RouterFunction } from './router-function';

export interface LlmGatewayProps {
  /** The GatewayConfig document (see schema/gateway-config.schema.json), read by the router and the authorizer. */
  readonly config: { [key: string]: any };

  /**
   * Where quotas are kept. Without one every router instance counts on its own, which only suits a demo.
   * @default - in-process counters, with a synth warning
   */
  readonly quotaTable?: TokenQuotaTable;

  /**
   * Integration timeout: a streamed completion may run this long. Above 29 s needs API Gateway's integration-timeout
   * quota raised for buffered responses; streaming responses may run up to 15 minutes.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;

  /**
   * How long API Gateway reuses an authorizer decision for the same key.
   * @default Duration.minutes(5)
   */
  readonly authorizerCacheTtl?: Duration;

  /**
   * Default request rate limit per tenant (usage plan), requests per second.
   * @default 50
   */
  readonly tenantRateLimit?: number;

  /**
   * Default burst per tenant (usage plan).
   * @default 100
   */
  readonly tenantBurstLimit?: number;

  /**
   * Active X-Ray tracing on the API stage and the functions.
   * @default false
   */
  readonly tracing?: boolean;

  /**
   * Retention of the API access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;
}

export interface TenantOptions {
  /**
   * Requests per second for this tenant.
   * @default - the gateway's tenantRateLimit
   */
  readonly rateLimit?: number;

  /**
   * Burst for this tenant.
   * @default - the gateway's tenantBurstLimit
   */
  readonly burstLimit?: number;
}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,110}$/;

/** cdk-nag AwsSolutions findings on the API that are choices, each with its reason. */
const API_NAG_ACKNOWLEDGEMENTS = [
  {
    id: 'AwsSolutions-APIG2',
    reason: 'The router validates every body against the OpenAI request schema and answers OpenAI-shaped 400s; an API Gateway validator would answer in another shape.',
  },
  {
    id: 'AwsSolutions-COG4',
    reason: 'Tenants authenticate with API keys (OpenAI SDKs send Bearer keys) checked by the Lambda REQUEST authorizer; /health is a public liveness probe.',
  },
  { id: 'AwsSolutions-APIG4', reason: 'Only GET /health is unauthenticated: a liveness probe that returns no data and calls no model.' },
  {
    id: 'AwsSolutions-APIG3',
    reason: 'A WAF web ACL costs at least $5/month; the authorizer and per-tenant usage plans bound abuse. Attach a web ACL to the stage for internet-facing production.',
  },
  {
    id: 'AwsSolutions-APIG6',
    reason: 'Access logs are on (JSON, per request); execution logging needs the account-wide API Gateway CloudWatch role, which a library must not change.',
  },
];

/**
 * The OpenAI-compatible gateway: an API Gateway REST API whose routes stream from the router Lambda
 * (ResponseTransferMode.STREAM), behind a Lambda REQUEST authorizer that maps `Authorization: Bearer <key>` to a
 * tenant (keys held as SHA-256 hashes) and to the tenant's usage plan. Routes: POST /v1/chat/completions,
 * GET /v1/models, GET /v1/usage, POST /v1/feedback, GET /health (no authorizer).
 */
export class LlmGateway extends Construct {
  readonly api: apigw.RestApi;
  readonly router: RouterFunction;
  readonly authorizerFunction: lambda.Function;
  /** Base URL for OpenAI SDKs, ending in /v1. */
  readonly baseUrl: string;
  private readonly props: LlmGatewayProps;
  private readonly tenants = new Set<string>();

  constructor(scope: Construct, id: string, props: LlmGatewayProps) {
    super(scope, id);
    this.props = props;
    const problems: string[] = [];
    const timeout = props.timeout ?? Duration.minutes(5);
    if (!timeout.isUnresolved() && (timeout.toMilliseconds() < 50 || timeout.toMilliseconds() > 900_000)) {
      problems.push(`timeout: expected 50 ms to 15 minutes, got ${timeout.toHumanString()}`);
    }
    for (const [name, v] of [['tenantRateLimit', props.tenantRateLimit], ['tenantBurstLimit', props.tenantBurstLimit]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) problems.push(`${name}: expected a whole number >= 1, got ${v}`);
    }
    if (problems.length) throw new Error(`Invalid LlmGateway props:\n  - ${problems.join('\n  - ')}`);

    const tracing = props.tracing ?? false;
    this.router = new RouterFunction(this, 'Router', { config: props.config, timeout: timeout.plus(Duration.seconds(10)) });
    if (tracing) this.router.function.addEnvironment('AWS_XRAY_CONTEXT_MISSING', 'IGNORE_ERROR');
    if (props.quotaTable) props.quotaTable.bindRouter(this.router.function);
    else {
      Annotations.of(this).addWarningV2(
        'cdk-llm-finops:noQuotaTable',
        'LlmGateway has no quotaTable: each router instance keeps its own quota counters, so limits do not hold across instances. Pass a TokenQuotaTable.',
      );
    }

    this.authorizerFunction = new lambda.Function(this, 'Authorizer', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(bundleDir(BUNDLES.authorizer)),
      memorySize: 256,
      timeout: Duration.seconds(10),
      tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      logGroup: new logs.LogGroup(this, 'AuthorizerLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      environment: { [ENV_CONFIG_JSON]: JSON.stringify(props.config) },
      description: 'cdk-llm-finops authorizer: Bearer key -> tenant',
    });
    const authorizer = new apigw.RequestAuthorizer(this, 'KeyAuthorizer', {
      handler: this.authorizerFunction,
      identitySources: [apigw.IdentitySource.header('Authorization')],
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.minutes(5),
    });

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH });
    this.api = new apigw.RestApi(this, 'Resource', {
      description: 'cdk-llm-finops OpenAI-compatible gateway',
      apiKeySourceType: apigw.ApiKeySourceType.AUTHORIZER,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'prod',
        tracingEnabled: tracing,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        metricsEnabled: true,
      },
    });
    const integration = new apigw.LambdaIntegration(this.router.function, {
      proxy: true,
      responseTransferMode: apigw.ResponseTransferMode.STREAM,
      timeout,
    });
    const authorized: apigw.MethodOptions = { authorizer, authorizationType: apigw.AuthorizationType.CUSTOM, apiKeyRequired: true };
    const v1 = this.api.root.addResource('v1');
    v1.addResource('chat').addResource('completions').addMethod('POST', integration, authorized);
    v1.addResource('models').addMethod('GET', integration, authorized);
    v1.addResource('usage').addMethod('GET', integration, authorized);
    v1.addResource('feedback').addMethod('POST', integration, authorized);
    this.api.root.addResource('health').addMethod('GET', integration);

    acknowledgeBasicExecutionRole(this.authorizerFunction);
    for (const ack of API_NAG_ACKNOWLEDGEMENTS) Validations.of(this.api).acknowledge(ack);

    this.baseUrl = `${this.api.url}v1`;
    new CfnOutput(this, 'BaseUrl', { value: this.baseUrl, description: 'OpenAI-compatible base URL' });
    const configured = Array.isArray(props.config.tenants) ? (props.config.tenants as { id: string }[]) : [];
    for (const t of configured) this.addTenant(t.id);
  }

  /**
   * Gives a tenant its usage plan (rate and burst limits) and the API key that identifies it to the plan. The tenant's
   * own secret key lives, hashed, in the gateway config; this key is only a meter. Tenants of the config are added
   * automatically.
   */
  addTenant(tenantId: string, options: TenantOptions = {}): void {
    if (!TENANT_ID.test(tenantId)) throw new Error(`addTenant: '${tenantId}' is not a valid tenant id (letters, digits, . _ : / -, at most 111 characters)`);
    if (this.tenants.has(tenantId)) throw new Error(`addTenant: tenant '${tenantId}' was already added`);
    this.tenants.add(tenantId);
    const safe = tenantId.replace(/[^A-Za-z0-9]/g, '');
    const key = this.api.addApiKey(`Key${safe}${this.tenants.size}`, { value: usageIdentifierFor(tenantId), description: `usage identifier of tenant ${tenantId}` });
    const plan = this.api.addUsagePlan(`Plan${safe}${this.tenants.size}`, {
      description: `tenant ${tenantId}`,
      throttle: { rateLimit: options.rateLimit ?? this.props.tenantRateLimit ?? 50, burstLimit: options.burstLimit ?? this.props.tenantBurstLimit ?? 100 },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    plan.addApiKey(key);
  }

  /** Grants execute-api:Invoke on every route and method of the stage. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.restApiId, resourceName: `${this.api.deploymentStage.stageName}/*/*` })],
    });
  }

  /** Server-side errors (5XX) of the stage. */
  metricServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.api.metricServerError(props);
  }

  /** Client errors (4XX) of the stage: refused keys, quota 429s, bad input. */
  metricClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.api.metricClientError(props);
  }

  /** End-to-end latency of the stage. */
  metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.api.metricLatency(props);
  }
}
