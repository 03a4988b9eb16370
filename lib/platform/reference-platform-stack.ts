import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { RouterFunction } from '../gateway/router-function';

export interface ReferencePlatformStackProps extends StackProps {
  /** GatewayConfig for the router. */
  readonly gatewayConfig: { [key: string]: any };
}

/**
 * The reference platform `npm start` synthesises. Today: the router Lambda on Bedrock tiers. Later issues add the
 * API, authorizer, quota table, cache, attribution, budgets and dashboard.
 */
export class ReferencePlatformStack extends Stack {
  readonly router: RouterFunction;

  constructor(scope: Construct, id: string, props: ReferencePlatformStackProps) {
    super(scope, id, props);
    this.router = new RouterFunction(this, 'Router', { config: props.gatewayConfig });
  }
}
