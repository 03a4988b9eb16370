import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildEverythingApp } from '../../examples/everything/app';
import { specProblems } from '../support/cfn-spec';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type StackInfo = { name: string; account?: string; region?: string; resources: Record<string, Resource> };

/** Resolves the intrinsics a physical name is built from; undefined when it depends on something only a deploy knows. */
function resolve(v: unknown, s: StackInfo): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if ('Ref' in o) {
    if (o.Ref === 'AWS::StackName') return s.name;
    if (o.Ref === 'AWS::Region') return s.region;
    if (o.Ref === 'AWS::AccountId') return s.account;
    if (o.Ref === 'AWS::Partition') return 'aws';
    if (o.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
    return undefined;
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    const r = parts.map((p) => resolve(p, s));
    return r.every((x) => x !== undefined) ? r.join(sep) : undefined;
  }
  return undefined;
}

const at = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);

/** Physical names AWS keeps unique per scope, with their documented maximum lengths. */
const NAMES: { type: string; path: string; scope: 'region' | 'account' | 'global'; max: number }[] = [
  { type: 'AWS::Budgets::Budget', path: 'Budget.BudgetName', scope: 'account', max: 100 },
  { type: 'AWS::SageMaker::Endpoint', path: 'EndpointName', scope: 'region', max: 63 },
  { type: 'AWS::SageMaker::EndpointConfig', path: 'EndpointConfigName', scope: 'region', max: 63 },
  { type: 'AWS::SageMaker::InferenceComponent', path: 'InferenceComponentName', scope: 'region', max: 63 },
  { type: 'AWS::SageMaker::Model', path: 'ModelName', scope: 'region', max: 63 },
  { type: 'AWS::OpenSearchService::Domain', path: 'DomainName', scope: 'region', max: 28 },
  { type: 'AWS::OpenSearchServerless::Collection', path: 'Name', scope: 'region', max: 32 },
  { type: 'AWS::OpenSearchServerless::AccessPolicy', path: 'Name', scope: 'region', max: 32 },
  { type: 'AWS::Logs::LogGroup', path: 'LogGroupName', scope: 'region', max: 512 },
  { type: 'AWS::Glue::Database', path: 'DatabaseInput.Name', scope: 'region', max: 255 },
  { type: 'AWS::Athena::WorkGroup', path: 'Name', scope: 'region', max: 128 },
  { type: 'AWS::S3::Bucket', path: 'BucketName', scope: 'global', max: 63 },
  { type: 'AWS::IAM::Role', path: 'RoleName', scope: 'account', max: 64 },
  { type: 'AWS::IAM::ManagedPolicy', path: 'ManagedPolicyName', scope: 'account', max: 128 },
  { type: 'AWS::SNS::Topic', path: 'TopicName', scope: 'region', max: 256 },
  { type: 'AWS::DynamoDB::Table', path: 'TableName', scope: 'region', max: 255 },
  { type: 'AWS::KinesisFirehose::DeliveryStream', path: 'DeliveryStreamName', scope: 'region', max: 64 },
  { type: 'AWS::BCMDataExports::Export', path: 'Export.Name', scope: 'account', max: 128 },
  { type: 'AWS::Lambda::Function', path: 'FunctionName', scope: 'region', max: 64 },
  { type: 'AWS::WAFv2::WebACL', path: 'Name', scope: 'region', max: 128 },
  { type: 'AWS::CE::AnomalyMonitor', path: 'MonitorName', scope: 'account', max: 1024 },
  { type: 'AWS::Bedrock::ApplicationInferenceProfile', path: 'InferenceProfileName', scope: 'region', max: 64 },
  { type: 'AWS::ApiGateway::ApiKey', path: 'Value', scope: 'region', max: 128 },
];

const scopeKey = (s: StackInfo, scope: 'region' | 'account' | 'global') =>
  scope === 'global' ? 'global' : scope === 'account' ? (s.account ?? `?${s.name}`) : `${s.account ?? `?${s.name}`}/${s.region ?? `?${s.name}`}`;

/** Over-long physical names and names used twice in one scope, across stacks; and how many names each type had. */
function nameProblems(stacks: readonly StackInfo[]): { problems: string[]; checked: Map<string, number> } {
  const seen = new Map<string, string>();
  const checked = new Map<string, number>();
  const problems: string[] = [];
  for (const s of stacks) {
    for (const [id, r] of Object.entries(s.resources)) {
      for (const n of NAMES.filter((x) => x.type === r.Type)) {
        const raw = at(r.Properties, n.path);
        if (raw === undefined) continue;
        const name = resolve(raw, s);
        if (name === undefined) continue; // decided at deploy (e.g. from the stack id): unique by construction
        checked.set(n.type, (checked.get(n.type) ?? 0) + 1);
        if (name.length > n.max) problems.push(`${s.name}/${id}: ${n.type} ${n.path} '${name}' is ${name.length} characters (max ${n.max})`);
        const key = `${n.type}|${scopeKey(s, n.scope)}|${name}`;
        if (seen.has(key)) problems.push(`${s.name}/${id}: ${n.type} '${name}' also in ${seen.get(key)} (unique per ${n.scope})`);
        seen.set(key, `${s.name}/${id}`);
      }
    }
  }
  return { problems, checked };
}

