import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GetProductsCommand, PricingClient, type Filter } from '@aws-sdk/client-pricing';
import { PRICE_CATALOG, type PriceCatalog } from '../lambda/core/pricing/catalog';
import { checkPrices, itemsFromOfferFile, type PriceCheck, type PriceListItem } from '../lambda/core/pricing/price-list';
import { UsageError } from './cli-support';

export const PRICES_USAGE = `  llm-finops prices check [--region R] [--offer-file FILE ...] [--json]
      Compare the price catalog with the AWS Price List (pricing:GetProducts for AmazonBedrock and AmazonSageMaker,
      credentials from the usual AWS chain; or offer files you downloaded) for Region R (us-east-1) and print every
      difference. Exit 0 when they agree, 1 when they differ.
`;

/**
 * Fetches the price list products the catalog can be checked against: per Bedrock entry that names its product
 * (model display name) and per SageMaker instance type of the Region. The Price List API is served from us-east-1.
 */
export async function fetchPriceList(client: PricingClient, catalog: PriceCatalog, region: string): Promise<PriceListItem[]> {
  const queries: { service: string; filters: Filter[] }[] = [
    ...catalog.models.filter((m) => m.provider === 'bedrock' && m.priceList).map((m) => ({
      service: 'AmazonBedrock',
      filters: [{ Type: 'TERM_MATCH' as const, Field: 'model', Value: m.priceList!.model }, { Type: 'TERM_MATCH' as const, Field: 'regionCode', Value: region }],
    })),
    ...catalog.instances.filter((i) => i.region === region).map((i) => ({
      service: 'AmazonSageMaker',
      filters: [{ Type: 'TERM_MATCH' as const, Field: 'instanceName', Value: i.id }, { Type: 'TERM_MATCH' as const, Field: 'regionCode', Value: region }],
    })),
  ];
  const items: PriceListItem[] = [];
  for (const q of queries) {
    let token: string | undefined;
    do {
      const out = await client.send(new GetProductsCommand({ ServiceCode: q.service, Filters: q.filters, FormatVersion: 'aws_v1', MaxResults: 100, NextToken: token }));
      for (const raw of out.PriceList ?? []) items.push(JSON.parse(raw) as PriceListItem);
      token = out.NextToken;
    } while (token);
  }
  return items;
}

export function formatPriceCheck(check: PriceCheck, region: string): string {
  const lines = [`price catalog vs AWS Price List (${region}): ${check.checked} entries checked, ${check.differences.length} difference(s)`];
  for (const d of check.differences) {
    lines.push(`  ${d.id} ${d.field}: catalog ${d.catalog ?? '(none)'}, price list ${d.priceList ?? '(none or ambiguous)'}${d.sku ? ` [sku ${d.sku}]` : ''}`);
  }
  if (check.notFound.length) lines.push(`  not in the price list for ${region}: ${check.notFound.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export async function pricesCommand(args: readonly string[], client: PricingClient = new PricingClient({ region: 'us-east-1' })): Promise<number> {
  if (args[0] !== 'check') throw new UsageError(`prices: unknown sub-command '${args[0] ?? ''}' (expected check)`);
  const { values } = parseArgs({
    args: args.slice(1),
    options: { region: { type: 'string' }, 'offer-file': { type: 'string', multiple: true }, json: { type: 'boolean' } },
  });
  const region = values.region ?? 'us-east-1';
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(region)) throw new UsageError(`--region: '${region}' is not an AWS Region code`);
  let items: PriceListItem[];
  if (values['offer-file']?.length) {
    items = values['offer-file'].flatMap((f) => {
      let offer: unknown;
      try {
        offer = JSON.parse(readFileSync(f, 'utf8'));
      } catch (err) {
        throw new UsageError(`--offer-file ${f}: ${(err as Error).message}`);
      }
      try {
        return itemsFromOfferFile(offer);
      } catch (err) {
        throw new UsageError(`--offer-file ${f}: ${(err as Error).message}`);
      }
    });
  } else {
    items = await fetchPriceList(client, PRICE_CATALOG, region);
  }
  const check = checkPrices(PRICE_CATALOG, items, region, Date.now());
  process.stdout.write(values.json ? `${JSON.stringify({ region, ...check }, null, 2)}\n` : formatPriceCheck(check, region));
  return check.differences.length ? 1 : 0;
}
