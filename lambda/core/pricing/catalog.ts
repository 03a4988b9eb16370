import catalogData from './catalog.json';
import type { UsdTokenPrice } from './prices';

/** A model's retirement dates as its provider publishes them (OpenAI deprecations page, Bedrock model lifecycle). */
export interface ModelLifecycle {
  /** First day the provider no longer serves the model, ISO yyyy-mm-dd. */
  readonly shutdownOn: string;
  /** The provider's recommended replacement, as a provider-native id. */
  readonly replacement?: string;
  readonly source: string;
}

export interface CatalogModelEntry extends UsdTokenPrice {
  /** Provider-native model id (Bedrock model id, OpenAI or Anthropic model name). */
  readonly id: string;
  readonly provider: 'bedrock' | 'openai' | 'anthropic';
  readonly maxOutputTokens?: number;
  /**
   * Bedrock: the rates of global cross-Region profiles (`global.` ids) where they differ from the entry's own rates,
   * which are those of in-Region ids and geographic profiles (us., eu., apac., ...). Newer Anthropic and Nova models
   * cost about 10% less through global profiles.
   */
  readonly globalProfile?: UsdTokenPrice;
  readonly lifecycle?: ModelLifecycle;
  /**
   * How the AWS Price List names this model (`model` attribute of AmazonBedrock products), for `llm-finops prices
   * check`. Display names are not model ids; set only where the name is known.
   */
  readonly priceList?: { readonly model: string };
  /** Bedrock prompt caching: the minimum tokens per cache point, the points per request, whether a 1-hour TTL is offered. */
  readonly promptCache?: { readonly minTokens: number; readonly maxPoints: number; readonly ttl1h: boolean };
  readonly source: string;
  /** Date the price was read, ISO yyyy-mm-dd. */
  readonly asOf: string;
  /** false where public sources disagree or a figure is derived; see `note`. */
  readonly verified: boolean;
  /** false where the `serviceTiers` rows are derived (e.g. Bedrock Flex and Priority as shares of standard); see `note`. */
  readonly serviceTiersVerified?: boolean;
  readonly note?: string;
}

export interface CatalogInstanceEntry {
  /** SageMaker instance type (ml.inf2.xlarge), or an EC2 one (p5.48xlarge) for crossover. */
  readonly id: string;
  readonly usdPerHour: number;
  readonly region: string;
  readonly source: string;
  readonly asOf: string;
  readonly verified: boolean;
  readonly note?: string;
}

export interface PriceCatalog {
  readonly models: readonly CatalogModelEntry[];
  readonly instances: readonly CatalogInstanceEntry[];
}

export const PRICE_CATALOG: PriceCatalog = catalogData as PriceCatalog;

/**
 * How Bedrock bills an id: `in-region` (a foundation model id), `geo` (a geographic cross-Region profile: us., eu.,
 * apac., jp., au., ca., us-gov.) or `global` (global cross-Region profile). `none` for other providers' ids.
 */
export type ProfileClass = 'in-region' | 'geo' | 'global' | 'none';

const GEO_PREFIX = /^(us|eu|apac|us-gov|jp|au|ca)\./;
const GLOBAL_PREFIX = /^global\./;

/** The model id behind a Bedrock cross-Region profile id (`us.amazon.nova-lite-v1:0` -> `amazon.nova-lite-v1:0`); other ids as they are. */
export function baseModelId(id: string): string {
  return id.replace(GLOBAL_PREFIX, '').replace(GEO_PREFIX, '');
}

/** Whether an id names a Bedrock cross-Region inference profile (geographic or global). */
export function isProfileId(id: string): boolean {
  return baseModelId(id) !== id;
}

export function profileClassOf(id: string, entry: CatalogModelEntry | undefined): ProfileClass {
  if (GLOBAL_PREFIX.test(id)) return 'global';
  if (GEO_PREFIX.test(id)) return 'geo';
  return entry?.provider === 'bedrock' ? 'in-region' : 'none';
}

/** A catalog entry with the rates of the profile class the id is billed at. */
export interface CatalogPrice extends CatalogModelEntry {
  readonly profileClass: ProfileClass;
}

/**
 * Finds the catalog entry for a provider-native model id and prices it by profile class: a Bedrock cross-Region
 * profile id (`us.anthropic...`, `global.anthropic...`) resolves to its base model, at the global rates for a
 * `global.` id when the entry has them. Cross-Region inference is billed at the source Region's price
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html, read 2026-12-01).
 */
export function findCatalogPrice(id: string, catalog: PriceCatalog = PRICE_CATALOG): CatalogPrice | undefined {
  const base = baseModelId(id);
  const entry = catalog.models.find((m) => m.id === id) ?? catalog.models.find((m) => m.id === base);
  if (!entry) return undefined;
  const profileClass = profileClassOf(id, entry);
  if (profileClass === 'global' && entry.globalProfile) return { ...entry, ...entry.globalProfile, profileClass };
  return { ...entry, profileClass };
}

/** Days from `nowMs` to a lifecycle date (negative once past). */
export function daysUntil(isoDate: string, nowMs: number): number {
  return Math.floor((Date.parse(`${isoDate}T00:00:00Z`) - nowMs) / 86_400_000);
}
