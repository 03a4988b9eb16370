import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CacheEmbedder, CacheEngine, SemanticCache, type SemanticCacheAttributes } from '../../../lib';
import { unacknowledgedNagFindings } from '../../support/nag';

const env = { account: '111122223333', region: 'eu-west-1' };
const code = lambda.Code.fromInline('exports.handler = async () => {}');
const domainArn = 'arn:aws:es:eu-west-1:111122223333:domain/llm-cache';

function consumer(attrs: (stack: Stack) => SemanticCacheAttributes, vpc = false) {
  const app = new App();
  const stack = new Stack(app, 'Consumer', { env });
  const network = vpc ? new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 }) : undefined;
  const fn = new lambda.Function(stack, 'Router', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code, vpc: network });
  const cache = SemanticCache.fromSemanticCacheAttributes(stack, 'Cache', attrs(stack));
  return { app, stack, fn, cache };
}

function warnings(app: App, stackName: string): string[] {
  return app.synth().getStackByName(stackName).messages.filter((m) => m.level === 'warning').map((m) => String(m.entry.data));
}

describe('SemanticCache.fromSemanticCacheAttributes', () => {
  it('binds a router in a second stack to a cache the first stack owns: no dependency cycle, grants on this side, a warning naming the role to admit there', () => {
    const app = new App();
    const owner = new Stack(app, 'Owner', { env });
    const cache = new SemanticCache(owner, 'Cache', {});
    cache.grantReadWrite(new iam.Role(owner, 'Ops', { assumedBy: new iam.AccountRootPrincipal() }));
    const other = new Stack(app, 'Consumer', { env });
    const fn = new lambda.Function(other, 'Router', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code });
    const imported = SemanticCache.fromSemanticCacheAttributes(other, 'Cache', {
      endpoint: cache.endpoint, domainArn: cache.domain!.attrArn, exactCacheTableName: cache.exactCacheTable.tableName,
    });
    imported.bindRouter(fn);
    const t = Template.fromStack(other);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { LLM_FINOPS_SEMANTIC_INDEX: Match.anyValue(), LLM_FINOPS_EXACT_CACHE_TABLE: { 'Fn::ImportValue': Match.stringLikeRegexp('^Owner:ExportsOutputRefCacheExactCache') } } },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut'],
        Resource: { 'Fn::Join': ['', [{ 'Fn::ImportValue': Match.stringLikeRegexp('^Owner:ExportsOutputFnGetAttCacheDomain') }, '/*']] },
      })]) },
    });
    // The owner's access policy names only its own role: the consumer's role would make Owner depend on Consumer.
    Template.fromStack(owner).hasResourceProperties('AWS::OpenSearchService::Domain', {
      AccessPolicies: { Statement: [{ Principal: { AWS: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^OpsRole|^Ops'), 'Arn'] }] } }] },
    });
    expect(warnings(app, 'Consumer')).toEqual(expect.arrayContaining([expect.stringContaining('Imported SemanticCache: its access policy is its own stack\'s; admit Consumer/Router/ServiceRole there')]));
    expect(app.synth().getStackByName('Owner').dependencies.map((d) => d.id)).not.toContain('Consumer');
    expect(app.synth().getStackByName('Consumer').dependencies.map((d) => d.id)).toContain('Owner');
  });

  it('admits a role the owning stack names by ARN (the second half of the cross-stack set-up)', () => {
    const app = new App();
    const owner = new Stack(app, 'Owner', { env });
    const cache = new SemanticCache(owner, 'Cache', {});
    cache.grantReadWrite(iam.Role.fromRoleArn(owner, 'ConsumerRouter', 'arn:aws:iam::111122223333:role/consumer-router'));
    Template.fromStack(owner).hasResourceProperties('AWS::OpenSearchService::Domain', {
      AccessPolicies: { Statement: [{ Principal: { AWS: ['arn:aws:iam::111122223333:role/consumer-router'] } }] },
    });
  });

  it('a literal domain: metrics by its name, the ES paths grant acknowledged for cdk-nag, Titan granted for the embedder it declares', () => {
    const { app, stack, fn, cache } = consumer(() => ({
      endpoint: 'https://search-llm-cache-abc.eu-west-1.es.amazonaws.com', domainArn, exactCacheTableName: 'llm-cache-exact',
      embedder: CacheEmbedder.titan({ dimensions: 512 }), indexName: 'shared-cache',
    }));
    cache.bindRouter(fn);
    expect(cache.engineKind).toBe('managed-domain');
    expect(stack.resolve(cache.metricSearchLatency().dimensions)).toEqual({ DomainName: 'llm-cache', ClientId: '111122223333' });
    const t = Template.fromStack(stack);
    const env = t.findResources('AWS::Lambda::Function')[stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)].Properties.Environment.Variables;
    expect(JSON.parse(env.LLM_FINOPS_SEMANTIC_INDEX)).toEqual({ type: 'opensearch', endpoint: 'https://search-llm-cache-abc.eu-west-1.es.amazonaws.com', service: 'es', indexName: 'shared-cache', region: 'eu-west-1' });
    expect(JSON.parse(env.LLM_FINOPS_SEMANTIC_EMBEDDER)).toEqual({ type: 'bedrock', model: 'amazon.titan-embed-text-v2:0', dimensions: 512 });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: 'bedrock:InvokeModel', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0']] } }),
        Match.objectLike({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem'] }),
      ]) },
    });
    expect(unacknowledgedNagFindings(app)).toBe('');
  });

  it('a Serverless collection: aoss:APIAccessAll on the collection, warned about its data-access policy; no domain metrics', () => {
    const { app, stack, fn, cache } = consumer(() => ({
      endpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com', collectionArn: 'arn:aws:aoss:eu-west-1:111122223333:collection/abc123', exactCacheTableName: 'llm-cache-exact',
    }));
    cache.bindRouter(fn);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'aoss:APIAccessAll', Resource: 'arn:aws:aoss:eu-west-1:111122223333:collection/abc123' })]) },
    });
    expect(() => cache.metricJvmMemoryPressure()).toThrow('metricJvmMemoryPressure: only for engine managed-domain');
    expect(warnings(app, 'Consumer')).toEqual([expect.stringContaining('its data-access policy is its own stack\'s')]);
  });

  it('Valkey: the ingress rule lives in the importing stack, the token secret is granted, and a router outside the VPC is refused', () => {
    const { app, stack, fn, cache } = consumer((s) => ({
      endpoint: 'rediss://master.llm-cache.abc.euw1.cache.amazonaws.com:6379', exactCacheTableName: 'llm-cache-exact',
      valkeyAuthToken: secretsmanager.Secret.fromSecretCompleteArn(s, 'Token', 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:llm-cache-token-AbCdEf'),
      valkeySecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(s, 'CacheSg', 'sg-0123456789abcdef0'),
    }), true);
    cache.bindRouter(fn);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0123456789abcdef0', FromPort: 6379, ToPort: 6379, IpProtocol: 'tcp' });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:llm-cache-token-AbCdEf' })]) },
    });
    expect(warnings(app, 'Consumer')).toEqual([]);

    const outside = consumer((s) => ({
      endpoint: 'rediss://master.llm-cache.abc.euw1.cache.amazonaws.com:6379', exactCacheTableName: 'llm-cache-exact',
      valkeyAuthToken: secretsmanager.Secret.fromSecretCompleteArn(s, 'Token', 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:llm-cache-token-AbCdEf'),
      valkeySecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(s, 'CacheSg', 'sg-0123456789abcdef0'),
    }));
    expect(() => outside.cache.bindRouter(outside.fn)).toThrow('SemanticCache (engine valkey): the router must run in the cache\'s VPC');
  });

  it.each<[string, SemanticCacheAttributes, string]>([
    ['no engine', { endpoint: 'https://x.es.amazonaws.com', exactCacheTableName: 'exact' }, 'give exactly one of domainArn, collectionArn or valkeyAuthToken (with valkeySecurityGroup), got none'],
    ['two engines', { endpoint: 'https://x.es.amazonaws.com', exactCacheTableName: 'exact', domainArn, collectionArn: 'arn:aws:aoss:eu-west-1:111122223333:collection/abc' }, 'got domainArn, collectionArn'],
    ['an http endpoint', { endpoint: 'http://x.es.amazonaws.com', exactCacheTableName: 'exact', domainArn }, "endpoint: expected https://<domain or collection endpoint>, got 'http://x.es.amazonaws.com'"],
    ['a collection ARN as domain', { endpoint: 'https://x.es.amazonaws.com', exactCacheTableName: 'exact', domainArn: 'arn:aws:aoss:eu-west-1:111122223333:collection/abc' }, 'domainArn: expected an OpenSearch Service domain ARN'],
    ['a bad table name', { endpoint: 'https://x.es.amazonaws.com', exactCacheTableName: 'a b', domainArn }, "exactCacheTableName: expected a DynamoDB table name, got 'a b'"],
    ['an upper-case index', { endpoint: 'https://x.es.amazonaws.com', exactCacheTableName: 'exact', domainArn, indexName: 'Cache' }, "indexName: expected lower-case letters, digits, _ and -, got 'Cache'"],
  ])('refuses %s', (_name, attrs, message) => {
    const stack = new Stack(new App(), 'Consumer', { env });
    expect(() => SemanticCache.fromSemanticCacheAttributes(stack, 'Cache', attrs)).toThrow(message);
  });

  it('refuses a Valkey token without its security group', () => {
    const stack = new Stack(new App(), 'Consumer', { env });
    expect(() => SemanticCache.fromSemanticCacheAttributes(stack, 'Cache', {
      endpoint: 'rediss://h:6379', exactCacheTableName: 'exact', valkeyAuthToken: secretsmanager.Secret.fromSecretNameV2(stack, 'T', 'token'),
    })).toThrow('valkeySecurityGroup: required with valkeyAuthToken');
  });

  it('a cache made here is an ISemanticCache with the same surface (engineKind, metrics)', () => {
    const stack = new Stack(new App(), 'Owner', { env });
    const cache = new SemanticCache(stack, 'Cache', { engine: CacheEngine.serverless() });
    cache.grantReadWrite(new iam.Role(stack, 'R', { assumedBy: new iam.AccountRootPrincipal() }));
    expect(cache.engineKind).toBe('serverless');
    expect(() => cache.metricSearchLatency()).toThrow('metricSearchLatency: only for engine managed-domain');
  });
});
