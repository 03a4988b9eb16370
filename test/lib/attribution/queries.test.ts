import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributionDb } from '../../../bin/attribution-db';
import { ATTRIBUTION_QUERIES, renderQuery, spendBy } from '../../../lib/attribution/queries';
import { curResourceTagKey } from '../../../lib/attribution/schema';
import { type CurLine, usageRecord as rec, writeCur, writeFocus, writeUsage } from '../../support/attribution-data';

const QWEN = 'arn:aws:sagemaker:us-east-1:111122223333:endpoint/llm-finops-qwen-inf2';
const OTHER = 'arn:aws:sagemaker:us-east-1:111122223333:endpoint/other-ep';
const PROFILE = 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/acme0sonnet';
const acmeTag = { user_llm_finops_tenant: 'acme' };
const PT = 'arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123def456';

/** CUR 2.0 lines with real usage-type strings; costs chosen so every expected total is computed by hand below. */
const CUR: Record<string, CurLine[]> = {
  '2026-11': [
    // Claude Sonnet 4.5 through acme's application inference profile: the four token types, $15.5925 in all.
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-Claude4.5Sonnet-input-tokens', line_item_usage_amount: 2_000_000, line_item_unblended_cost: 6.6, line_item_resource_id: PROFILE, resource_tags: acmeTag },
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-Claude4.5Sonnet-output-tokens', line_item_usage_amount: 500_000, line_item_unblended_cost: 8.25, line_item_resource_id: PROFILE, resource_tags: acmeTag },
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-Claude4.5Sonnet-cache-read-input-token-count', line_item_usage_amount: 1_000_000, line_item_unblended_cost: 0.33, line_item_resource_id: PROFILE, resource_tags: acmeTag },
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-Claude4.5Sonnet-cache-write-input-token-count', line_item_usage_amount: 100_000, line_item_unblended_cost: 0.4125, line_item_resource_id: PROFILE, resource_tags: acmeTag },
    // Nova Lite, untagged: $1.08.
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-input-tokens', line_item_usage_amount: 10_000_000, line_item_unblended_cost: 0.6 },
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-output-tokens', line_item_usage_amount: 2_000_000, line_item_unblended_cost: 0.48 },
    // A third-party model billed through AWS Marketplace: $0.75.
    { line_item_product_code: 'prod-abc123', line_item_usage_type: 'USE1-MP:USE1_OutputTokenCount-Units', line_item_usage_amount: 50_000, line_item_unblended_cost: 0.75, product: { product_name: 'Claude 3 Haiku (Amazon Bedrock Edition)' } },
    // SageMaker hosting: the gateway's inf2 endpoint all month, another endpoint 10 h; the volume is not hosting.
    { line_item_product_code: 'AmazonSageMaker', line_item_usage_type: 'USE1-Host:ml.inf2.xlarge', line_item_operation: 'RunInstance', line_item_usage_amount: 720, line_item_unblended_cost: 712.8, line_item_resource_id: QWEN },
    { line_item_product_code: 'AmazonSageMaker', line_item_usage_type: 'USE1-Host:ml.g5.xlarge', line_item_operation: 'RunInstance', line_item_usage_amount: 10, line_item_unblended_cost: 14.08, line_item_resource_id: OTHER },
    { line_item_product_code: 'AmazonSageMaker', line_item_usage_type: 'USE1-Host:VolumeUsage.gp2', line_item_usage_amount: 50, line_item_unblended_cost: 5, line_item_resource_id: QWEN },
    { line_item_product_code: 'AmazonEC2', line_item_usage_type: 'USE1-BoxUsage:m5.large', line_item_usage_amount: 720, line_item_unblended_cost: 69.12 },
  ],
  '2026-10': [
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-input-tokens', line_item_usage_amount: 100_000_000, line_item_unblended_cost: 6 },
    { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-output-tokens', line_item_usage_amount: 16_666_667, line_item_unblended_cost: 4 },
  ],
};

const NOV = '2026-11-15T10:00:00.000Z';
const bedrock = (tenant: string, feature: string, micros: number, extra: Parameters<typeof rec>[0] = {}) =>
  rec({ tenant, feature, cost_micros: micros, cost_usd: micros / 1e6, ...extra });
const USAGE = [
  bedrock('acme', 'chat', 4_000_000, { end_user: 'u1', input_tokens: 1000, output_tokens: 500, baseline_cost_micros: 10_000_000 }),
  bedrock('acme', 'chat', 3_000_000, { end_user: 'u2', input_tokens: 1000, output_tokens: 500, baseline_cost_micros: 10_000_000 }),
  bedrock('acme', 'chat', 2_000_000, { end_user: 'u1', input_tokens: 1000, output_tokens: 500, baseline_cost_micros: 10_000_000 }),
  bedrock('globex', 'search', 3_500_000, { end_user: 'g1', input_tokens: 2000, baseline_cost_micros: 8_000_000, team: 'search-team' }),
  bedrock('globex', 'search', 2_500_000, { end_user: 'g2', input_tokens: 2000, baseline_cost_micros: 8_000_000, team: 'search-team' }),
  // A cache hit: no upstream, the baseline call avoided.
  rec({ ts: NOV, tenant: 'acme', feature: 'chat', provider: 'cache', provider_type: null, upstream_model: null, cache: 'hit-exact', cost_basis: 'none', baseline_cost_micros: 5_000_000 }),
  // The self-hosted endpoint: acme 360 h of upstream time, globex 180 h (name as configured, mixed case).
  rec({ tenant: 'acme', feature: 'chat', provider: 'sagemaker', provider_type: 'sagemaker', model: 'qwen-inf2', upstream_model: 'LLM-FinOps-Qwen-INF2', cost_basis: 'instance_hour', upstream_ms: 648_000_000, baseline_cost_micros: 1_000_000 }),
  rec({ tenant: 'acme', feature: 'chat', provider: 'sagemaker', provider_type: 'sagemaker', model: 'qwen-inf2', upstream_model: 'LLM-FinOps-Qwen-INF2', cost_basis: 'instance_hour', upstream_ms: 648_000_000, baseline_cost_micros: 1_000_000 }),
  rec({ tenant: 'globex', feature: 'search', team: 'search-team', provider: 'sagemaker', provider_type: 'sagemaker', model: 'qwen-inf2', upstream_model: 'LLM-FinOps-Qwen-INF2', cost_basis: 'instance_hour', upstream_ms: 648_000_000 }),
  // External providers, priced by the gateway.
  rec({ ts: '2026-11-20T08:00:00.000Z', tenant: 'acme', feature: 'chat', provider: 'openai', provider_type: 'openai-compatible', model: 'gpt-4o-mini', upstream_model: 'gpt-4o-mini', input_tokens: 10_000, output_tokens: 2_000, cost_micros: 1_234_567, baseline_cost_micros: 2_000_000 }),
  rec({ ts: '2026-11-20T09:00:00.000Z', tenant: 'globex', feature: 'search', team: 'search-team', provider: 'anthropic', provider_type: 'openai-compatible', model: 'claude-haiku', upstream_model: 'claude-haiku-4-5', input_tokens: 3_000, output_tokens: 1_000, cost_micros: 765_433 }),
  // October: the gateway estimated $12.50 of Bedrock, the bill says $10.
  bedrock('acme', 'batch', 8_000_000, { ts: '2026-10-10T10:00:00.000Z' }),
  bedrock('globex', 'batch', 4_500_000, { ts: '2026-10-10T11:00:00.000Z' }),
  // Not a request: a feedback line in the same log.
  { type: 'feedback', ts: NOV, request_id: 'r-x', tenant: 'acme', score: 1, model: null, prompt: null },
];

const FOCUS = [
  { BillingPeriodStart: '2026-11-01 00:00:00', ChargePeriodStart: '2026-11-15 00:00:00', ChargePeriodEnd: '2026-11-16 00:00:00', ProviderName: 'AWS', PublisherName: 'AWS', ServiceName: 'Amazon Bedrock', ServiceCategory: 'AI and Machine Learning', ChargeCategory: 'Usage', ResourceId: PROFILE, ConsumedQuantity: 3_600_000, ConsumedUnit: 'Tokens', BilledCost: 15.5925, EffectiveCost: 15.5925, BillingCurrency: 'USD', Tags: { 'user:llm-finops:tenant': 'acme', 'user:llm-finops:feature': 'chat' } },
  { BillingPeriodStart: '2026-11-01 00:00:00', ChargePeriodStart: '2026-11-15 00:00:00', ChargePeriodEnd: '2026-11-16 00:00:00', ProviderName: 'AWS', PublisherName: 'AWS', ServiceName: 'Amazon SageMaker', ServiceCategory: 'AI and Machine Learning', ChargeCategory: 'Usage', ResourceId: QWEN, ConsumedQuantity: 24, ConsumedUnit: 'Hours', BilledCost: 23.76, EffectiveCost: 23.76, BillingCurrency: 'USD' },
];

const cents = (x: number) => Math.round(x * 100);

describe('attribution SQL on DuckDB (the Athena named queries)', () => {
  let dir: string;
  let db: AttributionDb;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'attribution-'));
    writeUsage(join(dir, 'usage', 'gateway-2026-11.jsonl'), USAGE);
    await writeCur(join(dir, 'cur'), CUR);
    await writeFocus(join(dir, 'focus'), FOCUS);
    db = await AttributionDb.open({ usage: [join(dir, 'usage')], cur: join(dir, 'cur'), focus: join(dir, 'focus') });
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('spend by dimension: every request once (feedback lines skipped), money summed in micro-dollars', async () => {
    const rows = await db.named('spend-by-dimension');
    expect(rows.find((r) => r.day === '2026-11-15' && r.tenant === 'acme' && r.model === 'nova-lite')).toEqual({
      day: '2026-11-15', tenant: 'acme', feature: 'chat', team: '', model: 'nova-lite', requests: 4, input_tokens: 3000, output_tokens: 1500, cost_usd: 9,
    });
    expect(rows.reduce((n, r) => n + (r.requests as number), 0)).toBe(13);
    // 9 + 6 + 1.234567 + 0.765433 + 8 + 4.5
    expect(rows.reduce((n, r) => n + Math.round((r.cost_usd as number) * 1e6), 0)).toBe(29_500_000);
  });

  it('unit economics: per request, per 1k tokens and per active end user', async () => {
    const acme = (await db.named('unit-economics')).find((r) => r.tenant === 'acme' && r.feature === 'chat')!;
    // 3 Bedrock + 1 cache hit + 2 self-hosted + 1 OpenAI; users u1, u2; $9 + $1.234567; 4,500 + 12,000 tokens
    expect(acme).toMatchObject({ requests: 7, active_users: 2, tokens: 16_500 });
    expect(acme.cost_usd).toBeCloseTo(10.234567, 9);
    expect(acme.cost_per_request_usd).toBeCloseTo(10.234567 / 7, 9);
    expect(acme.cost_per_1k_tokens_usd).toBeCloseTo(10.234567 / 16.5, 9);
    expect(acme.cost_per_active_user_usd).toBeCloseTo(10.234567 / 2, 9);
  });

  it('savings: cache hits save the baseline call, routing saves baseline minus actual, self-hosted baseline apart', async () => {
    const acme = (await db.named('savings')).find((r) => r.tenant === 'acme' && r.feature === 'chat')!;
    expect(acme).toMatchObject({ requests: 7, cache_hits: 1, baseline_usd: 39, saved_by_cache_usd: 5, self_hosted_baseline_usd: 2 });
    expect(acme.actual_usd).toBeCloseTo(10.234567, 9);
    // Bedrock 30 - 9, OpenAI 2 - 1.234567
    expect(acme.saved_by_routing_usd).toBeCloseTo(21.765433, 9);
  });

  it('Bedrock spend from CUR: the four token types of a model summed, by tenant tag, Marketplace-billed models included', async () => {
    const rows = await db.named('bedrock-spend');
    const sonnet = rows.filter((r) => r.billing_period === '2026-11' && r.model === 'Claude4.5Sonnet');
    expect(sonnet.map((r) => [r.token_type, r.tenant_tag, r.cost_usd]).sort()).toEqual([
      ['cache_read', 'acme', 0.33], ['cache_write', 'acme', 0.4125], ['input', 'acme', 6.6], ['output', 'acme', 8.25],
    ]);
    for (const r of sonnet) expect(r.model_total_usd).toBeCloseTo(15.5925, 9);
    const nova = rows.filter((r) => r.billing_period === '2026-11' && r.model === 'NovaLite');
    expect(nova.map((r) => r.tenant_tag)).toEqual(['', '']);
    expect(nova[0].model_total_usd).toBeCloseTo(1.08, 9);
    expect(rows.find((r) => r.model === 'USE1-MP:USE1_OutputTokenCount-Units')).toMatchObject({ token_type: 'other', cost_usd: 0.75 });
    const nov = rows.filter((r) => r.billing_period === '2026-11').reduce((n, r) => n + (r.cost_usd as number), 0);
    expect(cents(nov)).toBe(cents(17.4225));
  });

  it('SageMaker hosting from CUR: instance-hours and cost per endpoint, volumes left out', async () => {
    expect(await db.named('sagemaker-hosting')).toEqual([
      { billing_period: '2026-11', endpoint: 'llm-finops-qwen-inf2', instance_type: 'ml.inf2.xlarge', instance_hours: 720, cost_usd: 712.8 },
      { billing_period: '2026-11', endpoint: 'other-ep', instance_type: 'ml.g5.xlarge', instance_hours: 10, cost_usd: 14.08 },
    ]);
  });

  it('reconciliation: the bill allocated to tenants with idle and unattributed rows, summing to CUR to the cent', async () => {
    const rows = await db.named('reconciliation');
    const get = (period: string, service: string, resource: string, tenant: string) =>
      rows.find((r) => r.billing_period === period && r.service === service && r.resource === resource && r.tenant === tenant)?.allocated_usd as number;
    // November Bedrock: CUR $17.4225 above the gateway's $15: tenants pay what they used, $2.4225 unattributed.
    expect(get('2026-11', 'bedrock', '(all models)', 'acme')).toBeCloseTo(9, 9);
    expect(get('2026-11', 'bedrock', '(all models)', 'globex')).toBeCloseTo(6, 9);
    expect(get('2026-11', 'bedrock', '(all models)', '(unattributed)')).toBeCloseTo(2.4225, 9);
    // October: CUR $10 below the gateway's $12.50: shares scaled by 0.8, nothing unattributed.
    expect(get('2026-10', 'bedrock', '(all models)', 'acme')).toBeCloseTo(6.4, 9);
    expect(get('2026-10', 'bedrock', '(all models)', 'globex')).toBeCloseTo(3.6, 9);
    expect(get('2026-10', 'bedrock', '(all models)', '(unattributed)')).toBeCloseTo(0, 9);
    // The inf2 endpoint: 720 instance-hours, 540 h of requests (acme 360, globex 180), 180 h idle.
    expect(get('2026-11', 'sagemaker', 'llm-finops-qwen-inf2', 'acme')).toBeCloseTo(356.4, 9);
    expect(get('2026-11', 'sagemaker', 'llm-finops-qwen-inf2', 'globex')).toBeCloseTo(178.2, 9);
    expect(get('2026-11', 'sagemaker', 'llm-finops-qwen-inf2', '(idle)')).toBeCloseTo(178.2, 9);
    // An endpoint the gateway never called is all idle.
    expect(get('2026-11', 'sagemaker', 'other-ep', '(idle)')).toBeCloseTo(14.08, 9);
    const total = (period: string, service: string) => rows.filter((r) => r.billing_period === period && r.service === service).reduce((n, r) => n + (r.allocated_usd as number), 0);
    expect(cents(total('2026-11', 'bedrock'))).toBe(1742); // 17.4225 -> $17.42
    expect(cents(total('2026-11', 'sagemaker'))).toBe(72688); // 712.80 + 14.08
    expect(cents(total('2026-10', 'bedrock'))).toBe(1000);
    expect(rows).toHaveLength(10);
  });

  it('FOCUS view: AWS FOCUS rows and gateway rows for external providers, with x_tenant, x_feature, x_team', async () => {
    const rows = await db.named('focus');
    expect(rows).toHaveLength(4);
    expect(rows.filter((r) => r.x_source === 'aws-focus').map((r) => [r.ServiceName, r.x_tenant, r.x_feature, r.BilledCost])).toEqual([
      ['Amazon Bedrock', 'acme', 'chat', 15.5925], ['Amazon SageMaker', '', '', 23.76],
    ]);
    const gw = rows.filter((r) => r.x_source === 'gateway');
    expect(gw.find((r) => r.ProviderName === 'openai')).toMatchObject({
      BillingPeriodStart: '2026-11-01T00:00:00.000Z', ChargePeriodStart: '2026-11-20T00:00:00.000Z', ChargePeriodEnd: '2026-11-21T00:00:00.000Z',
      ServiceCategory: 'AI and Machine Learning', ChargeCategory: 'Usage', ResourceId: 'gpt-4o-mini', ConsumedQuantity: 12_000, ConsumedUnit: 'Tokens',
      BilledCost: 1.234567, BillingCurrency: 'USD', x_tenant: 'acme', x_feature: 'chat', x_team: '',
    });
    expect(gw.find((r) => r.ProviderName === 'anthropic')).toMatchObject({ x_tenant: 'globex', x_team: 'search-team', BilledCost: 0.765433 });
    expect(await db.named('focus-gateway')).toHaveLength(2);
  });

  it('groups spend by any dimensions, and refuses unknown ones, missing tables and unfilled placeholders', async () => {
    const byTenant = await db.query(spendBy(['month', 'tenant']));
    expect(byTenant.find((r) => r.month === '2026-11' && r.tenant === 'acme')).toMatchObject({ requests: 7, cost_usd: 10.234567 });
    expect(() => spendBy(['planet'])).toThrow('unknown dimension(s) planet');
    const usageOnly = await AttributionDb.open({ usage: [join(dir, 'usage')] });
    try {
      await expect(usageOnly.named('reconciliation')).rejects.toThrow("query 'reconciliation' needs --cur");
    } finally {
      usageOnly.close();
    }
    expect(() => renderQuery('SELECT * FROM {{usage}} WHERE x = {{nope}}', { usage: 'u' })).toThrow('renderQuery: no value for nope');
    expect(ATTRIBUTION_QUERIES.map((q) => q.name)).toEqual(['spend-by-dimension', 'unit-economics', 'savings', 'savings-by-lever', 'bedrock-spend', 'sagemaker-hosting', 'reconciliation', 'focus', 'focus-gateway']);
    expect(curResourceTagKey('llm-finops:tenant')).toBe('user_llm_finops_tenant');
  });
});

