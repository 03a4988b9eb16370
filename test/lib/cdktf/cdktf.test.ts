import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiGatewayAuthorizer } from '@cdktf/provider-aws/lib/api-gateway-authorizer';
import { ApiGatewayIntegration } from '@cdktf/provider-aws/lib/api-gateway-integration';
import { ApiGatewayMethod } from '@cdktf/provider-aws/lib/api-gateway-method';
import { ApiGatewayStage } from '@cdktf/provider-aws/lib/api-gateway-stage';
import { BudgetsBudget } from '@cdktf/provider-aws/lib/budgets-budget';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy';
import { App as CdkApp, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Testing } from 'cdktf';
// The matcher types (Testing.setupJest() installs the matchers).
import 'cdktf/lib/testing/adapters/jest';
import { RouterFunction } from '../../../lib';
import { bundleAssetHash } from '../../../lib/bundles';
import { GatewayConfig, TfCostManagedGateway, TfLlmGateway } from '../../../lib/cdktf';
import { LlmFinOpsTerraformStack } from '../../../examples/terraform/main';

Testing.setupJest();

const document = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
const config = GatewayConfig.fromObject(document);
const synth = () => Testing.synthScope((scope) => {
  new TfCostManagedGateway(scope, 'llm', { config, name: 'llm-finops', monthlyBudgetUsd: 1000, alertEmails: ['finops@example.com'] });
});
type Tf = { resource: Record<string, Record<string, Record<string, unknown>>> };
const resources = (json: string, type: string) => Object.values((JSON.parse(json) as Tf).resource[type] ?? {});

