import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { configSource } from '../../../lambda/core/finops/doctor';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { estimate, type CfnTemplate } from '../../../lambda/core/finops/estimate';
import { SelfHostedInferentiaStack } from '../../../examples/self-hosted-inferentia/stack';
import { unacknowledgedNagFindings } from '../../support/nag';

describe('examples/self-hosted-inferentia', () => {
  it('puts the inf2 endpoint first in the small tier with Bedrock behind it, and Bedrock as the large tier', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'inferentia-')) });
    const stack = new SelfHostedInferentiaStack(app, 'Example');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InstanceType: 'ml.inf2.xlarge', ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 2 } })] });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 0,
      ScheduledActions: [
        { ScheduledActionName: 'business-hours', Schedule: 'cron(0 8 ? * MON-FRI *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 1 } },
        { ScheduledActionName: 'evening', Schedule: 'cron(0 19 * * ? *)', Timezone: 'Europe/Berlin', ScalableTargetAction: { MinCapacity: 0 } },
      ],
    });
    // The config (over 1 KB) ships in the router's code: read it where the router reads it.
    const assembly = app.synth();
    const src = configSource(assembly.getStackArtifact(stack.artifactId).template);
    const config = JSON.parse(src && 'assetPath' in src ? readFileSync(join(assembly.directory, src.assetPath, src.file), 'utf8') : (src as { json: string }).json);
    expect(config.tiers).toEqual([{ name: 'small', models: ['qwen-inf2', 'nova-lite'] }, { name: 'large', models: ['claude-sonnet-4.5', 'claude-haiku-4.5'] }]);
    expect(config.models[0]).toEqual({ id: 'qwen-inf2', provider: 'sagemaker', upstreamModel: 'llm-finops-qwen-inf2', instanceType: 'ml.inf2.xlarge', inferenceComponent: 'llm-finops-qwen-inf2-model', maxOutputTokens: 1024 });
    // The dashboard watches the endpoint; the SageMaker budget exists.
    expect(JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'))).toContain('SageMaker llm-finops-qwen-inf2: utilisation');
    t.hasResourceProperties('AWS::Budgets::Budget', { Budget: { CostFilters: { Service: ['Amazon SageMaker'] }, BudgetLimit: { Amount: 600, Unit: 'USD' } } });
    // Scaled to zero at night, but the schedule keeps one copy (one instance) 08:00-19:00 on weekdays: 55 h a week,
    // 55 x 730 / 168 = 239 h a month x $0.99 = $236.61 (the estimate priced it at $0 before).
    const e = estimate({ Example: t.toJSON() as CfnTemplate });
    expect(e.fixed.find((f) => f.type === 'AWS::SageMaker::Endpoint')).toMatchObject({ usdPerMonth: 236.61, basis: 'ml.inf2.xlarge: 1 x 239 h a month at the scheduled minimums' });
    expect(stack.endpoint.minimumMonthlyCostUsd).toBe(0);
  });

  it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
    const app = new App();
    new SelfHostedInferentiaStack(app, 'Example');
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});
