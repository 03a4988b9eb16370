import { createHash } from 'node:crypto';
import { ApiGatewayAuthorizer } from '@cdktf/provider-aws/lib/api-gateway-authorizer';
import { ApiGatewayDeployment } from '@cdktf/provider-aws/lib/api-gateway-deployment';
import { ApiGatewayIntegration } from '@cdktf/provider-aws/lib/api-gateway-integration';
import { ApiGatewayMethod } from '@cdktf/provider-aws/lib/api-gateway-method';
import { ApiGatewayResource } from '@cdktf/provider-aws/lib/api-gateway-resource';
import { ApiGatewayRestApi } from '@cdktf/provider-aws/lib/api-gateway-rest-api';
import { ApiGatewayStage } from '@cdktf/provider-aws/lib/api-gateway-stage';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { DataAwsRegion } from '@cdktf/provider-aws/lib/data-aws-region';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { AssetType, Fn, TerraformAsset, TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { BUNDLES, ENV_ALERT_TOPIC_ARN, ENV_CONFIG_JSON, ENV_QUOTA_TABLE, type GatewayConfigDocument, QUOTA_TABLE } from '../../lambda/contract';
import { bundleAssetHash, bundleDir, validateGatewayConfig } from '../bundles';
import { GatewayConfig } from '../gateway/gateway-config';
import { type ArnContext, artefactObjectArns, bedrockModelArns, marketplaceBedrockModels, providerSecretArns, sageMakerArns } from '../gateway/config-resources';

export interface TfLlmGatewayProps {
  /** The GatewayConfig document, validated at synth with the router's own checks. */
  readonly config: GatewayConfig;
  /** Prefix of every resource name (functions, roles, API, log groups). */
  readonly name: string;
  /** The quota table (TfQuotaTable): name and ARN. */
  readonly quotaTableName: string;
  readonly quotaTableArn: string;
  /** The alert topic for 80% quota alerts (TfAlertTopic.arn). @default - alerts go to the log */
  readonly alertTopicArn?: string;
  /** Router memory in MiB. @default 1024 */
  readonly memorySize?: number;
  /** Longest streamed completion, seconds: at most 300, the Terraform AWS provider's limit. @default 300 */
  readonly timeoutSeconds?: number;
  /** @default 30 */
  readonly logRetentionDays?: number;
  /**
   * Let the router start the AWS Marketplace subscription of a third-party Bedrock model on its first call (see the
   * CDK RouterFunction's bedrockMarketplaceSubscribe).
   * @default true when the config names a third-party Bedrock model
   */
  readonly bedrockMarketplaceSubscribe?: boolean;
}

const STATEMENT = (Action: string[], Resource: string[] | string) => ({ Effect: 'Allow', Action, Resource });

/**
 * The OpenAI-compatible gateway on Terraform's AWS provider: the router and authorizer Lambdas from the same
 * pre-built bundles as the CDK constructs (same content hash), the REST API with the Lambda REQUEST authorizer and
 * response streaming (`response_transfer_mode = STREAM`), least-privilege roles, log groups. Per-tenant usage plans,
 * the semantic cache, budgets actions and the dashboard are in the CDK flavour only (see docs/terraform.md).
 */
export class TfLlmGateway extends Construct {
  readonly api: ApiGatewayRestApi;
  readonly router: LambdaFunction;
  readonly authorizer: LambdaFunction;
  readonly routerRole: IamRole;
  readonly stage: ApiGatewayStage;
  /** The bundles as Terraform assets; their assetHash is bundleAssetHash(), the CDK asset hash too. */
  readonly routerAsset: TerraformAsset;
  readonly authorizerAsset: TerraformAsset;
  /** https://<api>.execute-api.<region>.amazonaws.com/prod/v1, for any OpenAI SDK. */
  readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: TfLlmGatewayProps) {
    super(scope, id);
    const { config, memory, timeout } = checkProps(props);
    const ctx: ArnContext = {
      partition: new DataAwsPartition(this, 'Partition').partition,
      region: new DataAwsRegion(this, 'Region').region,
      account: new DataAwsCallerIdentity(this, 'Account').accountId,
    };
    const configJson = JSON.stringify(config);
    const router = this.buildRouter(props, config, configJson, ctx, memory, timeout);
    const authorizer = this.buildFunction(props, 'authorizer', BUNDLES.authorizer, {
      memorySize: 256,
      timeout: 10,
      environment: { [ENV_CONFIG_JSON]: configJson, [ENV_QUOTA_TABLE]: props.quotaTableName },
      statements: [STATEMENT(['dynamodb:GetItem'], props.quotaTableArn)],
    });
    this.router = router.lambda;
    this.routerRole = router.role;
    this.authorizer = authorizer.lambda;
    this.routerAsset = router.asset;
    this.authorizerAsset = authorizer.asset;
    const api = this.buildApi(props.name, ctx, timeout);
    this.api = api.api;
    this.stage = this.buildStage(props, api.api, api.routes, api.deps);
    this.baseUrl = `${this.stage.invokeUrl}/v1`;
    new TerraformOutput(this, 'base_url', { value: this.baseUrl, description: 'OpenAI base URL of the gateway' });
  }

  /** A function from a pre-built bundle with its own log group, role and inline policy (logs plus `statements`). */
  private buildFunction(props: TfLlmGatewayProps, key: 'router' | 'authorizer', bundle: string, extra: { memorySize: number; timeout: number; environment: Record<string, string>; statements: object[] }) {
    const functionName = `${props.name}-${key}`;
    const logs = new CloudwatchLogGroup(this, `${key}-logs`, { name: `/aws/lambda/${functionName}`, retentionInDays: props.logRetentionDays ?? 30 });
    const role = new IamRole(this, `${key}-role`, {
      name: `${functionName}-role`,
      assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    });
    new IamRolePolicy(this, `${key}-policy`, {
      role: role.id,
      name: `${functionName}-policy`,
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        // Its own log group only; no managed policy.
        Statement: [STATEMENT(['logs:CreateLogStream', 'logs:PutLogEvents'], `${logs.arn}:*`), ...extra.statements],
      }),
    });
    const asset = new TerraformAsset(this, `${key}-code`, { path: bundleDir(bundle), type: AssetType.ARCHIVE, assetHash: bundleAssetHash(bundle) });
    const lambda = new LambdaFunction(this, key, {
      functionName,
      role: role.arn,
      handler: 'index.handler',
      runtime: 'nodejs24.x',
      architectures: ['arm64'],
      memorySize: extra.memorySize,
      timeout: extra.timeout,
      filename: asset.path,
      sourceCodeHash: Fn.filebase64sha256(asset.path),
      environment: { variables: extra.environment },
      loggingConfig: { logFormat: 'Text', logGroup: logs.name },
      dependsOn: [logs],
    });
    return { lambda, role, asset };
  }

  /** The router: the config, the quota table and topic, and exactly the models, endpoints, secrets and objects it names. */
  private buildRouter(props: TfLlmGatewayProps, config: GatewayConfigDocument, configJson: string, ctx: ArnContext, memory: number, timeout: number) {
    const tableResources = [props.quotaTableArn, `${props.quotaTableArn}/index/${QUOTA_TABLE.expiryIndex}`];
    const bedrock = bedrockModelArns(config, ctx);
    const sagemaker = sageMakerArns(config, ctx);
    const secrets = providerSecretArns(config, ctx);
    const artefacts = artefactObjectArns(config, ctx.partition);
    return this.buildFunction(props, 'router', BUNDLES.router, {
      memorySize: memory,
      timeout: timeout + 10,
      environment: {
        [ENV_CONFIG_JSON]: configJson,
        [ENV_QUOTA_TABLE]: props.quotaTableName,
        ...(props.alertTopicArn ? { [ENV_ALERT_TOPIC_ARN]: props.alertTopicArn } : {}),
      },
      statements: [
        STATEMENT(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:DescribeTable'], tableResources),
        ...(props.alertTopicArn ? [STATEMENT(['sns:Publish'], props.alertTopicArn)] : []),
        ...(bedrock.length ? [STATEMENT(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], bedrock)] : []),
        // Bedrock's automatic model access subscribes the account to a third-party model on its first call, as the caller.
        ...(props.bedrockMarketplaceSubscribe !== false && marketplaceBedrockModels(config).length
          ? [STATEMENT(['aws-marketplace:Subscribe', 'aws-marketplace:Unsubscribe', 'aws-marketplace:ViewSubscriptions'], '*')] : []),
        ...(sagemaker.length ? [STATEMENT(['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'], sagemaker)] : []),
        ...(secrets.length ? [STATEMENT(['secretsmanager:GetSecretValue'], secrets)] : []),
        ...(artefacts.length ? [STATEMENT(['s3:GetObject'], artefacts)] : []),
      ],
    });
  }

  /** The REST API: the two key authorizers, a streaming proxy integration to the router per route, the invoke permissions. */
  private buildApi(name: string, ctx: ArnContext, timeout: number) {
    const api = new ApiGatewayRestApi(this, 'api', {
      name: `${name}-api`,
      description: 'cdk-llm-finops OpenAI-compatible gateway (Terraform flavour)',
      endpointConfiguration: { types: ['REGIONAL'] },
    });
    const keyAuthorizer = new ApiGatewayAuthorizer(this, 'key-authorizer', {
      name: `${name}-key-authorizer`,
      restApiId: api.id,
      type: 'REQUEST',
      authorizerUri: this.authorizer.invokeArn,
      identitySource: 'method.request.header.Authorization',
      authorizerResultTtlInSeconds: 300,
    });
    // Anthropic clients (Claude Code, the Anthropic SDKs) send their key as x-api-key: the same function, keyed on that header.
    const anthropicKeyAuthorizer = new ApiGatewayAuthorizer(this, 'anthropic-key-authorizer', {
      name: `${name}-x-api-key-authorizer`,
      restApiId: api.id,
      type: 'REQUEST',
      authorizerUri: this.authorizer.invokeArn,
      identitySource: 'method.request.header.x-api-key',
      authorizerResultTtlInSeconds: 300,
    });
    const streamingUri = `arn:${ctx.partition}:apigateway:${ctx.region}:lambda:path/2021-11-15/functions/${this.router.arn}/response-streaming-invocations`;
    const resources = new Map<string, ApiGatewayResource>();
    const resourceFor = (path: string): ApiGatewayResource => {
      const existing = resources.get(path);
      if (existing) return existing;
      const parts = path.split('/');
      const parentId = parts.length === 1 ? api.rootResourceId : resourceFor(parts.slice(0, -1).join('/')).id;
      const r = new ApiGatewayResource(this, `res-${path.replace(/\//g, '-')}`, { restApiId: api.id, parentId, pathPart: parts[parts.length - 1] });
      resources.set(path, r);
      return r;
    };
    const deps: (ApiGatewayMethod | ApiGatewayIntegration)[] = [];
    for (const [path, httpMethod, auth] of ROUTES) {
      const resource = resourceFor(path);
      const key = `${httpMethod}-${path.replace(/\//g, '-')}`;
      const method = new ApiGatewayMethod(this, `method-${key}`, {
        restApiId: api.id,
        resourceId: resource.id,
        httpMethod,
        authorization: auth ? 'CUSTOM' : 'NONE',
        authorizerId: auth === 'bearer' ? keyAuthorizer.id : auth === 'x-api-key' ? anthropicKeyAuthorizer.id : undefined,
      });
      const integration = new ApiGatewayIntegration(this, `integration-${key}`, {
        restApiId: api.id,
        resourceId: resource.id,
        httpMethod: method.httpMethod,
        type: 'AWS_PROXY',
        integrationHttpMethod: 'POST',
        uri: streamingUri,
        responseTransferMode: 'STREAM',
        timeoutMilliseconds: timeout * 1000,
      });
      deps.push(method, integration);
    }
    new LambdaPermission(this, 'invoke-router', { statementId: 'AllowApiGatewayInvokeRouter', action: 'lambda:InvokeFunction', functionName: this.router.functionName, principal: 'apigateway.amazonaws.com', sourceArn: `${api.executionArn}/*/*` });
    new LambdaPermission(this, 'invoke-authorizer', { statementId: 'AllowApiGatewayInvokeAuthorizer', action: 'lambda:InvokeFunction', functionName: this.authorizer.functionName, principal: 'apigateway.amazonaws.com', sourceArn: `${api.executionArn}/authorizers/${keyAuthorizer.id}` });
    new LambdaPermission(this, 'invoke-anthropic-authorizer', { statementId: 'AllowApiGatewayInvokeXApiKeyAuthorizer', action: 'lambda:InvokeFunction', functionName: this.authorizer.functionName, principal: 'apigateway.amazonaws.com', sourceArn: `${api.executionArn}/authorizers/${anthropicKeyAuthorizer.id}` });
    return { api, routes: ROUTES, deps };
  }

  /** A deployment that changes with the routes, and the prod stage with JSON access logs. */
  private buildStage(props: TfLlmGatewayProps, api: ApiGatewayRestApi, routes: typeof ROUTES, deps: (ApiGatewayMethod | ApiGatewayIntegration)[]): ApiGatewayStage {
    const deployment = new ApiGatewayDeployment(this, 'deployment', {
      restApiId: api.id,
      // A new deployment whenever the routes change.
      triggers: { redeployment: createHash('sha256').update(JSON.stringify(routes)).digest('hex') },
      lifecycle: { createBeforeDestroy: true },
      dependsOn: deps,
    });
    const accessLogs = new CloudwatchLogGroup(this, 'access-logs', { name: `/aws/apigateway/${props.name}-api/access`, retentionInDays: props.logRetentionDays ?? 30 });
    return new ApiGatewayStage(this, 'stage', {
      restApiId: api.id,
      deploymentId: deployment.id,
      stageName: 'prod',
      accessLogSettings: {
        destinationArn: accessLogs.arn,
        format: JSON.stringify({ requestId: '$context.requestId', ip: '$context.identity.sourceIp', requestTime: '$context.requestTime', httpMethod: '$context.httpMethod', resourcePath: '$context.resourcePath', status: '$context.status', responseLength: '$context.responseLength', tenant: '$context.authorizer.tenant' }),
      },
    });
  }
}

