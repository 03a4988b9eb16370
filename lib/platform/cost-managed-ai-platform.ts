import { CfnOutput, Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { GatewayConfigDocument } from '../../lambda/contract';
import { SemanticCache, type SemanticCacheProps } from '../cache/semantic-cache';
import { type GatewayDomainOptions, LlmGateway } from '../gateway/llm-gateway';
import { TokenQuotaTable } from '../quota/token-quota-table';

export interface CostManagedAiPlatformProps {
  /** The GatewayConfig document (schema/gateway-config.schema.json): providers, models, tiers, routing, tenants. */
  readonly gatewayConfig: GatewayConfigDocument;

  /**
   * The semantic and exact cache storage, or false for none (the router then caches in process only).
   * @default - a SemanticCache with its defaults: managed domain, development preset (~$55/month), Titan V2 1024
   */
  readonly semanticCache?: SemanticCacheProps | false;

  /**
   * Longest LLM call the API waits for.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;

  /**
   * Active X-Ray tracing on the API and the functions.
   * @default false
   */
  readonly tracing?: boolean;

  /**
   * A WAF web ACL on the API: true for one made here, or your regional web ACL's ARN (see LlmGatewayProps.webAcl).
   * @default - none
   */
  readonly webAcl?: boolean | string;

  /**
   * A custom domain for the API.
   * @default - the execute-api URL
   */
  readonly domain?: GatewayDomainOptions;
}

/**
 * The cost-managed AI stack in one construct: the OpenAI-compatible streaming gateway with its key authorizer and
 * router, DynamoDB quotas with the 80% alert topic, and the semantic cache, wired together. Later issues add
 * attribution, budgets, inference endpoints and the dashboard here.
 */
export class CostManagedAiPlatform extends Construct {
  readonly quota: TokenQuotaTable;
  readonly gateway: LlmGateway;
  readonly cache?: SemanticCache;

  constructor(scope: Construct, id: string, props: CostManagedAiPlatformProps) {
    super(scope, id);
    // Quotas must be shared by every router instance: DynamoDB, never the in-process store.
    this.quota = new TokenQuotaTable(this, 'Quota');
    this.gateway = new LlmGateway(this, 'Gateway', {
      config: props.gatewayConfig, quotaTable: this.quota, timeout: props.timeout, tracing: props.tracing, webAcl: props.webAcl, domain: props.domain,
    });
    if (props.semanticCache !== false) {
      this.cache = new SemanticCache(this, 'Cache', props.semanticCache ?? {});
      this.cache.bindRouter(this.gateway.router.function);
      new CfnOutput(this, 'CacheEndpoint', { value: this.cache.endpoint, description: 'OpenSearch endpoint of the semantic cache' });
    }
  }
}
