import catalogData from './catalog.json';
import type { UsdTokenPrice } from './prices';

export interface CatalogModelEntry extends UsdTokenPrice {
  /** Provider-native model id (Bedrock model id, OpenAI or Anthropic model name). */
  readonly id: string;
  readonly provider: 'bedrock' | 'openai' | 'anthropic';
  readonly maxOutputTokens?: number;
  readonly source: string;
  /** Date the price was read, ISO yyyy-mm-dd. */
  readonly asOf: string;
  /** false where public sources disagree; see `note`. */
  readonly verified: boolean;
  readonly note?: string;
}

export interface CatalogInstanceEntry {
  /** SageMaker instance type, e.g. ml.inf2.xlarge. */
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

const BEDROCK_PROFILE_PREFIX = /^(us|eu|apac|us-gov|jp|au|ca|global)\./;

/**
 * Finds the catalog entry for a provider-native model id. Bedrock cross-region inference profile ids
 * (`us.anthropic...`, `global.anthropic...`) are priced as their base model: cross-region inference carries no
 * surcharge over the source region, but geographic profiles of newer Claude models can cost ~10% more than global
 * ones, which a deployment expresses with a price override.
 */
export function findCatalogPrice(id: string, catalog: PriceCatalog = PRICE_CATALOG): CatalogModelEntry | undefined {
  const exact = catalog.models.find((m) => m.id === id);
  if (exact) return exact;
  const base = id.replace(BEDROCK_PROFILE_PREFIX, '');
  return catalog.models.find((m) => m.id === base);
}
