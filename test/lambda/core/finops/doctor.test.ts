import { checkAnomalyMonitors, checkRouterEgress, checkSageMakerQuotas, checkSemanticCalibration, configSource, stackNeeds } from '../../../../lambda/core/finops/doctor';

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

describe('doctor: a router\'s way out of its VPC', () => {
  const where = { stack: 'S', region: 'eu-west-1' };
  const router = { Type: 'AWS::Lambda::Function', Properties: { Environment: { Variables: { LLM_FINOPS_CONFIG: '{}' } }, VpcConfig: { SubnetIds: ['subnet-1', { Ref: 'MadeHere' }] } } };
  const needs = (egress: 'nat' | 'create-endpoints' | 'existing-endpoints') =>
    stackNeeds('S', { Resources: { R: router } }, undefined, { egress, interfaceServices: ['secretsmanager', 'sns'], gatewayServices: ['dynamodb'], outside: [] });

  it('reads only literal subnet ids, passes a NAT route, and refuses to create endpoints whose private DNS the VPC already has', () => {
    expect(needs('nat').routerNetwork?.subnetIds).toEqual(['subnet-1']);
    expect(checkRouterEgress(needs('nat'), where, { region: 'eu-west-1', defaultRoutes: new Map([['subnet-1', 'nat-0abc']]), endpoints: [] }))
      .toMatchObject({ verdict: 'ok', message: "the router's subnets route 0.0.0.0/0 through nat-0abc" });
    const endpoints = [{ serviceName: 'com.amazonaws.eu-west-1.sns', type: 'Interface', privateDns: true, state: 'available' }];
    expect(checkRouterEgress(needs('create-endpoints'), where, { region: 'eu-west-1', defaultRoutes: new Map(), endpoints }))
      .toMatchObject({ verdict: 'fail', message: "the VPC already has interface endpoints with private DNS for sns: creating the stack's fails", fix: expect.stringContaining('EXISTING_ENDPOINTS') });
    // A subnet with no default route at all.
    expect(checkRouterEgress(needs('nat'), where, { region: 'eu-west-1', defaultRoutes: new Map([['subnet-1', null]]), endpoints: [] }))
      .toMatchObject({ verdict: 'fail', message: expect.stringContaining('subnet-1 (no default route)') });
    // Not in a VPC: nothing to check.
    expect(checkRouterEgress(stackNeeds('S', { Resources: { R: router } }), where, { region: 'eu-west-1', defaultRoutes: new Map(), endpoints: [] })).toBeUndefined();
  });
});

describe('checkSemanticCalibration', () => {
  const where = { stack: 'S', region: 'eu-west-1' };
  const cfg = (semantic: Record<string, unknown>) => ({ cache: { semantic } });
  it('warns about a semantic cache on a remote embedder at the default threshold, with the command that calibrates it', () => {
    expect(checkSemanticCalibration(cfg({ enabled: true, embedder: { type: 'bedrock', model: 'amazon.titan-embed-text-v2:0' } }), where)).toEqual({
      check: 'semantic-calibration', ...where, verdict: 'warn',
      message: 'the semantic cache embeds with bedrock (amazon.titan-embed-text-v2:0) at the default threshold, never measured for that embedder: it may serve wrong answers or none',
      fix: 'llm-finops cache calibrate --embedder bedrock --data YOUR_PAIRS.jsonl --yes --config <gateway.json> --write (states its cost first; cents for a few thousand pairs; without --data, the pairs shipped with the CLI choose the content rule and may raise the threshold, not lower it)',
    });
  });
  it('is quiet once a threshold is set, for the offline embedders, and with the cache off', () => {
    expect(checkSemanticCalibration(cfg({ enabled: true, threshold: 0.9, embedder: { type: 'bedrock' } }), where)).toBeUndefined();
    expect(checkSemanticCalibration(cfg({ enabled: true, embedder: { type: 'sentence' } }), where)).toBeUndefined();
    expect(checkSemanticCalibration(cfg({ enabled: false, embedder: { type: 'openai-compatible' } }), where)).toBeUndefined();
    expect(checkSemanticCalibration(undefined, where)).toBeUndefined();
  });
});
