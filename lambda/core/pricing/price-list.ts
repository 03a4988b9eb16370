import type { CatalogModelEntry, PriceCatalog } from './catalog';

/**
 * The AWS Price List's products (pricing:GetProducts PriceList items, or an offer file's products and terms) checked
 * against the catalog. Pure: the CLI fetches the items (`llm-finops prices check`), this compares them.
 *
 * A Bedrock product names its model by display name (`model: "Nova 2.0 Lite"`), its token type in `inferenceType`
 * ("Input tokens", "Output tokens", cache reads and writes), its sale in `feature` ("On-demand Inference"), and global
 * cross-Region rates by a usage type ending in `-cross-region-global`. A SageMaker hosting product names its
 * instance in `instanceName` and its usage type `<region>-Host:<instance>`. Rows for batch, provisioned throughput,
 * other service tiers, other Regions or a price that is not yet effective are never substituted.
 */
export interface PriceListItem {
  readonly product: { readonly sku?: string; readonly attributes: Readonly<Record<string, string>> };
  readonly terms?: { readonly OnDemand?: Readonly<Record<string, PriceListTerm>> };
}

interface PriceListTerm {
  readonly effectiveDate?: string;
  readonly priceDimensions: Readonly<Record<string, { readonly unit: string; readonly pricePerUnit: Readonly<Record<string, string>>; readonly beginRange?: string }>>;
}

export interface PriceDifference {
  /** Catalog id (model or instance type). */
  readonly id: string;
  /** inputPerMTok, outputPerMTok, cacheReadPerMTok, cacheWritePerMTok (with a `global.` prefix for global rows), usdPerHour. */
  readonly field: string;
  readonly catalog: number | null;
  readonly priceList: number | null;
  readonly sku: string | null;
}

export interface PriceCheck {
  readonly checked: number;
  readonly differences: readonly PriceDifference[];
  /** Catalog entries the price list had no usable row for. */
  readonly notFound: readonly string[];
}

const TOKEN_FIELDS: Readonly<Record<string, 'inputPerMTok' | 'outputPerMTok' | 'cacheReadPerMTok' | 'cacheWritePerMTok'>> = {
  'input tokens': 'inputPerMTok',
  'output tokens': 'outputPerMTok',
  'cache read input tokens': 'cacheReadPerMTok',
  'cache write input tokens': 'cacheWritePerMTok',
};

/** Per-1M multiplier of a price list unit; undefined for units that are not token counts. */
function perMillion(unit: string): number | undefined {
  const u = unit.trim().toLowerCase();
  if (u === '1k tokens') return 1000;
  if (u === '1m tokens') return 1;
  if (u === 'tokens') return 1_000_000;
  return undefined;
}

/** The single on-demand USD rate of an item in force at `asOfMs`; undefined when there is none or it is tiered. */
function onDemandRate(item: PriceListItem, asOfMs: number): { usd: number; unit: string } | undefined {
  const terms = Object.values(item.terms?.OnDemand ?? {}).filter((t) => !t.effectiveDate || Date.parse(t.effectiveDate) <= asOfMs);
  if (terms.length !== 1) return undefined;
  const dims = Object.values(terms[0].priceDimensions);
  if (dims.length !== 1) return undefined;
  const usd = Number(dims[0].pricePerUnit.USD);
  return Number.isFinite(usd) ? { usd, unit: dims[0].unit } : undefined;
}

/** Rounds away float noise from unit conversions (prices have at most 6 decimals per 1M tokens). */
const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

export function bedrockPriceListRows(items: readonly PriceListItem[], entry: CatalogModelEntry, region: string, asOfMs: number): Map<string, { value: number; sku: string | null }> {
  const out = new Map<string, { value: number; sku: string | null }>();
  const name = entry.priceList?.model;
  if (!name) return out;
  for (const item of items) {
    const a = item.product.attributes;
    if (a.model !== name || a.regionCode !== region || a.feature !== 'On-demand Inference') continue;
    if (a.service_tier !== undefined && a.service_tier !== 'standard') continue;
    const field = TOKEN_FIELDS[(a.inferenceType ?? '').toLowerCase()];
    if (!field) continue;
    const usage = a.usagetype ?? '';
    if (/batch|provisioned|latency-optimized|flex|priority/i.test(usage)) continue;
    const key = /-cross-region-global$/.test(usage) ? `global.${field}` : field;
    const rate = onDemandRate(item, asOfMs);
    const mult = rate && perMillion(rate.unit);
    if (!rate || !mult) continue;
    // Two rows for one field (a second SKU) are ambiguous: fail closed by reporting neither.
    if (out.has(key)) {
      out.set(key, { value: NaN, sku: null });
      continue;
    }
    out.set(key, { value: round6(rate.usd * mult), sku: item.product.sku ?? null });
  }
  return out;
}