describe('reconciliation of a Bedrock Provisioned Throughput (committed hours apportioned by tokens, idle apart)', () => {
  let dir: string;
  let db: AttributionDb;
  const pt = (ts: string, tenant: string, tokens: [number, number]) => rec({
    ts, tenant, feature: 'chat', provider: 'br', provider_type: 'bedrock', model: 'sonnet-pt', upstream_model: PT.toUpperCase().replace('ARN:AWS:BEDROCK', 'arn:aws:bedrock'),
    cost_basis: 'commitment', cost_micros: 0, cost_usd: 0, input_tokens: tokens[0], output_tokens: tokens[1],
  });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'attribution-pt-'));
    // acme 6,000 tokens in the 10:00 hour, globex 2,000 at 11:00, on the commitment ($0 each at the margin); the
    // upstream id as configured may differ in case from the CUR resource id.
    writeUsage(join(dir, 'usage', 'gateway.jsonl'), [
      pt('2026-11-15T10:05:00.000Z', 'acme', [2000, 1000]), pt('2026-11-15T10:45:00.000Z', 'acme', [2000, 1000]), pt('2026-11-15T11:30:00.000Z', 'globex', [1500, 500]),
    ]);
    await writeCur(join(dir, 'cur'), {
      '2026-11': [
        // Held all month: 1 model unit x 720 h x $40 = $28,800, beside $1.08 of on-demand Nova Lite nobody recorded.
        { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-ProvisionedThroughput-ModelUnits', line_item_usage_amount: 720, line_item_unblended_cost: 28_800, line_item_resource_id: PT, line_item_usage_end_date: '2026-12-01 00:00:00' },
        { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-input-tokens', line_item_usage_amount: 10_000_000, line_item_unblended_cost: 1.08 },
      ],
    });
    db = await AttributionDb.open({ usage: [join(dir, 'usage')], cur: join(dir, 'cur') });
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shares the hours it was used by tokens and keeps the rest as its idle row; on-demand Bedrock stays apart (hand-computed)', async () => {
    const rows = (await db.named('reconciliation')).map((r) => [r.service, r.resource, r.tenant, Math.round((r.allocated_usd as number) * 1e6) / 1e6]);
    // Used in 2 of its 720 hours: $28,800 x 2/720 = $80 shared 6,000 : 2,000 ($60 acme, $20 globex), $28,720 idle.
    expect(rows).toEqual([
      ['bedrock', '(all models)', '(unattributed)', 1.08],
      ['bedrock-provisioned', PT, '(idle)', 28_720],
      ['bedrock-provisioned', PT, 'acme', 60],
      ['bedrock-provisioned', PT, 'globex', 20],
    ]);
  });
});

