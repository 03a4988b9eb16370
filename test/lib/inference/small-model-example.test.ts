import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { configSource } from '../../../lambda/core/finops/doctor';
import { estimate, type CfnTemplate } from '../../../lambda/core/finops/estimate';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { SmallModelStack, TICKET_LABELS } from '../../../examples/small-model/stack';
import { unacknowledgedNagFindings } from '../../support/nag';

describe('examples/small-model', () => {
  it('hosts the small model on a CPU instance and switches the tickets feature to it, guarded, shadowed and captured', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'small-model-')) });
    const stack = new SmallModelStack(app, 'Example');
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InstanceType: 'ml.m5.xlarge', InitialInstanceCount: 1 })] });
    const model = Object.values(t.findResources('AWS::SageMaker::Model'))[0].Properties.PrimaryContainer;
    expect(JSON.stringify(model.Image)).toContain('/djl-inference:0.29.0-cpu-full');
    expect(model.Environment).toMatchObject({ HF_MODEL_ID: 'Qwen/Qwen2.5-0.5B-Instruct', OPTION_MAX_MODEL_LEN: '2048' });
    // The router reads the config as shipped: it validates, and the feature is switched with both guards.
    const assembly = app.synth();
    const src = configSource(assembly.getStackArtifact(stack.artifactId).template);
    const config = JSON.parse(src && 'assetPath' in src ? readFileSync(join(assembly.directory, src.assetPath, src.file), 'utf8') : (src as { json: string }).json);
    const resolved = resolveConfig(config);
    expect(resolved.tiers.get('tickets-small')).toMatchObject({ mode: 'cascade', cascade: { checks: ['empty', 'refusal', 'labels'], labels: TICKET_LABELS } });
    expect(resolved.tiers.get('tickets-small')!.models.map((m) => m.id)).toEqual(['tickets-slm', 'claude-sonnet-4.5']);
    expect(config.routing.features).toEqual({ tickets: 'tickets-small' });
    expect(config.models[0]).toEqual({ id: 'tickets-slm', provider: 'sagemaker', upstreamModel: 'llm-finops-tickets-slm', instanceType: 'ml.m5.xlarge', maxOutputTokens: 16 });
    expect(config.shadow.policies[0]).toMatchObject({ feature: 'tickets', model: 'claude-sonnet-4.5', switchBack: { below: 0.9 } });
    // The capture bucket is bound to the router; the router may invoke the endpoint.
    const router = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.LLM_FINOPS_CAPTURE_BUCKET);
    expect(router).toBeDefined();
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]);
    expect(JSON.stringify(statements.filter((s) => JSON.stringify(s.Action).includes('sagemaker:InvokeEndpoint')))).toContain('endpoint/llm-finops-tickets-slm');
    // One CPU instance all month: 730 h x $0.23 (the catalog's unverified ml.m5.xlarge price).
    const e = estimate({ Example: t.toJSON() as CfnTemplate });
    expect(e.fixed.find((f) => f.type === 'AWS::SageMaker::Endpoint')).toMatchObject({ usdPerMonth: 167.9 });
  });

  it('has no unacknowledged cdk-nag AwsSolutions findings', () => {
    const app = new App();
    new SmallModelStack(app, 'Example');
    expect(unacknowledgedNagFindings(app)).toBe('');
  });
});
