import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { GatewayConfig, RouterFunction } from '../../../lib';

const platformConfig = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));

function synth(config: Record<string, unknown> = platformConfig, extra: Partial<ConstructorParameters<typeof RouterFunction>[2]> = {}) {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
  const router = new RouterFunction(stack, 'Router', { config: GatewayConfig.fromObject(config), ...extra });
  return { stack, router, template: Template.fromStack(stack) };
}

/** A valid config on external providers only: one priced model in one tier. */
function external(providers: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { routing, ...rest } = extra as { routing?: Record<string, unknown> };
  return {
    providers,
    models: [{ id: 'm', provider: providers[0].id, upstreamModel: 'gpt-4o-mini' }],
    tiers: [{ name: 't', models: ['m'] }],
    routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'm', ...routing },
    ...rest,
  };
}

describe('RouterFunction', () => {
  it('deploys the pre-built bundle on arm64 Node.js 22 with the config in its environment', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 1024,
      Timeout: 300,
      // Exactly the config: no NODE_OPTIONS (the bundles ship without source maps).
      Environment: { Variables: { LLM_FINOPS_CONFIG: JSON.stringify(platformConfig) } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  describe('grants', () => {
    it('allows invoking exactly the configured Bedrock models, their profiles and the models behind them', () => {
      const { template } = synth();
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([{
            Effect: 'Allow',
            Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
            Resource: Match.arrayWith([
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:*::foundation-model/amazon.nova-micro-v1:0']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-micro-v1:0']] },
            ]),
          }]),
        },
      });
    });

    it('allows invoking a Provisioned Throughput model by its provisioned-model ARN (a commitment-first tier)', () => {
      const pt = 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123def456';
      const { template } = synth({
        providers: [{ type: 'bedrock', id: 'br' }],
        models: [
          { id: 'sonnet-pt', provider: 'br', upstreamModel: pt, commitment: { type: 'bedrock-provisioned', units: 1, usdPerUnitHour: 40, term: '1-month' } },
          { id: 'sonnet', provider: 'br', upstreamModel: 'anthropic.claude-sonnet-4-5-20250929-v1:0' },
        ],
        tiers: [{ name: 'main', models: ['sonnet-pt', 'sonnet'], mode: 'commitment-first' }],
        routing: { thresholds: [{ tier: 'main', upTo: 1 }], baselineModel: 'sonnet' },
      });
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'], Resource: Match.arrayWith([pt]) })]) },
      });
    });

    it('may read exactly the trained router and verifier objects the config names in S3', () => {
      const config = external([{ type: 'openai-compatible', id: 'x', baseUrl: 'https://example.invalid/v1' }], {
        routing: { learned: { s3Uri: 's3://acme-ml/routers/gsm8k.json' } },
        cache: { semantic: { enabled: true, verifier: { s3Uri: 's3://acme-ml/verifiers/v1.json' } } },
      });
      synth(config).template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [{
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: [
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-ml/routers/gsm8k.json']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::acme-ml/verifiers/v1.json']] },
            ],
          }],
        },
      });
    });

    it('may read exactly the Secrets Manager secrets holding provider keys', () => {
      const arn = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:openai-key-AbCdEf';
      const config = external([
        { type: 'openai-compatible', id: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeySecret: arn },
        { type: 'azure-openai', id: 'azure', endpoint: 'https://x.openai.azure.com', apiKeySecret: 'llm/azure-key' },
      ]);
      synth(config).template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [{
            Effect: 'Allow',
            Action: 'secretsmanager:GetSecretValue',
            Resource: [arn, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:us-east-1:111122223333:secret:llm/azure-key-??????']] }],
          }],
        },
      });
    });

    it('may read the Pinecone index\'s key secret as well', () => {
      const config = { ...external([{ type: 'openai-compatible', id: 'x', baseUrl: 'https://example.invalid/v1' }]),
        cache: { semantic: { enabled: true, embedder: { type: 'bedrock', dimensions: 512 }, index: { type: 'pinecone', host: 'cache-abc.svc.aped-1234.pinecone.io', apiKeySecret: 'llm/pinecone' } } } };
      const statements = Object.values(synth(config).template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
      expect(statements).toContainEqual(expect.objectContaining({
        Action: 'secretsmanager:GetSecretValue',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:us-east-1:111122223333:secret:llm/pinecone-??????']] },
      }));
    });

    it('may start the Marketplace subscription of a third-party Bedrock model on its first call, unless told not to', () => {
      const marketplace = Match.objectLike({ Action: ['aws-marketplace:Subscribe', 'aws-marketplace:Unsubscribe', 'aws-marketplace:ViewSubscriptions'], Resource: '*' });
      // The reference platform's medium and large tiers are Anthropic models on Bedrock.
      synth().template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: Match.arrayWith([marketplace]) } });
      const optedOut = synth(platformConfig, { bedrockMarketplaceSubscribe: false }).template;
      expect(JSON.stringify(optedOut.findResources('AWS::IAM::Policy'))).not.toContain('aws-marketplace');
      // Amazon's own models need no subscription.
      const novaOnly = {
        providers: [{ type: 'bedrock', id: 'bedrock' }],
        models: [{ id: 'nova', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
        tiers: [{ name: 't', models: ['nova'] }],
        routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova' },
      };
      expect(JSON.stringify(synth(novaOnly).template.findResources('AWS::IAM::Policy'))).not.toContain('aws-marketplace');
    });

    it('adds no Bedrock statement when no Bedrock provider is configured', () => {
      const { template } = synth(external([{ type: 'openai-compatible', id: 'x', baseUrl: 'https://example.invalid/v1' }]));
      template.resourceCountIs('AWS::IAM::Policy', 0);
    });
  });

  it('fails when memorySize is out of range, naming the prop', () => {
    expect(() => synth(platformConfig, { memorySize: 64 })).toThrow(/memorySize: expected an integer 128-10240, got 64/);
  });

  it('fails when the config is not a GatewayConfig', () => {
    expect(() => synth({ hello: 'world' })).toThrow(/config: expected a GatewayConfig/);
    // The document itself, as 0.0.x took it (or from an untyped caller), is named as such.
    expect(() => new RouterFunction(new Stack(), 'R', { config: platformConfig })).toThrow('RouterFunction config: expected a GatewayConfig (GatewayConfig.fromFile(path) or GatewayConfig.fromObject(document)), got a plain object');
  });

  it('fails at synth on a config the router would refuse at cold start, naming every field', () => {
    const bad = external([{ type: 'openai-compatible', id: 'x', baseUrl: 'https://example.invalid/v1' }], { routing: { baselineModel: 'nope' } });
    (bad.models as Record<string, unknown>[]).push({ id: 'free', provider: 'x', upstreamModel: 'my-own-model' });
    expect(() => synth(bad)).toThrow("config.models[1]: no price for 'free'");
    expect(() => synth(bad)).toThrow("config.routing.baselineModel: unknown model 'nope'");
  });

  it('gives a config that embeds with the sentence encoder its weights: the layer and the directory it extracts to', () => {
    const withSentence = { ...platformConfig, cache: { semantic: { enabled: true, embedder: { type: 'sentence' } } } };
    const { template } = synth(withSentence);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Layers: [{ Ref: Match.stringLikeRegexp('^LlmFinOpsSentenceEncoder') }],
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_SENTENCE_MODEL_DIR: '/opt' }) },
    });
    // Not for a cache that is off, nor for another embedder.
    synth({ ...platformConfig, cache: { semantic: { enabled: false, embedder: { type: 'sentence' } } } }).template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
    synth().template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
  });

  describe('model lifecycle', () => {
    it('warns at synth when a configured model is retired or retires within 60 days, and not otherwise', () => {
      const retired = synth(external([{ type: 'openai-compatible', id: 'oa', baseUrl: 'https://api.openai.com/v1' }], {
        models: [{ id: 'm', provider: 'oa', upstreamModel: 'gpt-4.1-nano' }],
      }));
      Annotations.fromStack(retired.stack).hasWarning('/Test/Router', Match.stringLikeRegexp("model 'm' \\(gpt-4.1-nano\\) was retired on 2026-10-23; the provider recommends 'gpt-5.4-nano'"));
      const current = synth(external([{ type: 'openai-compatible', id: 'oa', baseUrl: 'https://api.openai.com/v1' }], {
        models: [{ id: 'm', provider: 'oa', upstreamModel: 'gpt-5.4-mini' }],
      }));
      Annotations.fromStack(current.stack).hasNoWarning('*', Match.stringLikeRegexp('retire'));
    });
  });

  describe('inference profile geography', () => {
    const bedrockModel = (upstreamModel: string) => ({
      providers: [{ type: 'bedrock', id: 'bedrock' }],
      models: [{ id: 'm', provider: 'bedrock', upstreamModel }],
      tiers: [{ name: 't', models: ['m'] }],
      routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'm' },
    });
    const inRegion = (region: string | undefined, upstream: string) => () => {
      const stack = new Stack(new App(), 'Geo', region ? { env: { account: '111122223333', region } } : {});
      new RouterFunction(stack, 'Router', { config: GatewayConfig.fromObject(bedrockModel(upstream)) });
      return stack;
    };

    it('refuses a geographic profile called from another geography (every call would fail)', () => {
      expect(inRegion('eu-west-1', 'us.amazon.nova-lite-v1:0')).toThrow("config.models: 'm' calls us.amazon.nova-lite-v1:0, a us. inference profile, which cannot be called from eu-west-1");
      expect(inRegion('us-east-1', 'eu.amazon.nova-lite-v1:0')).toThrow('cannot be called from us-east-1');
    });

    it('accepts a profile of the stack geography, a global profile, and an in-Region model id', () => {
      expect(inRegion('eu-west-1', 'eu.amazon.nova-lite-v1:0')).not.toThrow();
      expect(inRegion('ap-northeast-1', 'apac.amazon.nova-lite-v1:0')).not.toThrow();
      expect(inRegion('eu-west-1', 'global.anthropic.claude-haiku-4-5-20251001-v1:0')).not.toThrow();
      expect(inRegion('eu-west-1', 'amazon.nova-lite-v1:0')).not.toThrow();
    });

    it('warns for a Region-agnostic stack with geographic profiles', () => {
      const stack = inRegion(undefined, 'us.amazon.nova-lite-v1:0')();
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('callable only from their geography: m \\(us.amazon.nova-lite-v1:0\\)'));
    });
  });
});
