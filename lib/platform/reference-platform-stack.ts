import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { GatewayConfig } from '../gateway/gateway-config';
import type { AlertTopicProps } from '../budgets/alert-topic';
import type { LlmGateway } from '../gateway/llm-gateway';
import type { TokenQuotaTable } from '../quota/token-quota-table';
import { CostManagedAiPlatform } from './cost-managed-ai-platform';

export interface ReferencePlatformStackProps extends StackProps {
  /** The gateway config (`GatewayConfig.fromFile` or `.fromObject`) for the router and the authorizer. */
  readonly gatewayConfig: GatewayConfig;

  /**
   * Monthly total (and Bedrock) budget in USD; 0 for none.
   * @default 1000
   */
  readonly monthlyBudgetUsd?: number;

  /**
   * Alert subscribers (email, Slack, PagerDuty).
   * @default - none: subscribe to the AlertTopicArn output
   */
  readonly notifications?: AlertTopicProps;

  /**
   * Set up the account's API Gateway CloudWatch Logs role in this Region (see LlmGatewayProps.setUpApiGatewayAccountLogging).
   * @default - not set up here, and synth warns until you choose
   */
  readonly setUpApiGatewayAccountLogging?: boolean;
}

/**
 * The reference platform `npm start` synthesises: a CostManagedAiPlatform with its defaults (streaming REST API, key
 * authorizer and router on Bedrock tiers, quota table, semantic cache on the development domain, dashboard and
 * alarms) and a $1,000/month budget with the kill switch.
 */
export class ReferencePlatformStack extends Stack {
  readonly platform: CostManagedAiPlatform;
  readonly gateway: LlmGateway;
  readonly quota: TokenQuotaTable;

  constructor(scope: Construct, id: string, props: ReferencePlatformStackProps) {
    super(scope, id, props);
    this.platform = new CostManagedAiPlatform(this, 'Platform', {
      gatewayConfig: props.gatewayConfig,
      // A modest example budget: the kill switch downgrades the premium tier past 100%, IAM denies it as a backstop.
      budgets: props.monthlyBudgetUsd === 0 ? undefined : { monthlyLimitUsd: props.monthlyBudgetUsd ?? 1000, bedrockMonthlyLimitUsd: props.monthlyBudgetUsd ?? 1000 },
      notifications: props.notifications,
      setUpApiGatewayAccountLogging: props.setUpApiGatewayAccountLogging,
    });
    this.gateway = this.platform.gateway;
    this.quota = this.platform.quota;
  }
}