/** The routes the API serves, and the key each takes: Bearer (OpenAI clients), x-api-key (Anthropic clients) or none. */
const ROUTES: [string, string, 'bearer' | 'x-api-key' | false][] = [
  ['v1/chat/completions', 'POST', 'bearer'], ['v1/responses', 'POST', 'bearer'], ['v1/messages', 'POST', 'x-api-key'], ['v1/messages/count_tokens', 'POST', 'x-api-key'],
  ['v1/embeddings', 'POST', 'bearer'], ['v1/models', 'GET', 'bearer'], ['v1/usage', 'GET', 'bearer'], ['v1/feedback', 'POST', 'bearer'], ['health', 'GET', false],
];

/** The props and the config checked together, every problem at once. */
function checkProps(props: TfLlmGatewayProps): { config: GatewayConfigDocument; memory: number; timeout: number } {
  const problems: string[] = [];
  const memory = props.memorySize ?? 1024;
  const timeout = props.timeoutSeconds ?? 300;
  if (!/^[A-Za-z0-9-]{1,40}$/.test(props.name)) problems.push(`name: letters, digits and '-', 40 at most, got '${props.name}'`);
  if (!Number.isInteger(memory) || memory < 128 || memory > 10240) problems.push(`memorySize: expected an integer 128-10240, got ${memory}`);
  // The Terraform AWS provider validates aws_api_gateway_integration.timeout_milliseconds as 50-300000, streaming
  // or not, so a longer timeout would pass synth and fail at apply. The CDK flavour allows 900 s for streams.
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 300) problems.push(`timeoutSeconds: expected 1-300 (the Terraform AWS provider refuses integration timeouts above 300,000 ms), got ${timeout}`);
  const config = GatewayConfig._documentOf(props.config, 'TfLlmGateway config');
  for (const p of validateGatewayConfig(config)) problems.push(`config.${p}`);
  const semantic = config.cache?.semantic;
  if (semantic?.enabled && semantic.embedder?.type === 'sentence') {
    problems.push("config.cache.semantic.embedder: type 'sentence' needs its weights in a Lambda layer, which only the CDK flavour deploys (SentenceEncoderLayer); here use bedrock (Titan) or local");
  }
  // Terraform would read these as interpolations inside the environment variable.
  if (/[$%]\{/.test(JSON.stringify(config))) problems.push('config: contains "${" or "%{", which Terraform reads as a template; escape them as "$${" / "%%{"');
  if (problems.length) throw new Error(`Invalid TfLlmGateway props:\n  - ${problems.join('\n  - ')}`);
  return { config, memory, timeout };
}
