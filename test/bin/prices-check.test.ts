import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../../bin/llm-finops';

/** A price list product as pricing:GetProducts returns it (one JSON string per item), with one on-demand rate. */
function product(sku: string, attributes: Record<string, string>, usd: string, unit: string, effectiveDate = '2026-11-01T00:00:00Z'): string {
  return JSON.stringify({
    product: { productFamily: 'ML Model Inference', sku, attributes: { servicecode: 'AmazonBedrock', regionCode: 'us-east-1', location: 'US East (N. Virginia)', ...attributes } },
    serviceCode: 'AmazonBedrock',
    terms: { OnDemand: { [`${sku}.JRTCKXETXF`]: {
      offerTermCode: 'JRTCKXETXF', sku, effectiveDate,
      priceDimensions: { [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: { unit, endRange: 'Inf', beginRange: '0', description: `${attributes.usagetype}`, appliesTo: [], rateCode: `${sku}.JRTCKXETXF.6YS6EN2CT7`, pricePerUnit: { USD: usd } } },
      termAttributes: {},
    } } },
    version: '20261101000000',
    publicationDate: '2026-11-01T00:00:00Z',
  });
}

const bedrock = (sku: string, model: string, inferenceType: string, usagetype: string, usd: string, feature = 'On-demand Inference') =>
  product(sku, { model, inferenceType, usagetype, feature, provider: 'Amazon' }, usd, '1K tokens');
const hosting = (sku: string, instanceName: string, usd: string) =>
  product(sku, { servicecode: 'AmazonSageMaker', instanceName, usagetype: `USE1-Host:${instanceName}`, component: 'Hosting', operation: 'RunInstance' }, usd, 'Hrs');

/** Realistic rows: matching ones, a changed output price, a global row, rows that must not be substituted. */
const ROWS: Record<string, string[]> = {
  'Nova Lite': [
    bedrock('NL1', 'Nova Lite', 'Input tokens', 'USE1-NovaLite-input-tokens', '0.0000600000'),
    bedrock('NL2', 'Nova Lite', 'Output tokens', 'USE1-NovaLite-output-tokens', '0.0002400000'),
    bedrock('NL3', 'Nova Lite', 'Cache read input tokens', 'USE1-NovaLite-cache-read-input-token-count', '0.0000150000'),
    bedrock('NL4', 'Nova Lite', 'Input tokens', 'USE1-NovaLite-input-tokens-batch', '0.0000300000', 'Batch Inference'),
  ],
  'Nova 2.0 Lite': [
    bedrock('N21', 'Nova 2.0 Lite', 'Input tokens', 'USE1-Nova2.0Lite-input-tokens', '0.00033'),
    bedrock('N22', 'Nova 2.0 Lite', 'Output tokens', 'USE1-Nova2.0Lite-output-tokens', '0.0030'),
    bedrock('N23', 'Nova 2.0 Lite', 'Input tokens', 'USE1-Nova2.0Lite-input-tokens-cross-region-global', '0.0003'),
    bedrock('N24', 'Nova 2.0 Lite', 'Output tokens', 'USE1-Nova2.0Lite-output-tokens-cross-region-global', '0.0025'),
  ],
  'ml.g5.xlarge': [hosting('G5X', 'ml.g5.xlarge', '1.4080000000')],
  'ml.inf2.xlarge': [hosting('INF2X', 'ml.inf2.xlarge', '0.9860000000')],
};

describe('llm-finops prices check', () => {
  const mock = mockClient(PricingClient);
  let out = '';
  let err = '';
  beforeEach(() => {
    mock.reset();
    out = '';
    err = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  });
  afterEach(() => jest.restoreAllMocks());

  it('queries the Price List per catalog product and prints every difference', async () => {
    mock.on(GetProductsCommand).callsFake((input: { Filters: { Field: string; Value: string }[]; NextToken?: string }) => {
      const key = input.Filters.find((f) => f.Field === 'model' || f.Field === 'instanceName')!.Value;
      const rows = ROWS[key] ?? [];
      // Two pages for Nova Lite, as the API pages at MaxResults.
      if (key === 'Nova Lite') return input.NextToken ? { PriceList: rows.slice(2) } : { PriceList: rows.slice(0, 2), NextToken: 'page-2' };
      return { PriceList: rows };
    });
    const code = await runCli(['prices', 'check', '--json']);
    const calls = mock.commandCalls(GetProductsCommand).map((c) => c.args[0].input);
    expect(calls[0]).toEqual({
      ServiceCode: 'AmazonBedrock', FormatVersion: 'aws_v1', MaxResults: 100, NextToken: undefined,
      Filters: [{ Type: 'TERM_MATCH', Field: 'model', Value: 'Claude 3 Haiku' }, { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'us-east-1' }],
    });
    expect(calls.filter((c) => c.Filters?.some((f) => f.Value === 'Nova Lite')).map((c) => c.NextToken)).toEqual([undefined, 'page-2']);
    expect(calls.find((c) => c.ServiceCode === 'AmazonSageMaker')?.Filters).toEqual([{ Type: 'TERM_MATCH', Field: 'instanceName', Value: 'ml.inf2.xlarge' }, { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'us-east-1' }]);
    const report = JSON.parse(out);
    expect(code).toBe(1);
    expect(report.differences).toEqual([
      // Nova 2 Lite's in-Region output rate moved: $0.0030 per 1K = $3.00 per 1M against the catalog's 2.75.
      { id: 'amazon.nova-2-lite-v1:0', field: 'outputPerMTok', catalog: 2.75, priceList: 3, sku: 'N22' },
      // The price list has no cache-read row for Nova 2 Lite here.
      { id: 'amazon.nova-2-lite-v1:0', field: 'cacheReadPerMTok', catalog: 0.0825, priceList: null, sku: null },
      { id: 'ml.inf2.xlarge', field: 'usdPerHour', catalog: 0.99, priceList: 0.986, sku: 'INF2X' },
    ]);
    expect(report.notFound).toEqual(expect.arrayContaining(['anthropic.claude-3-haiku-20240307-v1:0', 'amazon.nova-micro-v1:0', 'ml.g6.xlarge']));
    expect(report.notFound).not.toContain('amazon.nova-lite-v1:0');
  });

  it('reads downloaded offer files instead of calling the API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'offer-'));
    const file = join(dir, 'bedrock.json');
    const items = ROWS['Nova Lite'].map((r) => JSON.parse(r));
    writeFileSync(file, JSON.stringify({
      formatVersion: 'v1.0', offerCode: 'AmazonBedrock',
      products: Object.fromEntries(items.map((i) => [i.product.sku, i.product])),
      terms: { OnDemand: Object.fromEntries(items.map((i) => [i.product.sku, i.terms.OnDemand])) },
    }));
    const code = await runCli(['prices', 'check', '--offer-file', file]);
    expect(mock.commandCalls(GetProductsCommand)).toHaveLength(0);
    expect(out).toMatch(/^price catalog vs AWS Price List \(us-east-1\): \d+ entries checked, 0 difference\(s\)\n/);
    expect(out).toContain('not in the price list for us-east-1: anthropic.claude-3-haiku-20240307-v1:0');
    expect(code).toBe(0);
  });

  it('refuses a bad Region, sub-command or offer file as a usage error', async () => {
    expect(await runCli(['prices', 'check', '--region', 'moon-1'])).toBe(2);
    expect(err).toContain("error: option '--region <region>' argument 'moon-1' is invalid. not an AWS Region code (e.g. us-east-1).");
    expect(err).toContain('Usage: llm-finops prices check [options]');
    err = '';
    expect(await runCli(['prices', 'list'])).toBe(2);
    expect(err).toContain("error: unknown command 'list'");
    err = '';
    const dir = mkdtempSync(join(tmpdir(), 'offer-'));
    writeFileSync(join(dir, 'x.json'), '{"nope": 1}');
    expect(await runCli(['prices', 'check', '--offer-file', join(dir, 'x.json')])).toBe(2);
    expect(err).toContain('not a Price List offer file');
    expect(mock.commandCalls(GetProductsCommand)).toHaveLength(0);
  });
});
