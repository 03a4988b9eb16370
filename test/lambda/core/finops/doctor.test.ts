import { checkAnomalyMonitors, checkSageMakerQuotas, configSource, stackNeeds } from '../../../../lambda/core/finops/doctor';

const where = { stack: 'S', region: 'eu-west-1' };

describe('doctor: what a template needs', () => {
  it('sums each instance type over endpoint configs, at the most they may run', () => {
    const n = stackNeeds('S', {
      Resources: {
        A: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1, ManagedInstanceScaling: { MaxInstanceCount: 4 } }] } },
        B: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 2 }] } },
      },
    });
    expect(n.sagemakerInstances).toEqual({ 'ml.g5.xlarge': 6 });
    expect(checkSageMakerQuotas(n, where, new Map([['ml.g5.xlarge', 4]]))[0]).toMatchObject({ verdict: 'fail', message: "ml.g5.xlarge: the stack may run 6 instance(s), the account's endpoint quota is 4" });
    expect(checkSageMakerQuotas(n, where, new Map())[0]).toMatchObject({ verdict: 'warn', message: expect.stringContaining('no "ml.g5.xlarge for endpoint usage" quota') });
  });

  it('fails a second AWS-services anomaly monitor (one per account)', () => {
    const n = stackNeeds('S', { Resources: { M: { Type: 'AWS::CE::AnomalyMonitor', Properties: { MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE', MonitorName: 'm' } } } });
    expect(checkAnomalyMonitors(n, where, [{ MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' }])).toMatchObject({ verdict: 'fail', fix: expect.stringContaining('anomalyMonitorArn') });
    expect(checkAnomalyMonitors(n, where, [{ MonitorType: 'CUSTOM' }])).toMatchObject({ verdict: 'ok' });
  });

  it('finds the router\'s config inline or in its code asset, never the authorizer\'s copy', () => {
    const fn = (vars: Record<string, string>, asset?: string) => ({ Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: vars } }, Metadata: asset ? { 'aws:asset:path': asset } : {} });
    expect(configSource({ Resources: { Auth: fn({ LLM_FINOPS_CONFIG: '{"a":1}', LLM_FINOPS_USAGE_SCOPE: 'x' }), Router: fn({ LLM_FINOPS_CONFIG: '{"b":2}' }) } })).toEqual({ json: '{"b":2}' });
    expect(configSource({ Resources: { Router: fn({ LLM_FINOPS_CONFIG_FILE: 'gateway-config.json' }, 'asset.abc') } })).toEqual({ assetPath: 'asset.abc', file: 'gateway-config.json' });
    // Without the CLI's asset metadata: the asset folder from the code's S3 key.
    const hash = 'ab'.repeat(32);
    const bare = { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { LLM_FINOPS_CONFIG_FILE: 'gateway-config.json' } }, Code: { S3Bucket: 'b', S3Key: `${hash}.zip` } } };
    expect(configSource({ Resources: { Router: bare } })).toEqual({ assetPath: `asset.${hash}`, file: 'gateway-config.json' });
  });
});
