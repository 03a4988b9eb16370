import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CostAttribution, CurExport, GatewayConfig, LlmGateway, ReferencePlatformStack, RouterFunction, TokenQuotaTable } from '../../lib';
import { specProblems } from '../support/cfn-spec';

const ROOT = join(__dirname, '..', '..');
const platformConfig = JSON.parse(readFileSync(join(ROOT, 'examples', 'platform', 'gateway.json'), 'utf8'));

describe('synthesised templates against the CloudFormation resource specification', () => {
  it('the reference platform', () => {
    const app = new App();
    const stack = new ReferencePlatformStack(app, 'Ref', { gatewayConfig: GatewayConfig.fromObject(platformConfig) });
    expect(specProblems(Template.fromStack(stack).toJSON())).toEqual([]);
  });
});

describe('size limits checked at synth', () => {
  /** 40 config tenants, each with a key hash: ~6 KB of config, past Lambda's 4 KB for all variables. */
  const bigConfig = {
    ...platformConfig,
    tenants: Array.from({ length: 40 }, (_, i) => ({ id: `tenant-${i}`, team: `team-${i % 5}`, apiKeys: [{ sha256: createHash('sha256').update(`k${i}`).digest('hex') }] })),
  };

  it('ships a config too large for the environment inside the function code, and the bundle reads it at cold start', () => {
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'cdk-out-')) });
    const stack = new Stack(app, 'Big', { env: { account: '111122223333', region: 'us-east-1' } });
    const gw = new LlmGateway(stack, 'Gateway', { config: GatewayConfig.fromObject(bigConfig), quotaTable: new TokenQuotaTable(stack, 'Quota') });
    const assembly = app.synth();
    const template = assembly.getStackArtifact(stack.artifactId).template as { Resources: Record<string, { Type: string; Properties: { Environment?: { Variables: Record<string, unknown> }; Code?: { S3Key?: unknown } } }> };
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const router = fns.find((f) => f === template.Resources[stack.getLogicalId(gw.router.function.node.defaultChild as CfnElement)])!;
    expect(router.Properties.Environment!.Variables).toMatchObject({ LLM_FINOPS_CONFIG_FILE: 'gateway-config.json' });
    expect(router.Properties.Environment!.Variables).not.toHaveProperty('LLM_FINOPS_CONFIG');
    // The asset holds the bundle and the config; its cold start reads the file from the working directory.
    const hash = String(router.Properties.Code!.S3Key).replace(/\.zip$/, '');
    const dir = join(assembly.directory, `asset.${hash}`);
    expect(JSON.parse(readFileSync(join(dir, 'gateway-config.json'), 'utf8')).tenants).toHaveLength(40);
    const run = spawnSync(process.execPath, ['-e', `
      globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (s) => s } };
      require('./index.js').bufferedHandler({ httpMethod: 'GET', path: '/v1/models', headers: {}, requestContext: { authorizer: { tenant: 'tenant-39' } } })
        .then((r) => process.stdout.write(JSON.stringify(r)));`], { cwd: dir, env: { ...process.env, LLM_FINOPS_CONFIG_FILE: 'gateway-config.json', AWS_REGION: 'us-east-1', LLM_FINOPS_CONFIG: '' }, encoding: 'utf8' });
    expect(run.stderr).not.toMatch(/start-up failed|Error/);
    const answer = JSON.parse(run.stdout);
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body).data.map((m: { id: string }) => m.id)).toContain('auto');
    expect(specProblems(template)).toEqual([]);
  });

  it('reuses one temp folder per bundle and config across synths, so repeated synths leave no new copies', () => {
    const synthRouter = (config: typeof bigConfig) => {
      const stack = new Stack(new App({ outdir: mkdtempSync(join(tmpdir(), 'cdk-out-')) }), 'Big');
      const router = new RouterFunction(stack, 'Router', { config: GatewayConfig.fromObject(config) });
      return Template.fromStack(stack).findResources('AWS::Lambda::Function')[stack.getLogicalId(router.function.node.defaultChild as CfnElement)];
    };
    const key = (fn: Record<string, unknown>): string => (fn as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key;
    const folders = () => readdirSync(tmpdir()).filter((f) => f.startsWith('llm-finops-router-'));
    const first = synthRouter(bigConfig);
    const before = folders();
    expect(key(synthRouter(bigConfig))).toBe(key(first));
    expect(folders()).toEqual(before);
    const other = synthRouter({ ...bigConfig, tenants: bigConfig.tenants.slice(1) });
    expect(key(other)).not.toBe(key(first));
    expect(folders().filter((f) => !before.includes(f))).toHaveLength(1);
    expect(folders().some((f) => f.includes('staging'))).toBe(false);
  });

  it('fails synth, naming the variables, when a function environment would pass 4 KB anyway', () => {
    const app = new App();
    const stack = new Stack(app, 'Crowded', { env: { account: '111122223333', region: 'us-east-1' } });
    const router = new RouterFunction(stack, 'Router', { config: GatewayConfig.fromObject(platformConfig) });
    router.function.addEnvironment('EXTRA_PROFILE_MAP', 'x'.repeat(5000));
    expect(() => app.synth()).toThrow(/RouterFunction: its environment variables take about \d+ bytes; Lambda allows 4096 in total \(EXTRA_PROFILE_MAP 5017/);
  });
});

describe('cross-Region composition', () => {
  it('feeds CostAttribution in eu-west-1 from a CurExport in us-east-1 (Data Exports runs there only)', () => {
    const app = new App();
    const account = '111122223333';
    const billing = new Stack(app, 'Billing', { env: { account, region: 'us-east-1' } });
    const cur = new CurExport(billing, 'Cur', { focus: true });
    const platform = new Stack(app, 'PlatformEu', { env: { account, region: 'eu-west-1' } });
    new CostAttribution(platform, 'Attribution', { databaseName: 'llm_finops', cur: { bucket: cur.bucket, prefix: 'cur', exportName: 'llm-finops-cur2' } });
    const assembly = app.synth();
    const glue = JSON.stringify(assembly.getStackArtifact(platform.artifactId).template);
    const bucketName = (assembly.getStackArtifact(billing.artifactId).template as { Resources: Record<string, { Type: string; Properties: { BucketName?: string } }> }).Resources;
    const name = Object.values(bucketName).find((r) => r.Type === 'AWS::S3::Bucket' && r.Properties.BucketName && !String(r.Properties.BucketName).includes('accesslogs'))?.Properties.BucketName;
    expect(typeof name).toBe('string');
    expect(glue).toContain(String(name));
  });
});