describe('every construct and option at once (examples/everything/app.ts)', () => {
  let assembly: CloudAssembly;
  let stacks: StackInfo[];
  beforeAll(() => {
    assembly = buildEverythingApp(mkdtempSync(join(tmpdir(), 'everything-'))).synth();
    stacks = assembly.stacks.map((a) => {
      const known = (v: string) => (v.startsWith('unknown-') ? undefined : v);
      return { name: a.stackName, account: known(a.environment.account), region: known(a.environment.region), resources: (a.template as { Resources: Record<string, Resource> }).Resources };
    });
  });
  const all = () => stacks.flatMap((s) => Object.entries(s.resources).map(([id, r]) => ({ s, id, r })));

  it('synthesises the five stacks, and every template matches the CloudFormation resource specification', () => {
    expect(stacks.map((s) => s.name).sort()).toEqual(['Agnostic', 'Billing', 'Europe', 'Production', 'Staging']);
    for (const a of assembly.stacks) expect({ stack: a.stackName, problems: specProblems(a.template) }).toEqual({ stack: a.stackName, problems: [] });
  });

  it('keeps every physical name within its length and unique where AWS requires (per Region, account or globally)', () => {
    const { problems, checked } = nameProblems(stacks);
    expect(problems).toEqual([]);
    // Not vacuous: the names the constructs set are read and compared.
    for (const type of ['AWS::Bedrock::ApplicationInferenceProfile', 'AWS::ApiGateway::ApiKey', 'AWS::SageMaker::Endpoint', 'AWS::Logs::LogGroup', 'AWS::Budgets::Budget']) {
      expect({ type, checked: (checked.get(type) ?? 0) > 0 }).toEqual({ type, checked: true });
    }
  });

  it('the name check finds a collision and an over-long name (the check itself)', () => {
    const fake = (name: string): StackInfo => ({
      name, account: '111122223333', region: 'us-east-1',
      resources: { P: { Type: 'AWS::Bedrock::ApplicationInferenceProfile', Properties: { InferenceProfileName: 'acme-nova-lite' } }, D: { Type: 'AWS::OpenSearchService::Domain', Properties: { DomainName: 'x'.repeat(29) } } },
    });
    expect(nameProblems([fake('A'), fake('B')]).problems).toEqual([
      "A/D: AWS::OpenSearchService::Domain DomainName 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is 29 characters (max 28)",
      "B/P: AWS::Bedrock::ApplicationInferenceProfile 'acme-nova-lite' also in A/P (unique per region)",
      "B/D: AWS::OpenSearchService::Domain DomainName 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is 29 characters (max 28)",
      "B/D: AWS::OpenSearchService::Domain 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxx' also in A/D (unique per region)",
    ]);
  });

  it('keeps usage-plan API key values 20-128 characters, even for a one-letter tenant', () => {
    const values = all().filter(({ r }) => r.Type === 'AWS::ApiGateway::ApiKey').map(({ s, r }) => resolve(r.Properties?.Value, s));
    expect(values.length).toBeGreaterThanOrEqual(80);
    expect(values.filter((v) => v === undefined || v.length < 20 || v.length > 128)).toEqual([]);
  });

  it('keeps each function\'s environment under Lambda\'s 4 KB, with 40 configured tenants', () => {
    for (const { s, id, r } of all().filter(({ r }) => r.Type === 'AWS::Lambda::Function')) {
      const vars = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      const bytes = Object.entries(vars).reduce((n, [k, v]) => n + k.length + (typeof v === 'string' ? Buffer.byteLength(v) : JSON.stringify(v).length), 0);
      expect({ fn: `${s.name}/${id}`, ok: bytes <= 4096 }).toEqual({ fn: `${s.name}/${id}`, ok: true });
    }
  });

  it('creates each one-per-account or one-per-Region resource at most once', () => {
    const count = (type: string, scope: 'region' | 'account', pick: (r: Resource) => boolean = () => true) => {
      const by = new Map<string, number>();
      for (const { s, r } of all()) if (r.Type === type && pick(r) && s.account) by.set(scopeKey(s, scope), (by.get(scopeKey(s, scope)) ?? 0) + 1);
      return Math.max(0, ...by.values());
    };
    expect(count('AWS::CE::AnomalyMonitor', 'account', (r) => r.Properties?.MonitorType === 'DIMENSIONAL' && r.Properties?.MonitorDimension === 'SERVICE')).toBeLessThanOrEqual(1);
    expect(count('AWS::ApiGateway::Account', 'region')).toBeLessThanOrEqual(1);
    expect(count('AWS::Logs::ResourcePolicy', 'region')).toBeLessThanOrEqual(10);
  });
});
