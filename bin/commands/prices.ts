import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { GetProductsCommand, PricingClient, type Filter } from '@aws-sdk/client-pricing';
import { PRICE_CATALOG, type PriceCatalog } from '../../lambda/core/pricing/catalog';
import { checkPrices, itemsFromOfferFile, type PriceCheck, type PriceListItem } from '../../lambda/core/pricing/price-list';
import { action, collect, pages, UsageError } from '../cli-support';

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
    const raw = await pages<string>(async (NextToken) => {
      const out = await client.send(new GetProductsCommand({ ServiceCode: q.service, Filters: q.filters, FormatVersion: 'aws_v1', MaxResults: 100, NextToken }));
      return { items: (out.PriceList ?? []).map(String), next: out.NextToken };
    });
    for (const r of raw) items.push(JSON.parse(r) as PriceListItem);
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

function regionCode(v: string): string {
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(v)) throw new InvalidArgumentError('not an AWS Region code (e.g. us-east-1).');
  return v;
}

function offerItems(file: string): PriceListItem[] {
  let offer: unknown;
  try {
    offer = JSON.parse(readFileSync(file, 'utf8'));
    return itemsFromOfferFile(offer);
  } catch (err) {
    throw new UsageError(`--offer-file ${file}: ${(err as Error).message}`);
  }
}

/** `prices check`: the catalog against the AWS Price List. */
export function registerPricesCommands(program: Command): void {
  program
    .command('prices')
    .summary('check the price catalog against the AWS Price List')
    .command('check')
    .description(
      'Compare the price catalog with the AWS Price List (pricing:GetProducts for AmazonBedrock and AmazonSageMaker, credentials from the ' +
        'usual AWS chain; or offer files you downloaded) for one Region and print every difference. Exit 0 when they agree, 1 when they differ.',
    )
    .option('--region <region>', 'the Region whose prices to check', regionCode, 'us-east-1')
    .option('--offer-file <file>', 'a downloaded Price List offer file instead of the API (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(
      action<{ region: string; offerFile?: string[]; json?: boolean }>(async (o) => {
        const items = o.offerFile?.length ? o.offerFile.flatMap(offerItems) : await fetchPriceList(new PricingClient({ region: 'us-east-1' }), PRICE_CATALOG, o.region);
        const check = checkPrices(PRICE_CATALOG, items, o.region, Date.now());
        process.stdout.write(o.json ? `${JSON.stringify({ region: o.region, ...check }, null, 2)}\n` : formatPriceCheck(check, o.region));
        return check.differences.length ? 1 : 0;
      }),
    );
}
