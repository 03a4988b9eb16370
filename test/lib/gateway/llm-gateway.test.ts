import { createHash } from 'node:crypto';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import { GatewayConfig, LlmGateway, TokenQuotaTable } from '../../../lib';
import { BEDROCK_CONSTRUCT_CONFIG } from '../../support/config';
import { unacknowledgedNagFindings } from '../../support/nag';

const document = BEDROCK_CONSTRUCT_CONFIG;
const config = GatewayConfig.fromObject(document);

function build(extra: Partial<ConstructorParameters<typeof LlmGateway>[2]> = {}, withQuota = true) {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
  const quotaTable = withQuota ? new TokenQuotaTable(stack, 'Quota') : undefined;
  const gateway = new LlmGateway(stack, 'Gateway', { config, quotaTable, ...extra });
  return { stack, gateway };
}

function synth(extra: Partial<ConstructorParameters<typeof LlmGateway>[2]> = {}, withQuota = true) {
  const built = build(extra, withQuota);
  return { ...built, template: Template.fromStack(built.stack) };
}

describe('LlmGateway', () => {
  it('streams every route from the router through AWS_PROXY integrations behind the key authorizer', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER', EndpointConfiguration: { Types: ['REGIONAL'] } });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      AuthorizationType: 'CUSTOM',
      ApiKeyRequired: true,
      Integration: { Type: 'AWS_PROXY', ResponseTransferMode: 'STREAM', TimeoutInMillis: 300000, Uri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('response-streaming-invocations')])] }) },
    });
    // POST chat/completions, responses, messages, messages/count_tokens, embeddings, feedback and GET models, usage behind
    // an authorizer; GET health without.
    template.resourceCountIs('AWS::ApiGateway::Method', 9);
    template.resourcePropertiesCountIs('AWS::ApiGateway::Method', { HttpMethod: 'POST', AuthorizationType: 'CUSTOM' }, 6);
    for (const part of ['embeddings', 'responses', 'messages', 'count_tokens']) template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: part });
    // The unauthenticated probe is answered by API Gateway (a mock integration), never by the router Lambda.
    template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: 'GET', AuthorizationType: 'NONE', Integration: Match.objectLike({ Type: 'MOCK' }) });
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', IdentitySource: 'method.request.header.Authorization', AuthorizerResultTtlInSeconds: 300 });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'prod', AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }) });
    template.hasOutput('*', { Value: Match.objectLike({ 'Fn::Join': Match.anyValue() }), Description: 'OpenAI-compatible base URL' });
  });

  it('authorizes the Messages routes by x-api-key (what Anthropic clients send) and the others by Bearer', () => {
    const { template } = synth();
    const authorizers = template.findResources('AWS::ApiGateway::Authorizer');
    const idOf = (source: string) => Object.entries(authorizers).find(([, a]) => a.Properties.IdentitySource === source)![0];
    const bearer = idOf('method.request.header.Authorization');
    const xApiKey = idOf('method.request.header.x-api-key');
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const pathOf = (ref: { Ref: string }) => resources[ref.Ref]?.Properties.PathPart as string;
    const byPath = Object.fromEntries(Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { AuthorizationType: 'CUSTOM' } }))
      .map((m) => [pathOf(m.Properties.ResourceId), m.Properties.AuthorizerId.Ref]));
    expect(byPath).toMatchObject({ messages: xApiKey, count_tokens: xApiKey, responses: bearer, completions: bearer, embeddings: bearer });
    // The one authorizer function may be invoked by both.
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: 'apigateway.amazonaws.com', SourceArn: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('/authorizers/')])]) }) }, 2);
  });

  it('deploys the authorizer and the router from their pre-built bundles on arm64 with the config', () => {
    const { template } = synth();
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Architectures: ['arm64'], Runtime: 'nodejs24.x', Environment: { Variables: Match.objectLike({ LLM_FINOPS_CONFIG: JSON.stringify(document) }) } }, 2);
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ LLM_FINOPS_QUOTA_TABLE: Match.anyValue(), LLM_FINOPS_ALERT_TOPIC_ARN: Match.anyValue() }) } });
  });

  it('gives each configured tenant a usage plan and the API key that identifies it to the plan', () => {
    const { gateway, stack } = build();
    gateway.addTenant('globex', { rateLimit: 5, burstLimit: 10 });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ApiGateway::ApiKey', { Value: Match.stringLikeRegexp('^llm-finops-usage-[0-9a-f]{10}-acme$'), Enabled: true });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 50, BurstLimit: 100 } });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 5, BurstLimit: 10 } });
    t.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 2);
  });

  it('names each tenant\'s key and plan by its id alone: reordering or removing tenants renames no other tenant\'s resources', () => {
    const tenants = (ids: string[]) => ids.map((id) => ({ id, apiKeys: [{ sha256: createHash('sha256').update(id).digest('hex') }] }));
    const logicalIds = (ids: string[]) => {
      const { template } = synth({ config: GatewayConfig.fromObject({ ...document, tenants: tenants(ids) }) });
      return Object.entries({ ...template.findResources('AWS::ApiGateway::ApiKey'), ...template.findResources('AWS::ApiGateway::UsagePlan'), ...template.findResources('AWS::ApiGateway::UsagePlanKey') })
        .map(([logical, r]) => `${logical} ${JSON.stringify((r as { Properties: { Value?: string; Description?: string } }).Properties.Value ?? (r as { Properties: { Description?: string } }).Properties.Description ?? '')}`)
        .filter((x) => !x.includes('run-time tenants'))
        .sort();
    };
    const all = logicalIds(['acme', 'globex', 'team.a/b', 'teamab']);
    // Reordered: the same resources under the same logical ids.
    expect(logicalIds(['teamab', 'team.a/b', 'globex', 'acme'])).toEqual(all);
    // One removed: the others keep theirs.
    const without = logicalIds(['acme', 'team.a/b', 'teamab']);
    expect(without.every((x) => all.includes(x))).toBe(true);
    expect(all.filter((x) => !without.includes(x)).every((x) => /globex/i.test(x))).toBe(true);
  });

  it('warns when no quota table is given', () => {
    const { stack } = synth({}, false);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('no quotaTable'));
  });

  describe('grants', () => {
    it('grants execute-api:Invoke on every route of the stage', () => {
      const { stack, gateway } = build();
      const role = new iam.Role(stack, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
      gateway.grantInvoke(role);
      Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke', Resource: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([':execute-api:us-east-1:111122223333:', '/*/*'])] }) })] },
      });
    });
  });

  describe('run-time tenants', () => {
    it('lets the authorizer read key items from the quota table and offers a usage plan to join', () => {
      const { template } = synth();
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('authorizer'),
        Environment: { Variables: Match.objectLike({ LLM_FINOPS_QUOTA_TABLE: { Ref: Match.stringLikeRegexp('^Quota') } }) },
      });
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [{ Ref: Match.stringLikeRegexp('^GatewayAuthorizerServiceRole') }],
        PolicyDocument: { Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Quota'), 'Arn'] } }]) },
      });
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Description: 'run-time tenants (llm-finops tenants)' });
      template.hasOutput('*', { Description: 'For llm-finops tenants create --usage-plan-id' });
    });
  });

  describe('web ACL and custom domain', () => {
    it('makes a regional web ACL with managed rules and a per-IP rate limit, and associates it with the stage', () => {
      const { template } = synth({ webAcl: true, webAclRateLimit: 500 });
      template.hasResourceProperties('AWS::WAFv2::WebACL', {
        Scope: 'REGIONAL',
        DefaultAction: { Allow: {} },
        Rules: [
          Match.objectLike({
            Name: 'AWSManagedRulesCommonRuleSet',
            Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet', RuleActionOverrides: [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }] } },
          }),
          Match.objectLike({ Name: 'AWSManagedRulesKnownBadInputsRuleSet' }),
          Match.objectLike({ Name: 'RatePerIp', Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 500, AggregateKeyType: 'IP' } } }),
        ],
      });
      template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
        ResourceArn: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
        WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('WebAcl'), 'Arn'] },
      });
    });

    it('has no unacknowledged cdk-nag findings with its own web ACL (APIG3 then needs no acknowledgement)', () => {
      const { stack } = build({ webAcl: true });
      expect(unacknowledgedNagFindings(stack.node.root as App)).toBe('');
    });

    it('associates an existing web ACL by ARN without making one', () => {
      const arn = 'arn:aws:wafv2:us-east-1:111122223333:regional/webacl/shared/abc-123';
      const { template } = synth({ webAclArn: arn });
      template.resourceCountIs('AWS::WAFv2::WebACL', 0);
      template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: arn });
    });

    it('serves a custom domain over TLS 1.2 with an alias record, and moves the base URL there', () => {
      const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
      const certificate = Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:111122223333:certificate/abc');
      const hostedZone = HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
      const gateway = new LlmGateway(stack, 'Gateway', { config, quotaTable: new TokenQuotaTable(stack, 'Quota'), domain: { name: 'llm.example.com', certificate, hostedZone } });
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApiGateway::DomainName', {
        DomainName: 'llm.example.com', RegionalCertificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/abc', SecurityPolicy: 'TLS_1_2', EndpointConfiguration: { Types: ['REGIONAL'] },
      });
      template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'llm.example.com.', Type: 'A', HostedZoneId: 'Z123' });
      expect(gateway.baseUrl).toBe('https://llm.example.com/v1');
    });

    it.each([
      ['the web ACL is not a regional WAFv2 ARN', { webAclArn: 'arn:aws:wafv2:us-east-1:111122223333:global/webacl/x/1' }, 'webAclArn: expected the ARN of a REGIONAL WAFv2 web ACL'],
      ['a web ACL is both made here and given', { webAcl: true, webAclArn: 'arn:aws:wafv2:us-east-1:111122223333:regional/webacl/x/1' }, 'webAcl / webAclArn: one or the other'],
      ['a rate limit is given without a web ACL made here', { webAclRateLimit: 100 }, 'webAclRateLimit: only with webAcl: true'],
      ['the rate limit is below WAF\'s minimum', { webAcl: true, webAclRateLimit: 5 }, 'webAclRateLimit: expected a whole number from 10'],
      ['the domain name is not a fully qualified name', { domain: { name: 'LLM', certificate: {} } }, "domain.name: expected a fully qualified lower-case domain name, got 'LLM'"],
    ])('fails when %s', (_, extra, message) => {
      expect(() => build(extra as never)).toThrow(message);
    });
  });

  it('fails when the timeout is out of range, naming the prop', () => {
    expect(() => synth({ timeout: Duration.minutes(20) })).toThrow(/timeout: expected 50 ms to 15 minutes/);
  });

  it('warns that a timeout over API Gateway\'s 5-minute idle timeout only serves streamed answers', () => {
    Annotations.fromStack(build({ timeout: Duration.minutes(10) }).stack).hasWarning('*', Match.stringLikeRegexp('non-streamed request .* gives it up at 285 s'));
    Annotations.fromStack(build({ timeout: Duration.minutes(5) }).stack).hasNoWarning('*', Match.stringLikeRegexp('idle timeout'));
  });

  it('fails when a tenant limit is not a whole number', () => {
    expect(() => synth({ tenantRateLimit: 0.5 })).toThrow(/tenantRateLimit: expected a whole number >= 1, got 0.5/);
  });

  it('fails when a tenant is added twice or has an invalid id', () => {
    const { gateway } = build();
    expect(() => gateway.addTenant('acme')).toThrow(/already added/);
    expect(() => gateway.addTenant('bad tenant!')).toThrow(/not a valid tenant id/);
  });

  describe('usage identifiers (API key values)', () => {
    it('are 20-128 characters and differ between two gateways with the same tenant in one account', () => {
      const app = new App();
      const env = { account: '111122223333', region: 'us-east-1' };
      const stacks = ['Staging', 'Prod'].map((n) => {
        const stack = new Stack(app, n, { env });
        new LlmGateway(stack, 'Gateway', { config: GatewayConfig.fromObject({ ...document, tenants: [{ id: 'a', apiKeys: [] }, { id: 'x'.repeat(111), apiKeys: [] }] }) });
        return stack;
      });
      const values = stacks.flatMap((st) => Object.values(Template.fromStack(st).findResources('AWS::ApiGateway::ApiKey')).map((r) => r.Properties.Value as string));
      expect(values).toHaveLength(4);
      for (const v of values) expect(v.length).toBeGreaterThanOrEqual(20);
      for (const v of values) expect(v.length).toBeLessThanOrEqual(128);
      expect(new Set(values).size).toBe(4);
      // The APIs' names differ too: the console tells them apart, and so does the ApiName dimension of their metrics.
      const names = stacks.map((st) => Object.values(Template.fromStack(st).findResources('AWS::ApiGateway::RestApi'))[0].Properties.Name);
      expect(names).toEqual([expect.stringMatching(/^StagingGateway[0-9A-F]{8}$/), expect.stringMatching(/^ProdGateway[0-9A-F]{8}$/)]);
    });

    it('names the REST API as asked, and outputs what LlmGateway.fromLlmGatewayAttributes needs', () => {
      const { template, gateway } = synth({ restApiName: 'llm-gateway-prod' });
      template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: 'llm-gateway-prod' });
      expect(gateway.restApiName).toBe('llm-gateway-prod');
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      const value = (suffix: string) => Object.entries(outputs).find(([k]) => k.startsWith(`Gateway${suffix}`))?.[1].Value;
      expect(value('RestApiId')).toEqual({ Ref: expect.stringMatching(/^Gateway/) });
      expect(value('RestApiName')).toBe('llm-gateway-prod');
      expect(value('RouterLogGroupName')).toEqual({ Ref: expect.stringMatching(/^GatewayRouterLogs/) });
    });

    it('tells the authorizer its scope, so it returns the same value the usage plan holds', () => {
      const { template, gateway } = synth();
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ LLM_FINOPS_USAGE_SCOPE: gateway.usageScope }) } });
      template.hasResourceProperties('AWS::ApiGateway::ApiKey', { Value: `llm-finops-usage-${gateway.usageScope}-acme` });
    });
  });

  describe('API Gateway account logging role', () => {
    it('warns at synth until the user chooses, and sets up the account role (retained) when asked', () => {
      const unset = synth();
      Annotations.fromStack(unset.stack).hasWarning('*', Match.stringLikeRegexp('needs the account.s API Gateway CloudWatch Logs role'));
      unset.template.resourceCountIs('AWS::ApiGateway::Account', 0);
      const own = synth({ setUpApiGatewayAccountLogging: true });
      own.template.resourceCountIs('AWS::ApiGateway::Account', 1);
      expect(Object.values(own.template.findResources('AWS::ApiGateway::Account'))[0].DeletionPolicy).toBe('Retain');
      Annotations.fromStack(own.stack).hasNoWarning('*', Match.stringLikeRegexp('CloudWatch Logs role'));
      const exists = synth({ setUpApiGatewayAccountLogging: false });
      exists.template.resourceCountIs('AWS::ApiGateway::Account', 0);
      Annotations.fromStack(exists.stack).hasNoWarning('*', Match.stringLikeRegexp('CloudWatch Logs role'));
    });
  });
});
