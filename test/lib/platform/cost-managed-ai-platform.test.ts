import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CostManagedAiPlatform, type CostManagedAiPlatformProps } from '../../../lib';

const gatewayConfig = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));

function synth(extra: Partial<CostManagedAiPlatformProps> = {}) {
  const stack = new Stack(new App(), 'Test', { env: { account: '111122223333', region: 'us-east-1' } });
  const platform = new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig, ...extra });
  return { platform, template: Template.fromStack(stack) };
}

describe('CostManagedAiPlatform', () => {
  it('wires the router to the quota table and to the semantic cache by default', () => {
    const { template, platform } = synth();
    expect(platform.cache).toBeDefined();
    template.resourceCountIs('AWS::OpenSearchService::Domain', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Environment: { Variables: Match.objectLike({ LLM_FINOPS_QUOTA_TABLE: Match.anyValue(), LLM_FINOPS_SEMANTIC_INDEX: Match.anyValue(), LLM_FINOPS_EXACT_CACHE_TABLE: Match.anyValue() }) },
    });
    template.hasOutput('*', { Description: 'OpenSearch endpoint of the semantic cache' });
  });

  it('takes the cache options, or none at all', () => {
    synth({ semanticCache: { engine: 'serverless' } }).template.resourceCountIs('AWS::OpenSearchServerless::Collection', 1);
    const none = synth({ semanticCache: false });
    expect(none.platform.cache).toBeUndefined();
    none.template.resourceCountIs('AWS::OpenSearchService::Domain', 0);
    none.template.resourcePropertiesCountIs('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ LLM_FINOPS_SEMANTIC_INDEX: Match.anyValue() }) } }, 0);
  });
});