describe('reconciliation with batch lines (Bedrock batch inference billed at half, recorded at the batch price)', () => {
  it('allocates the bill by what each tenant\'s lines cost at the price they were billed at, batch lines at the batch price (hand-computed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attribution-batch-'));
    try {
      // acme: live Nova Lite calls, $2.00 at on-demand. globex: a batch of the same tokens, $1.00 at the batch price
      // (savings.batch the other $1.00). The bill: $3.00 of Bedrock, as Bedrock charged the two.
      writeUsage(join(dir, 'usage', 'gateway.jsonl'), [
        rec({ tenant: 'acme', cost_micros: 2_000_000, cost_usd: 2, input_tokens: 25_000_000 }),
        rec({ tenant: 'globex', api: 'batch', batch_id: 'batch_1', batch_custom_id: 'c1', cost_micros: 1_000_000, cost_usd: 1, input_tokens: 25_000_000 }),
      ]);
      await writeCur(join(dir, 'cur'), {
        '2026-11': [
          { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-input-tokens', line_item_usage_amount: 25_000_000, line_item_unblended_cost: 2 },
          { line_item_product_code: 'AmazonBedrock', line_item_usage_type: 'USE1-NovaLite-input-tokens', line_item_usage_amount: 25_000_000, line_item_unblended_cost: 1 },
        ],
      });
      const db = await AttributionDb.open({ usage: [join(dir, 'usage')], cur: join(dir, 'cur') });
      try {
        const rows = (await db.named('reconciliation')).map((r) => [r.service, r.tenant, Math.round((r.allocated_usd as number) * 1e6) / 1e6]);
        // Had the batch line been priced on demand ($2.00), globex would be allocated $1.50 of a bill it caused $1.00 of.
        expect(rows).toEqual([['bedrock', '(unattributed)', 0], ['bedrock', 'acme', 2], ['bedrock', 'globex', 1]]);
        const byApi = await db.query(spendBy(['api']));
        expect(byApi.find((r) => r.api === 'batch')).toMatchObject({ requests: 1, cost_usd: 1 });
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('savings by lever on DuckDB (the savings-by-lever named query, report --savings)', () => {
  it('sums each lever per day, tenant, feature, team and model, counting records without savings apart (hand-computed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'savings-'));
    const zero = { cache: 0, routing: 0, cascade: 0, context: 0, prompt_cache: 0, commitment: 0, batch: 0, failed_attempts: 0 };
    writeUsage(join(dir, 'usage.jsonl'), [
      // Routed to nova-lite: 25,000 baseline, 2,000 spent.
      rec({ cost_micros: 2000, baseline_cost_micros: 25_000, savings: { ...zero, routing: 23_000 } }),
      // A cache hit of the same: the model would charge 2,000 now.
      rec({ cache: 'hit-exact', cost_micros: 0, baseline_cost_micros: 25_000, savings: { ...zero, routing: 23_000, cache: 2000 } }),
      // Trimmed context and gateway-placed prompt caching, after a failed attempt of 300.
      rec({ cost_micros: 1800, baseline_cost_micros: 9000, savings: { ...zero, routing: 6000, context: 1000, prompt_cache: 500, failed_attempts: -300 } }),
      // A semantic miss: its embedding (40) spent for nothing; a record from before savings existed.
      rec({ cost_micros: 2040, baseline_cost_micros: 2000, savings: { ...zero, cache: -40 } }),
      rec({ cost_micros: 1000, baseline_cost_micros: 4000 }),
      // Another day.
      rec({ ts: '2026-11-16T09:00:00.000Z', cost_micros: 120, baseline_cost_micros: 1300, savings: { ...zero, cascade: 1180 } }),
    ]);
    const db = await AttributionDb.open({ usage: [join(dir, 'usage.jsonl')] });
    try {
      const rows = await db.named('savings-by-lever');
      expect(rows).toEqual([
        {
          day: '2026-11-15', tenant: 'acme', feature: 'chat', team: '', model: 'nova-lite', requests: 5, requests_without_savings: 1,
          baseline_usd: 0.065, actual_usd: 0.00684, cache_usd: 0.00196, routing_usd: 0.052, cascade_usd: 0, context_usd: 0.001,
          prompt_cache_usd: 0.0005, commitment_usd: 0, batch_usd: 0, failed_attempts_usd: -0.0003, saved_usd: 0.05816,
        },
        {
          day: '2026-11-16', tenant: 'acme', feature: 'chat', team: '', model: 'nova-lite', requests: 1, requests_without_savings: 0,
          baseline_usd: 0.0013, actual_usd: 0.00012, cache_usd: 0, routing_usd: 0, cascade_usd: 0.00118, context_usd: 0,
          prompt_cache_usd: 0, commitment_usd: 0, batch_usd: 0, failed_attempts_usd: 0, saved_usd: 0.00118,
        },
      ]);
      // The levers add up to saved_usd, but for the record written before savings existed (0.003 of saved_usd).
      const day = rows[0];
      const levers = ['cache', 'routing', 'cascade', 'context', 'prompt_cache', 'commitment', 'batch', 'failed_attempts'].reduce((n, l) => n + (day[`${l}_usd`] as number), 0);
      expect(cents(levers * 1000)).toBe(cents((day.saved_usd as number) * 1000 - 3));
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
