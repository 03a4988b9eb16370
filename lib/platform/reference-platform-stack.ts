import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { LlmGateway } from '../gateway/llm-gateway';
import { TokenQuotaTable } from '../quota/token-quota-table';

export interface ReferencePlatformStackProps extends StackProps {
  /** GatewayConfig for the router. */
  readonly gatewayConfig: { [key: string]: any };
}

/**
 * The reference platform `npm start` synthesises. Today: the streaming REST API, key authorizer and router on
 * Bedrock tiers, with the quota table and alert topic. Later issues add the cache, attribution, budgets, inference
 * endpoints and the dashboard.
 */
export class ReferencePlatformStack extends Stack {
  readonly gateway: LlmGateway;
  readonly quota: TokenQuotaTable;

  constructor(scope: Construct, id: string, props: ReferencePlatformStackProps) {
    super(scope, id, props);
    // Quotas must be shared by every router instance: DynamoDB, never the in-process store.
    this.quota = new TokenQuotaTable(this, 'Quota');
    this.gateway = new LlmGateway(this, 'Gateway', { config: props.gatewayConfig, quotaTable: this.quota });
  }
}