/**
 * Compares the catalog with price list items for one Region. Only entries that name their price list product
 * (`priceList.model` for Bedrock; every SageMaker instance of that Region) are checked.
 */
export function checkPrices(catalog: PriceCatalog, items: readonly PriceListItem[], region: string, asOfMs: number): PriceCheck {
  const differences: PriceDifference[] = [];
  const notFound: string[] = [];
  let checked = 0;
  for (const entry of catalog.models) {
    if (entry.provider !== 'bedrock' || !entry.priceList) continue;
    checked++;
    const rows = bedrockPriceListRows(items, entry, region, asOfMs);
    if (!rows.size) {
      notFound.push(entry.id);
      continue;
    }
    const ours = new Map<string, number | undefined>([
      ['inputPerMTok', entry.inputPerMTok], ['outputPerMTok', entry.outputPerMTok],
      ['cacheReadPerMTok', entry.cacheReadPerMTok], ['cacheWritePerMTok', entry.cacheWritePerMTok],
    ]);
    // A global row is compared with the entry's global rates, or with its own when it has none.
    const g = entry.globalProfile ?? entry;
    for (const f of ['inputPerMTok', 'outputPerMTok', 'cacheReadPerMTok', 'cacheWritePerMTok'] as const) ours.set(`global.${f}`, g[f]);
    for (const field of new Set([...ours.keys(), ...rows.keys()])) {
      const expected = ours.get(field);
      const row = rows.get(field);
      if (row === undefined) {
        // A missing in-Region row is a difference; a missing global row only means no global profile is sold.
        if (expected !== undefined && !field.startsWith('global.')) differences.push({ id: entry.id, field, catalog: expected, priceList: null, sku: null });
        continue;
      }
      if (expected === undefined || Number.isNaN(row.value) || round6(expected) !== row.value) {
        differences.push({ id: entry.id, field, catalog: expected ?? null, priceList: Number.isNaN(row.value) ? null : row.value, sku: row.sku });
      }
    }
  }
  for (const inst of catalog.instances) {
    if (inst.region !== region) continue;
    checked++;
    const rows = items.filter((i) => {
      const a = i.product.attributes;
      return a.instanceName === inst.id && a.regionCode === region && /-Host:ml\./.test(a.usagetype ?? '');
    });
    const rates = rows.map((i) => ({ rate: onDemandRate(i, asOfMs), sku: i.product.sku ?? null })).filter((r) => r.rate && /^hrs?$/i.test(r.rate.unit));
    if (rates.length !== 1) {
      if (!rates.length) notFound.push(inst.id);
      else differences.push({ id: inst.id, field: 'usdPerHour', catalog: inst.usdPerHour, priceList: null, sku: null });
      continue;
    }
    const value = round6(rates[0].rate!.usd);
    if (value !== round6(inst.usdPerHour)) differences.push({ id: inst.id, field: 'usdPerHour', catalog: inst.usdPerHour, priceList: value, sku: rates[0].sku });
  }
  return { checked, differences, notFound };
}

/** An offer file (the Price List bulk JSON: products by SKU, terms by SKU) as GetProducts-shaped items. */
export function itemsFromOfferFile(offer: unknown): PriceListItem[] {
  const o = offer as { products?: Record<string, { sku?: string; attributes?: Record<string, string> }>; terms?: { OnDemand?: Record<string, Record<string, PriceListTerm>> } };
  if (!o || typeof o !== 'object' || !o.products || typeof o.products !== 'object') throw new Error('not a Price List offer file: no "products" object');
  return Object.entries(o.products).map(([sku, p]) => ({
    product: { sku: p.sku ?? sku, attributes: p.attributes ?? {} },
    terms: { OnDemand: o.terms?.OnDemand?.[sku] ?? {} },
  }));
}
