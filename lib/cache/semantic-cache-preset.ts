/**
 * Sizes. Managed domain, development: one t3.medium.search data node, 10 GB gp3, one AZ (~$54.51 a month in us-east-1
 * at ~$0.073/h); production: three r7g.large.search data nodes across three AZs with three m7g.large.search dedicated
 * masters and 100 GB gp3 each (~$730.83 a month). Valkey, development: one cache.t4g.medium node (~$38 a month);
 * production: a cache.r7g.large primary and a replica in another AZ with automatic failover (~$256 a month).
 * Prices: docs/constructs.md, "SemanticCache"; verify for your region.
 */
export enum SemanticCachePreset {
  /** The cheapest secure single node, one Availability Zone. */
  DEVELOPMENT = 'development',
  /** Spread over Availability Zones with failover (and dedicated masters on a managed domain). */
  PRODUCTION = 'production',
}
