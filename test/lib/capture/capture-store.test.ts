import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CaptureStore, CostManagedAiPlatform, GatewayConfig, LlmGateway, TokenQuotaTable } from '../../../lib';
import { unacknowledgedNagFindings } from '../../support/nag';

const platformConfig = () => JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8')) as Record<string, unknown>;

/** The example config with the small-model path on: tickets captured and shadow-tested on Nova Micro. */
function smallModelConfig(): Record<string, unknown> {
  const c = platformConfig();
  return {
    ...c,
    tenants: (c.tenants as Record<string, unknown>[]).map((t) => ({ ...t, captureConsent: true })),
    capture: { features: [{ feature: 'tickets', sampleRate: 0.2 }] },
    shadow: { policies: [{ feature: 'tickets', model: 'nova-micro', sampleRate: 0.1 }] },
  };
}

function store(props: ConstructorParameters<typeof CaptureStore>[2] = {}) {
  const app = new App();
  const stack = new Stack(app, 'Capture', { env: { account: '111122223333', region: 'us-east-1' } });
  const gateway = new LlmGateway(stack, 'Gateway', { config: GatewayConfig.fromObject(smallModelConfig()), quotaTable: new TokenQuotaTable(stack, 'Quota'), setUpApiGatewayAccountLogging: false });
  const capture = new CaptureStore(stack, 'Store', props);
  capture.bindRouter(gateway.router.function);
  return { app, stack, gateway, capture };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
const statementsOf = (t: Template, rolePrefix: string): Statement[] => Object.values(t.findResources('AWS::IAM::Policy'))
  .filter((p) => JSON.stringify(p.Properties.Roles).includes(rolePrefix))
  .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);

describe('CaptureStore', () => {
  it('is clean under cdk-nag and the CloudFormation resource specification', () => {
    expect(unacknowledgedNagFindings(store().app)).toBe('');
  });

  it('encrypts with a rotated customer managed key and an S3 Bucket Key, keeps examples for the retention, logs access', () => {
    const t = Template.fromStack(store({ retention: Duration.days(30) }).stack);
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 30, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }] },
      LoggingConfiguration: { LogFilePrefix: 'capture/' },
    });
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('lets the router put under capture/ and encrypt, and nothing else: it cannot read captured data back', () => {
    const { stack } = store();
    const t = Template.fromStack(stack);
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.LLM_FINOPS_CAPTURE_BUCKET)!;
    expect(fn.Properties.Environment.Variables.LLM_FINOPS_CAPTURE_BUCKET).toEqual({ Ref: expect.stringMatching(/^StoreBucket/) });
    const statements = statementsOf(t, 'GatewayRouter');
    const onCapture = statements.filter((s) => JSON.stringify(s.Resource).includes('StoreBucket') || JSON.stringify(s.Resource).includes('StoreKey'));
    expect(onCapture.map((s) => s.Action)).toEqual(['s3:PutObject', 'kms:GenerateDataKey']);
    expect(JSON.stringify(onCapture[0].Resource)).toContain('/capture/*');
  });

  it('grants a training role read of the examples with decryption', () => {
    const { stack, capture } = store();
    const role = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    capture.grantRead(role);
    const actions = statementsOf(Template.fromStack(stack), 'Trainer').flatMap((s) => [s.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject*', 's3:List*', 'kms:Decrypt']));
    expect(actions).not.toContain('s3:PutObject');
  });

  it('refuses a retention that is not a whole number of days', () => {
    expect(() => store({ retention: Duration.hours(12) })).toThrow(/retention: a whole number of days of at least 1 \(the bucket's lifecycle counts days\), got 12 hours/);
  });

  it('the router may invoke a model that only a shadow policy names (its grants come from the config\'s models)', () => {
    const c = smallModelConfig();
    const models = (c.models as Record<string, unknown>[]);
    const shadowOnly = { ...models.find((m) => m.id === 'nova-micro')!, id: 'nova-pro-candidate', upstreamModel: 'amazon.nova-pro-v1:0' };
    const app = new App();
    const stack = new Stack(app, 'Shadow', { env: { account: '111122223333', region: 'us-east-1' } });
    new LlmGateway(stack, 'Gateway', {
      config: GatewayConfig.fromObject({ ...c, models: [...models, shadowOnly], shadow: { policies: [{ feature: 'tickets', model: 'nova-pro-candidate' }] } }),
      quotaTable: new TokenQuotaTable(stack, 'Quota'), setUpApiGatewayAccountLogging: false,
    });
    const invoke = statementsOf(Template.fromStack(stack), 'GatewayRouter').filter((s) => [s.Action].flat().includes('bedrock:InvokeModel'));
    expect(JSON.stringify(invoke)).toContain('foundation-model/amazon.nova-pro-v1:0');
  });
});

describe('CostManagedAiPlatform enableCapture', () => {
  const platform = (props: Partial<ConstructorParameters<typeof CostManagedAiPlatform>[2]>, config = smallModelConfig()) => {
    const app = new App();
    const stack = new Stack(app, 'P', { env: { account: '111122223333', region: 'us-east-1' } });
    const p = new CostManagedAiPlatform(stack, 'Platform', { gatewayConfig: GatewayConfig.fromObject(config), enableSemanticCache: false, setUpApiGatewayAccountLogging: false, ...props });
    return { stack, p };
  };

  it('makes the store, binds the router and outputs the bucket', () => {
    const { stack, p } = platform({ enableCapture: true, capture: { retention: Duration.days(60) } });
    expect(p.captureStore).toBeDefined();
    const t = Template.fromStack(stack);
    t.hasOutput('*', { Description: Match.stringLikeRegexp('^Captured training examples') });
    t.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 60 })] } });
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('opts no feature in'))).toEqual([]);
  });

  it('warns when the config opts no feature in, and refuses settings for a store it leaves out', () => {
    const { stack } = platform({ enableCapture: true }, platformConfig());
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('enableCapture: the gateway config opts no feature in \\(capture.features\\), so nothing is captured'))).toHaveLength(1);
    expect(() => platform({ capture: { retention: Duration.days(7) } })).toThrow(/capture: settings for a capture store enableCapture \(default false\) leaves out; set enableCapture: true/);
  });
});
