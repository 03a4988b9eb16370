import { CostExplorerClient, ListCostAllocationTagsCommand, UpdateCostAllocationTagsStatusCommand } from '@aws-sdk/client-cost-explorer';
import { mockClient } from 'aws-sdk-client-mock';
import { ENV_COST_ALLOCATION_TAGS } from '../../../lambda/contract';
import { costExplorerRegion, parseTagKeys, planTagActivation, type TagActivationReport } from '../../../lambda/core/finops/tag-activation';

const KEYS = ['llm-finops:tenant', 'llm-finops:team'];

/** The deployed handler module (lambda/handlers/tag-activator.ts) with its environment, against a mocked Cost Explorer. */
function loadHandler(): () => Promise<TagActivationReport> {
  process.env[ENV_COST_ALLOCATION_TAGS] = JSON.stringify(KEYS);
  // Required, not isolated: the module must share the SDK class that mockClient patched.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../../lambda/handlers/tag-activator').handler;
}

describe('cost allocation tag activator', () => {
  const ce = mockClient(CostExplorerClient);
  let lines: string[] = [];
  beforeEach(() => {
    ce.reset();
    lines = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s).trim()), true));
  });
  afterEach(() => jest.restoreAllMocks());
  const metric = () => JSON.parse(lines.find((l) => l.includes('"_aws"'))!).InactiveCostAllocationTags;

  it('activates the listed inactive keys and reports none pending', async () => {
    ce.on(ListCostAllocationTagsCommand).resolves({
      CostAllocationTags: [
        { TagKey: 'llm-finops:tenant', Type: 'UserDefined', Status: 'Inactive', LastUsedDate: '2026-11-30T00:00:00Z' },
        { TagKey: 'llm-finops:team', Type: 'UserDefined', Status: 'Inactive' },
      ],
    });
    ce.on(UpdateCostAllocationTagsStatusCommand).resolves({ Errors: [] });
    const report = await loadHandler()();
    expect(ce.commandCalls(ListCostAllocationTagsCommand)[0].args[0].input).toEqual({ TagKeys: KEYS, Type: 'UserDefined', NextToken: undefined });
    expect(ce.commandCalls(UpdateCostAllocationTagsStatusCommand)[0].args[0].input).toEqual({
      CostAllocationTagsStatus: [{ TagKey: 'llm-finops:tenant', Status: 'Active' }, { TagKey: 'llm-finops:team', Status: 'Active' }],
    });
    expect(report).toMatchObject({ activated: KEYS, alreadyActive: [], pending: [] });
    expect(metric()).toBe(0);
  });

  it('reports a key AWS has not seen yet and a key it refused, without failing, and counts both for the alarm', async () => {
    ce.on(ListCostAllocationTagsCommand)
      .resolvesOnce({ CostAllocationTags: [{ TagKey: 'llm-finops:tenant', Type: 'UserDefined', Status: 'Inactive' }], NextToken: 'p2' })
      .resolvesOnce({ CostAllocationTags: [{ TagKey: 'aws:createdBy', Type: 'AWSGenerated', Status: 'Active' }] });
    ce.on(UpdateCostAllocationTagsStatusCommand).resolves({ Errors: [{ TagKey: 'llm-finops:tenant', Code: 'TagKeysNotFoundException', Message: 'Tag key not found' }] });
    const report = await loadHandler()();
    expect(ce.commandCalls(ListCostAllocationTagsCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'p2']);
    expect(report.activated).toEqual([]);
    expect(report.pending).toEqual([
      { key: 'llm-finops:tenant', reason: 'refused', detail: 'TagKeysNotFoundException: Tag key not found' },
      { key: 'llm-finops:team', reason: 'not-seen-yet', detail: expect.stringContaining('up to 24 hours after first use') },
    ]);
    expect(metric()).toBe(2);
    expect(JSON.parse(lines[0])).toMatchObject({ _type: 'llm_finops_tag_activation' });
  });

  it('does nothing when every key is active', async () => {
    ce.on(ListCostAllocationTagsCommand).resolves({ CostAllocationTags: KEYS.map((TagKey) => ({ TagKey, Type: 'UserDefined', Status: 'Active' })) });
    const report = await loadHandler()();
    expect(ce.commandCalls(UpdateCostAllocationTagsStatusCommand)).toHaveLength(0);
    expect(report.alreadyActive).toEqual(KEYS);
    expect(metric()).toBe(0);
  });

  it('in a member account (access denied) reports every key with what to do, and does not throw', async () => {
    ce.on(ListCostAllocationTagsCommand).rejects(Object.assign(new Error('User: arn:aws:sts::111122223333:assumed-role/x is not authorized to perform: ce:ListCostAllocationTags'), { name: 'AccessDeniedException' }));
    const report = await loadHandler()();
    expect(report.pending.map((p) => p.reason)).toEqual(['access-denied', 'access-denied']);
    expect(report.pending[0].detail).toContain('activate the key from the management account');
    // Not counted as inactive keys (InactiveTagsAlarm would fire after 30 h and never clear): a metric of its own, and the command.
    const emf = JSON.parse(lines.find((l) => l.includes('"_aws"'))!);
    expect(emf).toMatchObject({ TagActivationNotPermitted: 1, _aws: { CloudWatchMetrics: [{ Metrics: [{ Name: 'TagActivationNotPermitted', Unit: 'Count' }] }] } });
    expect(emf.InactiveCostAllocationTags).toBeUndefined();
    expect(JSON.parse(lines.find((l) => l.includes('llm_finops_tag_activation'))!).fix)
      .toBe('from the management account: aws ce update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=llm-finops:tenant,Status=Active TagKey=llm-finops:team,Status=Active');
  });

  it('throws on an unexpected error (throttling), so the schedule retries', async () => {
    ce.on(ListCostAllocationTagsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(loadHandler()()).rejects.toThrow('Rate exceeded');
  });

  it('refuses bad key settings at cold start and ignores AWS-generated keys of the same name', () => {
    expect(() => parseTagKeys(undefined)).toThrow('not JSON');
    expect(() => parseTagKeys('[]')).toThrow('non-empty JSON array');
    expect(() => parseTagKeys('["a", 3]')).toThrow('non-empty JSON array');
    expect(planTagActivation(['k'], [{ TagKey: 'k', Type: 'AWSGenerated', Status: 'Active' }])).toEqual({ active: [], toActivate: [], notSeen: ['k'] });
  });
});

describe('costExplorerRegion', () => {
  it('calls Cost Explorer where its partition serves it: us-east-1, or cn-northwest-1 from a China Region', () => {
    expect(costExplorerRegion('eu-west-1')).toBe('us-east-1');
    expect(costExplorerRegion(undefined)).toBe('us-east-1');
    expect(costExplorerRegion('cn-north-1')).toBe('cn-northwest-1');
    expect(costExplorerRegion('cn-northwest-1')).toBe('cn-northwest-1');
  });
});