describe('cdktf flavour (cdk-llm-finops/cdktf)', () => {
  const out = synth();

  it('runs the router and authorizer from the pre-built bundles on arm64 Node.js 24, with the config and the quota table', () => {
    expect(out).toHaveResourceWithProperties(LambdaFunction, {
      function_name: 'llm-finops-router', handler: 'index.handler', runtime: 'nodejs24.x', architectures: ['arm64'], memory_size: 1024, timeout: 310,
    });
    const router = resources(out, 'aws_lambda_function').find((f) => f.function_name === 'llm-finops-router')!;
    expect((router.environment as { variables: Record<string, string> }).variables).toMatchObject({
      LLM_FINOPS_CONFIG: JSON.stringify(document), LLM_FINOPS_QUOTA_TABLE: expect.stringMatching(/^\$\{aws_dynamodb_table\.llm_quota_Table_[0-9A-F]+\.name\}$/),
      LLM_FINOPS_ALERT_TOPIC_ARN: expect.stringMatching(/^\$\{aws_sns_topic\./),
    });
    expect(out).toHaveResourceWithProperties(LambdaFunction, { function_name: 'llm-finops-authorizer', memory_size: 256, timeout: 10 });
    for (const f of resources(out, 'aws_lambda_function')) {
      expect(f.filename).toMatch(/^assets\/llm_gateway_(router|authorizer)-code_[0-9A-F]+\/[0-9a-f]{64}\/archive.zip$/);
      expect(f.source_code_hash).toMatch(/^\$\{filebase64sha256\(/);
    }
    expect(out).toHaveResourceWithProperties(CloudwatchLogGroup, { name: '/aws/lambda/llm-finops-router', retention_in_days: 30 });
  });

  it('deploys the same bundle bytes as the CDK flavour: one asset hash', () => {
    const cdk = new Stack(new CdkApp(), 'Cdk', { env: { account: '111122223333', region: 'us-east-1' } });
    new RouterFunction(cdk, 'Router', { config });
    const fn = Object.values(Template.fromStack(cdk).findResources('AWS::Lambda::Function'))[0];
    const cdkHash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
    const tf = Testing.synthScope((scope) => { new TfLlmGateway(scope, 'gw', { config, name: 'x', quotaTableName: 't', quotaTableArn: 'arn:aws:dynamodb:us-east-1:111122223333:table/t' }); });
    const tfRouter = resources(tf, 'aws_lambda_function').find((f) => f.function_name === 'x-router')!;
    expect(cdkHash).toBe(bundleAssetHash('router'));
    expect(tfRouter.filename).toContain(`/${cdkHash}/`);
  });

  it('puts the API in front: key authorizer on every /v1 route, streaming proxy integrations, invoke permissions, a prod stage', () => {
    expect(out).toHaveResourceWithProperties(ApiGatewayAuthorizer, { type: 'REQUEST', identity_source: 'method.request.header.Authorization', authorizer_result_ttl_in_seconds: 300 });
    const methods = resources(out, 'aws_api_gateway_method');
    expect(methods.map((m) => [m.http_method, m.authorization]).sort()).toEqual([
      ['GET', 'CUSTOM'], ['GET', 'CUSTOM'], ['GET', 'NONE'], ['POST', 'CUSTOM'], ['POST', 'CUSTOM'], ['POST', 'CUSTOM'], ['POST', 'CUSTOM'], ['POST', 'CUSTOM'], ['POST', 'CUSTOM'],
    ]);
    expect(out).toHaveResourceWithProperties(ApiGatewayMethod, { http_method: 'GET', authorization: 'NONE' });
    // Messages routes are authorized by x-api-key (Anthropic clients), the rest by Bearer.
    expect(out).toHaveResourceWithProperties(ApiGatewayAuthorizer, { type: 'REQUEST', identity_source: 'method.request.header.x-api-key' });
    const byXApiKey = methods.filter((m) => String(m.authorizer_id).includes('anthropic-key-authorizer'));
    expect(byXApiKey).toHaveLength(2);
    const integrations = resources(out, 'aws_api_gateway_integration');
    expect(integrations).toHaveLength(9);
    for (const i of integrations) {
      expect(i).toMatchObject({ type: 'AWS_PROXY', integration_http_method: 'POST', response_transfer_mode: 'STREAM', timeout_milliseconds: 300000 });
      expect(i.uri).toMatch(/:lambda:path\/2021-11-15\/functions\/\$\{aws_lambda_function\.llm_gateway_router_[0-9A-F]+\.arn\}\/response-streaming-invocations$/);
    }
    expect(out).toHaveResourceWithProperties(ApiGatewayIntegration, { response_transfer_mode: 'STREAM' });
    expect(out).toHaveResourceWithProperties(LambdaPermission, { principal: 'apigateway.amazonaws.com', action: 'lambda:InvokeFunction' });
    expect(out).toHaveResourceWithProperties(ApiGatewayStage, { stage_name: 'prod' });
  });

  it('keeps quotas in a table with the quota store schema', () => {
    expect(out).toHaveResourceWithProperties(DynamodbTable, {
      name: 'llm-finops-quota', billing_mode: 'PAY_PER_REQUEST', hash_key: 'pk',
      attribute: [{ name: 'pk', type: 'S' }, { name: 'gsi1pk', type: 'S' }, { name: 'gsi1sk', type: 'N' }],
      global_secondary_index: [{ name: 'reservations-by-expiry', hash_key: 'gsi1pk', range_key: 'gsi1sk', projection_type: 'KEYS_ONLY' }],
      ttl: { attribute_name: 'ttl', enabled: true }, point_in_time_recovery: { enabled: true }, server_side_encryption: { enabled: true }, deletion_protection_enabled: true,
    });
  });

  it('grants least privilege: own log group, the table and its index, the topic, exactly the configured Bedrock models', () => {
    expect(out).toHaveResourceWithProperties(IamRole, { name: 'llm-finops-router-role' });
    const policies = resources(out, 'aws_iam_role_policy');
    // Policies are jsonencode() expressions: compare with the spaces taken out.
    const norm = (p: unknown) => String(p).replace(/\s+/g, '');
    const router = norm(policies.find((p) => p.name === 'llm-finops-router-policy')!.policy);
    expect(router).toContain('"Action"=["logs:CreateLogStream","logs:PutLogEvents"],"Resource"="${aws_cloudwatch_log_group.llm_gateway_router-logs_');
    expect(router).toContain('"dynamodb:GetItem","dynamodb:BatchGetItem","dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:Query","dynamodb:DescribeTable"');
    expect(router).toContain('/index/reservations-by-expiry');
    expect(router).toContain('"sns:Publish"');
    expect(router).toContain('"bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"');
    expect(router).toContain(':inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    expect(router).toContain('bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0');
    // The one wildcard: the Marketplace subscription actions (they take no resource), for the config's Anthropic model.
    expect(router.split('"Resource"="*"')).toHaveLength(2);
    expect(router).toContain('"Action"=["aws-marketplace:Subscribe","aws-marketplace:Unsubscribe","aws-marketplace:ViewSubscriptions"],"Resource"="*"');
    const authorizer = norm(policies.find((p) => p.name === 'llm-finops-authorizer-policy')!.policy);
    expect(authorizer).toContain('"dynamodb:GetItem"');
    expect(authorizer).not.toContain('PutItem');
    expect(resources(out, 'aws_iam_role_policy_attachment')).toHaveLength(0);
    expect(IamRolePolicy).toBeDefined();
  });

  it('lets AWS Budgets publish to the alert topic for this account only, and alerts on a monthly budget', () => {
    const policy = String(resources(out, 'aws_sns_topic_policy')[0].policy).replace(/\s+/g, '');
    expect(policy).toContain('"Sid"="AllowPublishThroughSSLOnly","Effect"="Deny"');
    expect(policy).toContain('"aws:SecureTransport"="false"');
    expect(policy).toContain('"Principal"={"Service"="budgets.amazonaws.com"},"Action"="SNS:Publish"');
    expect(policy).toContain('"aws:SourceAccount"=data.aws_caller_identity');
    expect(policy).toContain(':budgets::${data.aws_caller_identity');
    expect(policy).toContain('"Principal"={"Service"="costalerts.amazonaws.com"}');
    expect(policy).toContain(':ce::${data.aws_caller_identity');
    expect(out).toHaveResourceWithProperties(SnsTopicPolicy, {});
    expect(out).toHaveResourceWithProperties(BudgetsBudget, {
      name: 'llm-finops-monthly', budget_type: 'COST', time_unit: 'MONTHLY', limit_amount: '1000.00', limit_unit: 'USD',
      notification: [
        expect.objectContaining({ notification_type: 'ACTUAL', threshold: 50, threshold_type: 'PERCENTAGE', comparison_operator: 'GREATER_THAN' }),
        expect.objectContaining({ notification_type: 'ACTUAL', threshold: 80 }),
        expect.objectContaining({ notification_type: 'ACTUAL', threshold: 100 }),
        expect.objectContaining({ notification_type: 'FORECASTED', threshold: 100 }),
      ],
    });
    expect(resources(out, 'aws_sns_topic_subscription')).toEqual([expect.objectContaining({ protocol: 'email', endpoint: 'finops@example.com' })]);
  });

  it('validates the config with the router\'s own checks and refuses bad props', () => {
    expect(() => Testing.synthScope((scope) => {
      new TfLlmGateway(scope, 'gw', { config: GatewayConfig.fromObject({ ...document, routing: { ...document.routing, baselineModel: 'nope' } }), name: 'bad name', quotaTableName: 't', quotaTableArn: 'a', memorySize: 64 });
    })).toThrow(/name: letters[\s\S]*memorySize: expected an integer 128-10240, got 64[\s\S]*config\.routing\.baselineModel/);
    expect(() => Testing.synthScope((scope) => {
      new TfLlmGateway(scope, 'gw', { config: GatewayConfig.fromObject({ ...document, models: document.models.map((m: { id: string }) => ({ ...m, id: m.id === 'nova-lite' ? 'nova-lite' : m.id })), tenants: [{ id: 'x${y}', apiKeys: [] }] }), name: 'n', quotaTableName: 't', quotaTableArn: 'a' });
    })).toThrow('which Terraform reads as a template');
    // The Terraform AWS provider refuses integration timeouts above 300,000 ms: caught at synth, not at apply.
    expect(() => Testing.synthScope((scope) => {
      new TfLlmGateway(scope, 'gw', { config, name: 'n', quotaTableName: 't', quotaTableArn: 'a', timeoutSeconds: 600 });
    })).toThrow('timeoutSeconds: expected 1-300 (the Terraform AWS provider refuses integration timeouts above 300,000 ms), got 600');

    // The sentence encoder's weights come in a layer only the CDK flavour deploys: refused here, not left to fail open.
    expect(() => Testing.synthScope((scope) => {
      new TfLlmGateway(scope, 'gw', { config: GatewayConfig.fromObject({ ...document, cache: { semantic: { enabled: true, embedder: { type: 'sentence' } } } }), name: 'n', quotaTableName: 't', quotaTableArn: 'a' });
    })).toThrow("config.cache.semantic.embedder: type 'sentence' needs its weights in a Lambda layer, which only the CDK flavour deploys");
  });

  it('synthesises the examples/terraform app', () => {
    const stack = new LlmFinOpsTerraformStack(Testing.app(), 'llm-finops');
    const json = Testing.synth(stack);
    expect(json).toHaveResourceWithProperties(LambdaFunction, { function_name: 'llm-finops-router' });
    expect(JSON.parse(json).provider.aws).toEqual([expect.objectContaining({ region: 'us-east-1' })]);
  });

  it('is a separate entry point: the CDK entry never loads cdktf, the cdktf entry never loads aws-cdk-lib', () => {
    const ROOT = join(__dirname, '..', '..', '..');
    const loaded = (entry: string, pkg: string) => spawnSync(process.execPath, ['--import', 'tsx', '-e',
      `require(${JSON.stringify(join(ROOT, entry))}); process.stdout.write(String(Object.keys(require.cache).filter((k) => k.includes('/node_modules/${pkg}/')).length))`], { cwd: ROOT, encoding: 'utf8' });
    const cdk = loaded('lib/index.ts', 'cdktf');
    expect(cdk.stderr).toBe('');
    expect(cdk.stdout).toBe('0');
    const tf = loaded('lib/cdktf/index.ts', 'aws-cdk-lib');
    expect(tf.stdout).toBe('0');
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports['./cdktf']).toEqual({ types: './dist/lib/cdktf/index.d.ts', default: './dist/lib/cdktf/index.js' });
  });
});
