import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIGatewayClient, GetAccountCommand, GetApiKeysCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { BedrockClient, GetFoundationModelAvailabilityCommand, GetFoundationModelCommand, GetInferenceProfileCommand, ResourceNotFoundException } from '@aws-sdk/client-bedrock';
import { AccessDeniedException, BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { CloudWatchLogsClient, DescribeResourcePoliciesCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CostExplorerClient, GetAnomalyMonitorsCommand } from '@aws-sdk/client-cost-explorer';
import { AWSOrganizationsNotInUseException, DescribeOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { GetAWSDefaultServiceQuotaCommand, GetServiceQuotaCommand, ListServiceQuotasCommand, NoSuchResourceException, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DescribeRouteTablesCommand, DescribeSubnetsCommand, DescribeVpcEndpointsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { CacheEngine, CostManagedAiPlatform, GatewayConfig, InferenceContainer, InferenceEndpoint, InferenceInstanceType, ModelSource, ReferencePlatformStack, RouterEgress, TenantInferenceProfiles } from '../../lib';
import type { Finding } from '../../lambda/core/finops/doctor';
import { runCli } from '../../bin/llm-finops';
import { captureOutput } from '../support/output';

const ACCOUNT = '111122223333';
const env = { account: ACCOUNT, region: 'us-east-1' };

/** A cloud assembly on disk: the reference platform and a stack with a SageMaker endpoint and tagged tenant profiles. */
function assembly(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const app = new App({ outdir });
  const document = JSON.parse(readFileSync(join(__dirname, '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
  new ReferencePlatformStack(app, 'Platform', { env, gatewayConfig: GatewayConfig.fromObject(document), setUpApiGatewayAccountLogging: false });
  const s = new Stack(app, 'Hosting', { env });
  new InferenceEndpoint(s, 'Llm', {
    model: ModelSource.huggingFace('mistralai/Mistral-7B-Instruct-v0.3'), endpointName: 'small-llm',
    instanceType: InferenceInstanceType.INF2_XLARGE, container: InferenceContainer.lmiNeuron(), inferenceComponents: true, scaling: { minCapacity: 0, maxCapacity: 3 },
  });
  new TenantInferenceProfiles(s, 'Profiles', { gatewayConfig: GatewayConfig.fromObject({ ...document, tenants: [{ id: 'acme', apiKeys: [] }] }), tenants: [{ tenant: 'acme', models: ['nova-lite'] }] });
  app.synth();
  return outdir;
}

/** Two routers in an imported VPC (literal subnet ids): one relying on a NAT route, one on the VPC's own endpoints. */
function vpcAssembly(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'doctor-vpc-'));
  const app = new App({ outdir });
  const gatewayConfig = GatewayConfig.fromFile(join(__dirname, '..', '..', 'examples', 'platform', 'gateway.json'));
  for (const [name, routerEgress] of [['ViaNat', RouterEgress.NAT], ['ViaEndpoints', RouterEgress.EXISTING_ENDPOINTS]] as const) {
    const s = new Stack(app, name, { env });
    const vpc = ec2.Vpc.fromVpcAttributes(s, 'Vpc', {
      vpcId: 'vpc-0a1b2c3d', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-0aaa', 'subnet-0bbb'], privateSubnetRouteTableIds: ['rtb-0aaa', 'rtb-0bbb'],
    });
    new CostManagedAiPlatform(s, 'Platform', { gatewayConfig, semanticCache: { engine: CacheEngine.valkey({ vpc }) }, routerEgress, budgets: undefined });
  }
  app.synth();
  return outdir;
}

describe('llm-finops doctor', () => {
  const sts = mockClient(STSClient);
  const apigw = mockClient(APIGatewayClient);
  const ce = mockClient(CostExplorerClient);
  const orgs = mockClient(OrganizationsClient);
  const bedrock = mockClient(BedrockClient);
  const quotas = mockClient(ServiceQuotasClient);
  const logs = mockClient(CloudWatchLogsClient);
  const runtime = mockClient(BedrockRuntimeClient);
  const ec2c = mockClient(EC2Client);
  let dir: string;
  const output = captureOutput();
  beforeAll(() => {
    dir = assembly();
  });
  beforeEach(() => {
    for (const m of [sts, apigw, ce, orgs, bedrock, quotas, logs, runtime, ec2c]) m.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/ops`, UserId: 'AIDAEXAMPLE' });
    apigw.on(GetAccountCommand).resolves({ cloudwatchRoleArn: `arn:aws:iam::${ACCOUNT}:role/apigw-logs`, throttleSettings: { burstLimit: 5000, rateLimit: 10000 } });
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'k1' }, { id: 'k2' }] });
    apigw.on(GetUsagePlansCommand).resolves({ items: [{ id: 'p1' }] });
    ce.on(GetAnomalyMonitorsCommand).resolves({ AnomalyMonitors: [{ MonitorName: 'Default-Services-Monitor', MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' }] });
    orgs.on(DescribeOrganizationCommand).rejects(new AWSOrganizationsNotInUseException({ message: 'Your account is not a member of an organization.', $metadata: {} }));
    bedrock.on(GetInferenceProfileCommand).resolves({ inferenceProfileId: 'us.amazon.nova-lite-v1:0', status: 'ACTIVE', type: 'SYSTEM_DEFINED' });
    bedrock.on(GetFoundationModelAvailabilityCommand).resolves({
      modelId: 'amazon.nova-lite-v1:0', authorizationStatus: 'AUTHORIZED', entitlementAvailability: 'AVAILABLE', regionAvailability: 'AVAILABLE', agreementAvailability: { status: 'NOT_AVAILABLE' },
    });
    quotas.on(ListServiceQuotasCommand).resolves({
      Quotas: [
        { ServiceCode: 'sagemaker', QuotaName: 'ml.inf2.xlarge for endpoint usage', Value: 2, QuotaCode: 'L-EXAMPLE1' },
        { ServiceCode: 'sagemaker', QuotaName: 'ml.g5.xlarge for endpoint usage', Value: 4, QuotaCode: 'L-EXAMPLE2' },
      ],
    });
    logs.on(DescribeResourcePoliciesCommand).resolves({ resourcePolicies: Array.from({ length: 10 }, (_, i) => ({ policyName: `p${i}` })) });
    quotas.on(GetServiceQuotaCommand, { ServiceCode: 'lambda', QuotaCode: 'L-B99A9384' }).resolves({ Quota: { ServiceCode: 'lambda', QuotaCode: 'L-B99A9384', QuotaName: 'Concurrent executions', Value: 1000 } });
  });

  const run = async (...extra: string[]) => {
    const code = await runCli(['doctor', '--app', dir, '--json', ...extra]);
    return { code, findings: (output.out ? JSON.parse(output.out).findings : []) as Finding[] };
  };
  const find = (findings: Finding[], stack: string, check: string) => findings.filter((f) => f.stack === stack && f.check === check);

  it('finds what will fail before cdk deploy: the one AWS-services monitor, the endpoint quota, the 10th logs policy', async () => {
    const { code, findings } = await run();
    expect(code).toBe(1);
    // The reference platform's BudgetGuard subscribes to the account's AWS-services monitor (reused at deploy).
    expect(find(findings, 'Platform', 'anomaly-monitor')).toEqual([expect.objectContaining({ verdict: 'ok', message: "the stack subscribes to the account's AWS-services anomaly monitor (Default-Services-Monitor)" })]);
    expect(find(findings, 'Platform', 'apigateway-cloudwatch-role')).toEqual([expect.objectContaining({ verdict: 'ok', message: expect.stringContaining('apigw-logs') })]);
    expect(find(findings, 'Platform', 'bedrock-model').map((f) => f.verdict)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(find(findings, 'Hosting', 'sagemaker-quota')).toEqual([expect.objectContaining({ verdict: 'fail', message: 'ml.inf2.xlarge: the stack may run 3 instance(s), the account\'s endpoint quota is 2' })]);
    expect(find(findings, 'Platform', 'logs-resource-policies')).toEqual([expect.objectContaining({
      verdict: 'fail', message: 'CloudWatch Logs resource policies: 10 exist, the stack adds 1, the limit is 10', fix: expect.stringContaining('aws logs describe-resource-policies'),
    })]);
    expect(find(findings, 'Platform', 'apigateway-usage-plans')).toEqual([expect.objectContaining({ verdict: 'ok', message: expect.stringMatching(/^API Gateway usage plans: 1 exist, the stack adds \d+, the limit is 300/) })]);
    expect(find(findings, 'Hosting', 'cost-allocation-tags')).toEqual([expect.objectContaining({ verdict: 'ok', message: 'a standalone account may activate llm-finops:tenant, llm-finops:team' })]);
    // The exact read-only calls.
    expect(bedrock.commandCalls(GetInferenceProfileCommand).map((c) => c.args[0].input.inferenceProfileIdentifier)).toEqual(expect.arrayContaining(['us.amazon.nova-lite-v1:0', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0']));
    expect(bedrock.commandCalls(GetFoundationModelAvailabilityCommand).map((c) => c.args[0].input.modelId)).toEqual(expect.arrayContaining(['amazon.nova-lite-v1:0']));
    expect(quotas.commandCalls(ListServiceQuotasCommand)[0].args[0].input).toEqual({ ServiceCode: 'sagemaker', NextToken: undefined, MaxResults: 100 });
    expect(ce.commandCalls(GetAnomalyMonitorsCommand)).toHaveLength(1); // account-wide: asked once
  });

  it('fails a geography-bound profile the Region does not have, and a model this account may not use yet', async () => {
    bedrock.on(GetInferenceProfileCommand, { inferenceProfileIdentifier: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' })
      .rejects(new ResourceNotFoundException({ message: 'The provided inference profile ID is not found.', $metadata: {} }));
    bedrock.on(GetFoundationModelAvailabilityCommand, { modelId: 'anthropic.claude-haiku-4-5-20251001-v1:0' }).resolves({
      modelId: 'anthropic.claude-haiku-4-5-20251001-v1:0', authorizationStatus: 'NOT_AUTHORIZED', entitlementAvailability: 'NOT_AVAILABLE', regionAvailability: 'AVAILABLE', agreementAvailability: { status: 'NOT_AVAILABLE' },
    });
    const { findings } = await run();
    const models = find(findings, 'Platform', 'bedrock-model');
    expect(models).toEqual(expect.arrayContaining([
      expect.objectContaining({ verdict: 'fail', message: expect.stringContaining('inference profile us.anthropic.claude-sonnet-4-5-20250929-v1:0 does not exist in us-east-1 (ResourceNotFoundException') }),
      expect.objectContaining({ verdict: 'fail', message: expect.stringContaining('us.anthropic.claude-haiku-4-5-20251001-v1:0: not usable by this account yet (authorization NOT_AUTHORIZED, entitlement NOT_AVAILABLE'), fix: expect.stringContaining('Model access') }),
    ]));
  });

  it('warns a member account that it may not activate the tag keys, and names the command for the management account', async () => {
    orgs.on(DescribeOrganizationCommand).resolves({ Organization: { Id: 'o-exampleorgid', MasterAccountId: '999988887777' } });
    const { findings } = await run();
    expect(find(findings, 'Hosting', 'cost-allocation-tags')).toEqual([expect.objectContaining({
      verdict: 'warn', message: expect.stringContaining('member of an organization (management account 999988887777)'),
      fix: 'activate the keys from the management account: aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=llm-finops:tenant,Status=Active TagKey=llm-finops:team,Status=Active',
    })]);
  });

  it('warns where a new account\'s Lambda concurrency would throttle streams, and fails below --expected-streams', async () => {
    let { findings } = await run('--expected-streams', '200');
    expect(find(findings, 'Platform', 'lambda-concurrency')).toEqual([expect.objectContaining({ verdict: 'ok', message: 'the account allows 1000 concurrent Lambda executions in us-east-1 for 200 expected concurrent streams (shared by every function there)' })]);
    expect(find(findings, 'Hosting', 'lambda-concurrency')).toEqual([]); // no router there
    // No applied value (never raised): AWS's default for the account, here a new account's 10.
    quotas.on(GetServiceQuotaCommand).rejects(new NoSuchResourceException({ message: 'The request failed because the specified service quota does not exist.', $metadata: {} }));
    quotas.on(GetAWSDefaultServiceQuotaCommand, { ServiceCode: 'lambda', QuotaCode: 'L-B99A9384' }).resolves({ Quota: { QuotaName: 'Concurrent executions', Value: 10 } });
    output.clear();
    ({ findings } = await run());
    expect(find(findings, 'Platform', 'lambda-concurrency')).toEqual([expect.objectContaining({ verdict: 'warn', message: expect.stringContaining('the account allows 10 concurrent Lambda executions in us-east-1 (a new account\'s starting value)'), fix: expect.stringContaining('L-B99A9384') })]);
    output.clear();
    ({ findings } = await run('--expected-streams', '50'));
    expect(find(findings, 'Platform', 'lambda-concurrency')).toEqual([expect.objectContaining({ verdict: 'fail', message: '50 concurrent streams need 50 router executions; the account allows 10 for every function in us-east-1' })]);
    expect(await runCli(['doctor', '--app', dir, '--expected-streams', '0'])).toBe(2);
  });

  it('checks a router in a VPC has a way out: a NAT route, or each endpoint it needs', async () => {
    const vpcDir = vpcAssembly();
    ec2c.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: 'subnet-0aaa', VpcId: 'vpc-0a1b2c3d' }, { SubnetId: 'subnet-0bbb', VpcId: 'vpc-0a1b2c3d' }] });
    ec2c.on(DescribeRouteTablesCommand).resolves({ RouteTables: [
      { RouteTableId: 'rtb-0aaa', Associations: [{ SubnetId: 'subnet-0aaa' }], Routes: [{ DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local' }, { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-0f00', State: 'active' }] },
      // The second subnet routes to an internet gateway: a public subnet, where a Lambda function has no way out.
      { RouteTableId: 'rtb-0bbb', Associations: [{ SubnetId: 'subnet-0bbb' }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-0bad', State: 'active' }] },
    ] });
    ec2c.on(DescribeVpcEndpointsCommand).resolves({ VpcEndpoints: [
      { ServiceName: 'com.amazonaws.us-east-1.bedrock-runtime', VpcEndpointType: 'Interface', PrivateDnsEnabled: true, State: 'Available' },
      { ServiceName: 'com.amazonaws.us-east-1.dynamodb', VpcEndpointType: 'Gateway', State: 'Available' },
      // Without private DNS the SDK's default endpoint name does not resolve to it.
      { ServiceName: 'com.amazonaws.us-east-1.secretsmanager', VpcEndpointType: 'Interface', PrivateDnsEnabled: false, State: 'Available' },
    ] });
    const { findings } = await runCli(['doctor', '--app', vpcDir, '--json']).then((code) => ({ code, findings: JSON.parse(output.out).findings as Finding[] }));
    expect(find(findings, 'ViaNat', 'router-egress')).toEqual([expect.objectContaining({
      verdict: 'fail', message: "the router's subnets subnet-0bbb (igw-0bad: a Lambda function gets no public IP) have no NAT route: its calls to AWS and to providers will time out",
    })]);
    expect(find(findings, 'ViaEndpoints', 'router-egress')).toEqual([expect.objectContaining({
      verdict: 'fail', message: "the VPC has no endpoint (interface endpoints with private DNS) for kinesis-firehose, secretsmanager, sns: the router's calls there will time out",
    })]);
    expect(ec2c.commandCalls(DescribeSubnetsCommand)[0].args[0].input).toEqual({ SubnetIds: ['subnet-0aaa', 'subnet-0bbb'] });
    expect(ec2c.commandCalls(DescribeVpcEndpointsCommand)[0].args[0].input).toEqual({ Filters: [{ Name: 'vpc-id', Values: ['vpc-0a1b2c3d'] }], NextToken: undefined });
  });

  it('--probe calls each configured Bedrock model once with a 1-token request and says what a refusal means', async () => {
    await run();
    expect(runtime.calls()).toHaveLength(0); // never without --probe: it costs (a fraction of a cent)
    output.clear();
    runtime.on(ConverseCommand).resolves({ output: { message: { role: 'assistant', content: [{ text: 'P' }] } }, stopReason: 'max_tokens', usage: { inputTokens: 8, outputTokens: 1, totalTokens: 9 }, metrics: { latencyMs: 212 } });
    runtime.on(ConverseCommand, { modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' }).rejects(new AccessDeniedException({
      message: 'Model access is denied due to IAM user or service role is not authorized to perform the required AWS Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) to enable access to this model.', $metadata: {},
    }));
    const { findings } = await run('--probe');
    const probes = find(findings, 'Platform', 'bedrock-probe');
    expect(probes.map((f) => [f.verdict, f.message.split(' ')[0]])).toEqual(expect.arrayContaining([
      ['ok', 'us.amazon.nova-lite-v1:0'], ['fail', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'],
    ]));
    expect(probes.find((f) => f.verdict === 'fail')).toMatchObject({ message: expect.stringContaining('AWS Marketplace actions'), fix: expect.stringContaining("Anthropic's use-case form") });
    // One call per model, the smallest request Converse takes.
    const inputs = runtime.commandCalls(ConverseCommand).map((c) => c.args[0].input);
    expect(new Set(inputs.map((i) => i.modelId)).size).toBe(inputs.length);
    expect(inputs[0]).toEqual({ modelId: inputs[0].modelId, messages: [{ role: 'user', content: [{ text: 'ping' }] }], inferenceConfig: { maxTokens: 1 } });
  });

  it('fails a stage with access logging in an account without the API Gateway CloudWatch role', async () => {
    apigw.on(GetAccountCommand).resolves({ throttleSettings: { burstLimit: 5000, rateLimit: 10000 } });
    const { findings } = await run();
    expect(find(findings, 'Platform', 'apigateway-cloudwatch-role')).toEqual([expect.objectContaining({ verdict: 'fail', fix: expect.stringContaining('setUpApiGatewayAccountLogging: true') })]);
  });

  it('reports a read it may not make as a warning, and missing credentials as an error (exit 1)', async () => {
    quotas.on(ListServiceQuotasCommand).rejects(Object.assign(new Error('User is not authorized to perform: servicequotas:ListServiceQuotas'), { name: 'AccessDeniedException' }));
    const { findings } = await run();
    expect(find(findings, 'Hosting', 'sagemaker-quota')).toEqual([expect.objectContaining({ verdict: 'warn', message: expect.stringContaining('not checked: AccessDeniedException') })]);
    output.clear();
    sts.on(GetCallerIdentityCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    expect(await runCli(['doctor', '--app', dir])).toBe(1);
    expect(output.err).toContain('no usable AWS credentials (CredentialsProviderError: Could not load credentials from any providers)');
  });

  it('prints a readable report and refuses an assembly that is not there', async () => {
    expect(await runCli(['doctor', '--app', dir])).toBe(1);
    expect(output.out).toMatch(/^FAIL {2}Hosting us-east-1 {2}sagemaker-quota: ml\.inf2\.xlarge/m);
    expect(output.out).toMatch(/\d+ will fail, \d+ warning\(s\), \d+ ok\n$/);
    expect(await runCli(['doctor', '--app', join(dir, 'nope')])).toBe(2);
    expect(output.err).toContain('synthesise first');
  });

  it('checks in-Region model ids too, and warns for a model in its legacy period (with --config)', async () => {
    const file = join(dir, 'other-config.json');
    writeFileSync(file, JSON.stringify({ providers: [{ type: 'bedrock', id: 'b' }], models: [{ id: 't', provider: 'b', upstreamModel: 'amazon.titan-text-express-v1' }] }));
    bedrock.on(GetFoundationModelCommand).resolves({ modelDetails: { modelId: 'amazon.titan-text-express-v1', modelArn: 'arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1', modelLifecycle: { status: 'LEGACY' } } });
    const { findings } = await run('--config', file);
    expect(bedrock.commandCalls(GetFoundationModelCommand)[0].args[0].input).toEqual({ modelIdentifier: 'amazon.titan-text-express-v1' });
    expect(find(findings, 'Platform', 'bedrock-model')).toEqual([expect.objectContaining({ verdict: 'warn', message: 'amazon.titan-text-express-v1 is LEGACY in us-east-1: it will be retired' })]);
  });
});
