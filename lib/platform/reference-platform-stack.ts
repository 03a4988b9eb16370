import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RouterFunction } from '../gateway/router-function';
import { TokenQuotaTable } from '../quota/token-quota-table';

export interface ReferencePlatformStackProps extends StackProps {
  /** GatewayConfig for the router. */
  readonly gatewayConfig: { [key: string]: any };
}

/**
 * The reference platform `npm start` synthesises. Today: the router Lambda on Bedrock tiers with its quota table and
 * alert topic. Later issues add the API, authorizer, cache, attribution, budgets and dashboard.
 */
export class ReferencePlatformStack extends Stack {
  readonly router: RouterFunction;
  readonly quota: TokenQuotaTable;

  constructor(scope: Construct, id: string, props: ReferencePlatformStackProps) {
    super(scope, id, props);
    this.router = new RouterFunction(this, 'Router', { config: props.gatewayConfig });
    // Quotas must be shared by every router instance: DynamoDB, never the in-process store.
    this.quota = new TokenQuotaTable(this, 'Quota');
    this.quota.bindRouter(this.router.function);
  }
}
