import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { GatewayConfigDocument } from '../../lambda/contract';
import type { LlmGateway } from '../gateway/llm-gateway';
import type { TokenQuotaTable } from '../quota/token-quota-table';
import { CostManagedAiPlatform } from './cost-managed-ai-platform';

export interface ReferencePlatformStackProps extends StackProps {
  /** GatewayConfig for the router. */
  readonly gatewayConfig: GatewayConfigDocument;
}

/**
 * The reference platform `npm start` synthesises: a CostManagedAiPlatform with its defaults (streaming REST API, key
 * authorizer and router on Bedrock tiers, quota table and alert topic, semantic cache on the development domain).
 */
export class ReferencePlatformStack extends Stack {
  readonly platform: CostManagedAiPlatform;
  readonly gateway: LlmGateway;
  readonly quota: TokenQuotaTable;

  constructor(scope: Construct, id: string, props: ReferencePlatformStackProps) {
    super(scope, id, props);
    this.platform = new CostManagedAiPlatform(this, 'Platform', { gatewayConfig: props.gatewayConfig });
    this.gateway = this.platform.gateway;
    this.quota = this.platform.quota;
  }
}
