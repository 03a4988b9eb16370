import { Annotations, CfnOutput, Duration, Names, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { createHash } from 'node:crypto';
import { Construct } from 'constructs';
import { BUNDLES, ENV_USAGE_SCOPE, type GatewayConfigDocument, usageIdentifierFor } from '../../lambda/contract';
import { checkEnvironmentSize, configDelivery } from './config-delivery';
import { GatewayConfig } from './gateway-config';
import { ImportedLlmGateway } from './imported-llm-gateway';
import { type ILlmGateway, type LlmGatewayAttributes, LlmGatewayBase } from './llm-gateway-base';
import type { ITokenQuotaTable } from '../quota/token-quota-table';
import { acknowledgeBasicExecutionRole } from '../nag';
import { RouterEgress, RouterFunction } from './router-function';
import { addBatchRoutes } from '../batch/batch-routes';

export interface LlmGatewayProps {
  /** The gateway config (`GatewayConfig.fromFile` or `.fromObject`), read by the router and the authorizer. */
  readonly config: GatewayConfig;

  /**
   * Where quotas are kept. Without one every router instance counts on its own, which only suits a demo.
   * @default - in-process counters, with a synth warning
   */
  readonly quotaTable?: ITokenQuotaTable;

  /**
   * Integration timeout: a streamed completion may run this long. Above 29 s needs API Gateway's integration-timeout
   * quota raised for buffered responses; streaming responses may run up to 15 minutes. A non-streamed request writes
   * nothing until its answer is complete, and API Gateway closes a response idle for 5 minutes: the router gives such
   * an answer up at 285 s with a 504 that says to stream, whatever this is (synth warns above 5 minutes).
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
   * Run the router function in this VPC (a Valkey semantic cache needs it). See RouterFunctionProps.vpc for what
   * its subnets must reach.
   * @default - no VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The router's subnets in `vpc`.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * With `vpc`: how the router reaches AWS services and providers (RouterFunctionProps.egress).
   * @default RouterEgress.NAT
   */
  readonly routerEgress?: RouterEgress;

  /**
   * Let the router start the AWS Marketplace subscription of a third-party Bedrock model (Anthropic, Meta, Mistral,
   * ...) on its first call; see RouterFunctionProps.bedrockMarketplaceSubscribe.
   * @default true when the config names a third-party Bedrock model
   */
  readonly bedrockMarketplaceSubscribe?: boolean;

  /**
   * Retention of the API access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;

  /**
   * The stage writes access logs, which API Gateway allows only once the account has a CloudWatch Logs role for it
   * in this Region (AWS::ApiGateway::Account, https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html);
   * in a fresh account or Region the stage fails to deploy without it. true: set it up here (the role and the account
   * setting, retained on delete: one stack per account and Region should own it). false: it exists already (set by
   * you, the console, or another stack).
   * @default - not set up here, and synth warns until you choose
   */
  readonly setUpApiGatewayAccountLogging?: boolean;

  /**
   * Name of the REST API: what the console lists and the `ApiName` dimension of its metrics, so two gateways in one
   * account and Region must not share it.
   * @default - a name unique to this gateway in the app: its stack, path and a hash
   */
  readonly restApiName?: string;

  /**
   * A WAF web ACL made here on the stage: the AWS managed common and known-bad-inputs rule sets (the common set's
   * body-size rule only counted, since prompts are large) and a per-IP rate limit; ~$5 + $1 per rule a month plus
   * $0.60 per 1M requests. To use your own, set `webAclArn` instead.
   * @default false (the key authorizer and per-tenant usage plans bound abuse)
   */
  readonly webAcl?: boolean;

  /**
   * The ARN of your own regional WAFv2 web ACL to associate with the stage (instead of `webAcl`).
   * @default - none
   */
  readonly webAclArn?: string;

  /**
   * Requests per 5 minutes from one IP address before the web ACL made here blocks it.
   * @default 2000
   */
  readonly webAclRateLimit?: number;

  /**
   * A custom domain for the API (regional endpoint, TLS 1.2): the base URL becomes https://<name>/v1.
   * @default - the execute-api URL
   */
  readonly domain?: GatewayDomainOptions;
}

export interface GatewayDomainOptions {
  /** Fully qualified name, e.g. llm.example.com. */
  readonly name: string;
  /** An ACM certificate for the name, in the stack's region. */
  readonly certificate: acm.ICertificate;
  /**
   * Creates an alias A record for the name in this zone; without it, point your DNS at the `DomainTarget` output.
   * @default - no record
   */
  readonly hostedZone?: route53.IHostedZone;
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
 * POST /v1/responses, POST /v1/messages and /v1/messages/count_tokens (keyed on x-api-key, as Anthropic clients send it),
 * POST /v1/embeddings, GET /v1/models, GET /v1/usage, POST /v1/feedback, GET /health (no authorizer).
 */
export class LlmGateway extends LlmGatewayBase {
  /**
   * A gateway another stack or app deployed, for dashboards, alarms and invoke grants here. Its stack's outputs
   * `RestApiId`, `RestApiName` and `RouterLogGroupName` give the attributes.
   */
  static fromLlmGatewayAttributes(scope: Construct, id: string, attrs: LlmGatewayAttributes): ILlmGateway {
    return new ImportedLlmGateway(scope, id, attrs);
  }

  readonly api: apigw.RestApi;
  readonly router: RouterFunction;
  readonly authorizerFunction: lambda.Function;
  /**
   * Scope of this gateway's usage-plan API key values (unique per gateway in the app, so two gateways in one account and
   * Region, such as staging and prod, never collide; API key values are unique per account and Region).
   */
  readonly usageScope: string;
  readonly baseUrl: string;
  readonly restApiId: string;
  readonly restApiName: string;
  readonly stageName: string;
  readonly routerLogGroup: logs.ILogGroup;
  /** The usage plan run-time tenants join (only with a quota table, where they are stored). */
  readonly runtimeTenantsPlan?: apigw.UsagePlan;
  private readonly props: LlmGatewayProps;
  private readonly tenants = new Set<string>();

  constructor(scope: Construct, id: string, props: LlmGatewayProps) {
    super(scope, id);
    this.props = props;
    const config = GatewayConfig._documentOf(props.config, 'LlmGateway config');
    this.usageScope = this.node.addr.slice(0, 10);
    const timeout = props.timeout ?? Duration.minutes(5);
    this.validate(props, timeout);
    const tracing = props.tracing ?? false;
    this.router = this.buildRouter(props, timeout, tracing);
    const { fn, bearer, xApiKey } = this.buildAuthorizers(props, config, tracing);
    this.authorizerFunction = fn;
    this.api = this.buildApi(props, tracing);
    this.restApiId = this.api.restApiId;
    this.restApiName = this.api.restApiName;
    this.stageName = this.api.deploymentStage.stageName;
    this.routerLogGroup = this.router.logGroup;
    this.addRoutes(timeout, bearer, xApiKey);
    this.protect(props);
    if (props.domain) this.addDomain(props.domain);
    this.baseUrl = props.domain ? `https://${props.domain.name}/v1` : `${this.api.url}v1`;
    this.runtimeTenantsPlan = this.addOutputsAndRuntimePlan(props);
    const configured = Array.isArray(config.tenants) ? (config.tenants as { id: string }[]) : [];
    for (const t of configured) this.addTenant(t.id);
  }

  /** Every rule, each problem named; a warning for a timeout past API Gateway's idle timeout. */
  private validate(props: LlmGatewayProps, timeout: Duration): void {
    const problems: string[] = [];
    if (!timeout.isUnresolved() && (timeout.toMilliseconds() < 50 || timeout.toMilliseconds() > 900_000)) {
      problems.push(`timeout: expected 50 ms to 15 minutes, got ${timeout.toHumanString()}`);
    }
    if (!timeout.isUnresolved() && timeout.toMilliseconds() > 300_000) {
      // API Gateway developer guide, "Stream the integration response" (read 2026-12-06): a stream idle for 5 minutes
      // (Regional endpoint) is closed. A non-streamed answer writes nothing until it is complete.
      Annotations.of(this).addWarningV2('cdk-llm-finops:nonStreamedIdleTimeout',
        `timeout ${timeout.toHumanString()} is above API Gateway's 5-minute idle timeout for streamed integrations: a streamed answer may run that long, ` +
        'but a non-streamed request (stream: false) writes nothing until its answer is complete: the router gives it up at 285 s with a 504 that says to stream. Clients with answers that long must stream.');
    }
    for (const [name, v] of [['tenantRateLimit', props.tenantRateLimit], ['tenantBurstLimit', props.tenantBurstLimit]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) problems.push(`${name}: expected a whole number >= 1, got ${v}`);
    }
    if (props.webAclRateLimit !== undefined && (!Number.isInteger(props.webAclRateLimit) || props.webAclRateLimit < 10 || props.webAclRateLimit > 2_000_000_000)) {
      problems.push(`webAclRateLimit: expected a whole number from 10 to 2,000,000,000 (WAF's range), got ${props.webAclRateLimit}`);
    }
    if (props.webAclRateLimit !== undefined && props.webAcl !== true) problems.push('webAclRateLimit: only with webAcl: true (a web ACL made here)');
    if (props.webAcl && props.webAclArn !== undefined) problems.push('webAcl / webAclArn: one or the other (a web ACL made here, or yours)');
    if (props.webAclArn !== undefined && !Token.isUnresolved(props.webAclArn) && !/^arn:aws[\w-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/.+$/.test(props.webAclArn)) {
      problems.push(`webAclArn: expected the ARN of a REGIONAL WAFv2 web ACL, got '${props.webAclArn}'`);
    }
    if (props.domain && !Token.isUnresolved(props.domain.name) && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(props.domain.name)) {
      problems.push(`domain.name: expected a fully qualified lower-case domain name, got '${props.domain.name}'`);
    }
    if (problems.length) throw new Error(`Invalid LlmGateway props:\n  - ${problems.join('\n  - ')}`);

  }

  /** The router function, bound to the quota table (or warned about without one). */
  private buildRouter(props: LlmGatewayProps, timeout: Duration, tracing: boolean): RouterFunction {
    const router = new RouterFunction(this, 'Router', {
      config: props.config, timeout: timeout.plus(Duration.seconds(10)), vpc: props.vpc, vpcSubnets: props.vpcSubnets, egress: props.routerEgress,
      bedrockMarketplaceSubscribe: props.bedrockMarketplaceSubscribe,
    });
    if (tracing) router.function.addEnvironment('AWS_XRAY_CONTEXT_MISSING', 'IGNORE_ERROR');
    if (props.quotaTable) props.quotaTable.bindRouter(router.function);
    else {
      Annotations.of(this).addWarningV2(
        'cdk-llm-finops:noQuotaTable',
        'LlmGateway has no quotaTable: each router instance keeps its own quota counters, so limits do not hold across instances. Pass a TokenQuotaTable.',
      );
    }

    return router;
  }

  /** The authorizer function and its two API Gateway authorizers: Bearer keys and Anthropic's x-api-key. */
  private buildAuthorizers(props: LlmGatewayProps, config: GatewayConfigDocument, tracing: boolean): { fn: lambda.Function; bearer: apigw.RequestAuthorizer; xApiKey: apigw.RequestAuthorizer } {
    const authorizerDelivery = configDelivery(BUNDLES.authorizer, config);
    const fn = new lambda.Function(this, 'Authorizer', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: authorizerDelivery.code,
      memorySize: 256,
      timeout: Duration.seconds(10),
      tracing: tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      logGroup: new logs.LogGroup(this, 'AuthorizerLogs', { retention: logs.RetentionDays.ONE_MONTH }),
      environment: { ...authorizerDelivery.environment, [ENV_USAGE_SCOPE]: this.usageScope },
      description: 'cdk-llm-finops authorizer: Bearer key -> tenant',
    });
    checkEnvironmentSize(fn, 'LlmGateway authorizer');
    props.quotaTable?.bindAuthorizer(fn);
    const bearer = new apigw.RequestAuthorizer(this, 'KeyAuthorizer', {
      handler: fn,
      identitySources: [apigw.IdentitySource.header('Authorization')],
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.minutes(5),
    });
    // Anthropic clients (Claude Code, the Anthropic SDKs) send their key as x-api-key. API Gateway calls an authorizer
    // only when all its identity sources are present, so the Messages routes get the same function keyed on that header.
    const xApiKey = new apigw.RequestAuthorizer(this, 'XApiKeyAuthorizer', {
      handler: fn,
      identitySources: [apigw.IdentitySource.header('x-api-key')],
      resultsCacheTtl: props.authorizerCacheTtl ?? Duration.minutes(5),
    });

    return { fn, bearer, xApiKey };
  }

  /** The REST API: regional, keys from the authorizer, JSON access logs, optional X-Ray. */
  private buildApi(props: LlmGatewayProps, tracing: boolean): apigw.RestApi {
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH });
    if (props.setUpApiGatewayAccountLogging === undefined) {
      Annotations.of(this).addWarningV2('cdk-llm-finops:apiGatewayAccountLogging',
        'The API stage writes access logs, which needs the account\'s API Gateway CloudWatch Logs role in this Region (AWS::ApiGateway::Account); ' +
        'in a fresh account or Region the deploy fails without it. Set setUpApiGatewayAccountLogging: true in one stack per account and Region, ' +
        'or false if it is set already (`aws apigateway get-account` shows cloudwatchRoleArn).');
    }
    return new apigw.RestApi(this, 'Resource', {
      restApiName: props.restApiName ?? Names.uniqueResourceName(this, { maxLength: 64 }),
      description: 'cdk-llm-finops OpenAI-compatible gateway',
      apiKeySourceType: apigw.ApiKeySourceType.AUTHORIZER,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // The account-level role, only when asked (one per account and Region); kept on delete, as other APIs rely on it.
      cloudWatchRole: props.setUpApiGatewayAccountLogging === true,
      cloudWatchRoleRemovalPolicy: props.setUpApiGatewayAccountLogging === true ? RemovalPolicy.RETAIN : undefined,
      deployOptions: {
        stageName: 'prod',
        tracingEnabled: tracing,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        metricsEnabled: true,
      },
    });
  }

  /** The routes: every API route streams from the router; /health is answered by API Gateway itself. */
  private addRoutes(timeout: Duration, bearer: apigw.RequestAuthorizer, xApiKey: apigw.RequestAuthorizer): void {
    const integration = new apigw.LambdaIntegration(this.router.function, {
      proxy: true,
      responseTransferMode: apigw.ResponseTransferMode.STREAM,
      timeout,
    });
    const authorized: apigw.MethodOptions = { authorizer: bearer, authorizationType: apigw.AuthorizationType.CUSTOM, apiKeyRequired: true };
    const v1 = this.api.root.addResource('v1');
    const byXApiKey: apigw.MethodOptions = { ...authorized, authorizer: xApiKey };
    this.routeOptions = { integration, authorized, byXApiKey };
    v1.addResource('chat').addResource('completions').addMethod('POST', integration, authorized);
    v1.addResource('responses').addMethod('POST', integration, authorized);
    const messages = v1.addResource('messages');
    messages.addMethod('POST', integration, byXApiKey);
    messages.addResource('count_tokens').addMethod('POST', integration, byXApiKey);
    v1.addResource('embeddings').addMethod('POST', integration, authorized);
    v1.addResource('models').addMethod('GET', integration, authorized);
    v1.addResource('usage').addMethod('GET', integration, authorized);
    v1.addResource('feedback').addMethod('POST', integration, authorized);
    // Unauthenticated, so answered by API Gateway itself: a flood of /health probes costs no Lambda invocation.
    const health = new apigw.MockIntegration({
      requestTemplates: { 'application/json': '{"statusCode": 200}' },
      integrationResponses: [{ statusCode: '200', responseTemplates: { 'application/json': '{"status":"ok"}' } }],
    });
    this.api.root.addResource('health').addMethod('GET', health, { methodResponses: [{ statusCode: '200' }] });

  }

  /**
   * The config document the gateway was made with (BatchLane reads its Bedrock models).
   * @internal
   */
  _configDocument(): GatewayConfigDocument {
    return GatewayConfig._documentOf(this.props.config, 'LlmGateway config');
  }

  private routeOptions?: { integration: apigw.LambdaIntegration; authorized: apigw.MethodOptions; byXApiKey: apigw.MethodOptions };
  private batchRoutes = false;

  /**
   * The Files, Batch and Message Batches routes, streamed from the router like the others (BatchLane adds them when
   * it binds this gateway): Bearer keys on the OpenAI shapes, x-api-key on Anthropic's.
   * @internal
   */
  _addBatchRoutes(): void {
    if (this.batchRoutes) return;
    this.batchRoutes = true;
    const { integration, authorized, byXApiKey } = this.routeOptions!;
    addBatchRoutes(this.api.root.getResource('v1')!, integration, authorized, byXApiKey);
  }

  /** The web ACL (made here or yours) and the API's cdk-nag acknowledgements. */
  private protect(props: LlmGatewayProps): void {
    acknowledgeBasicExecutionRole(this.authorizerFunction);
    const webAclArn = props.webAcl ? this.makeWebAcl(props.webAclRateLimit ?? 2000).attrArn : props.webAclArn;
    if (webAclArn) {
      new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn });
    }
    for (const ack of API_NAG_ACKNOWLEDGEMENTS) {
      if (!(webAclArn && ack.id === 'AwsSolutions-APIG3')) Validations.of(this.api).acknowledge(ack);
    }

  }

  /** The custom domain (TLS 1.2), its alias record, and the regional target for a CNAME as an output. */
  private addDomain(options: GatewayDomainOptions): void {
    const domain = this.api.addDomainName('Domain', {
      domainName: options.name,
      certificate: options.certificate,
      endpointType: apigw.EndpointType.REGIONAL,
      securityPolicy: apigw.SecurityPolicy.TLS_1_2,
    });
    if (options.hostedZone) {
      new route53.ARecord(this, 'DomainRecord', {
        zone: options.hostedZone,
        recordName: options.name,
        target: route53.RecordTarget.fromAlias(new route53Targets.ApiGatewayDomain(domain)),
      });
    }
    new CfnOutput(this, 'DomainTarget', { value: domain.domainNameAliasDomainName, description: 'Regional target for a CNAME or alias record of the custom domain' });
  }

  /** The outputs `llm-finops tenants` and `fromLlmGatewayAttributes` read, and the usage plan run-time tenants join. */
  private addOutputsAndRuntimePlan(props: LlmGatewayProps): apigw.UsagePlan | undefined {
    new CfnOutput(this, 'BaseUrl', { value: this.baseUrl, description: 'OpenAI-compatible base URL' });
    // What LlmGateway.fromLlmGatewayAttributes needs in another stack or app.
    new CfnOutput(this, 'RestApiId', { value: this.restApiId, description: 'For LlmGateway.fromLlmGatewayAttributes (restApiId)' });
    new CfnOutput(this, 'RestApiName', { value: this.restApiName, description: 'For LlmGateway.fromLlmGatewayAttributes (restApiName: the ApiName dimension of its metrics)' });
    new CfnOutput(this, 'RouterLogGroupName', { value: this.routerLogGroup.logGroupName, description: 'For LlmGateway.fromLlmGatewayAttributes (routerLogGroupName: the usage records)' });
    if (!props.quotaTable) return undefined;
    // Run-time tenants (llm-finops tenants create --usage-plan-id) join this plan: API Gateway needs one per key.
    const plan = this.api.addUsagePlan('RuntimeTenantsPlan', {
      description: 'run-time tenants (llm-finops tenants)',
      throttle: { rateLimit: props.tenantRateLimit ?? 50, burstLimit: props.tenantBurstLimit ?? 100 },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    new CfnOutput(this, 'RuntimeTenantsUsagePlanId', { value: plan.usagePlanId, description: 'For llm-finops tenants create --usage-plan-id' });
    new CfnOutput(this, 'UsageScope', { value: this.usageScope, description: 'For llm-finops tenants create --usage-scope (the prefix of this gateway\'s meter keys)' });
    return plan;
  }


  /** A regional web ACL: AWS managed common and known-bad-inputs rules and a per-IP rate limit. */
  private makeWebAcl(rateLimit: number): wafv2.CfnWebACL {
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({ cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true });
    const managed = (name: string, priority: number, countOnly: string[] = []): wafv2.CfnWebACL.RuleProperty => ({
      name, priority, overrideAction: { none: {} }, visibilityConfig: visibility(name),
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS', name,
          ruleActionOverrides: countOnly.length ? countOnly.map((r) => ({ name: r, actionToUse: { count: {} } })) : undefined,
        },
      },
    });
    return new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('llm-finops-gateway'),
      rules: [
        // Prompts routinely exceed the common set's 8 KB body limit: count those, do not block them.
        managed('AWSManagedRulesCommonRuleSet', 0, ['SizeRestrictions_BODY']),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 1),
        {
          name: 'RatePerIp', priority: 2, action: { block: {} }, visibilityConfig: visibility('RatePerIp'),
          statement: { rateBasedStatement: { limit: rateLimit, aggregateKeyType: 'IP' } },
        },
      ],
    });
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
    const name = tenantConstructName(tenantId);
    const key = this.api.addApiKey(`Key${name}`, { value: usageIdentifierFor(tenantId, this.usageScope), description: `usage identifier of tenant ${tenantId}` });
    const plan = this.api.addUsagePlan(`Plan${name}`, {
      description: `tenant ${tenantId}`,
      throttle: { rateLimit: options.rateLimit ?? this.props.tenantRateLimit ?? 50, burstLimit: options.burstLimit ?? this.props.tenantBurstLimit ?? 100 },
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    plan.addApiKey(key);
  }
}

/**
 * A tenant's part of its key's and plan's construct ids, from its id alone: adding, removing or reordering tenants
 * never renames another's (which would replace its API key and usage plan on deploy). A letters-and-digits id is used
 * as it is; any other gets the letters and digits plus 8 hex of the id's SHA-256, so "a.b" and "ab" stay apart.
 */
export function tenantConstructName(tenantId: string): string {
  if (/^[A-Za-z0-9]+$/.test(tenantId)) return tenantId;
  return `${tenantId.replace(/[^A-Za-z0-9]/g, '')}${createHash('sha256').update(tenantId).digest('hex').slice(0, 8)}`;
}
