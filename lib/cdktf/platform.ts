import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import type { GatewayConfig } from '../gateway/gateway-config';
import { TfAlertTopic } from './alert-topic';
import { TfBudget } from './budget';
import { TfLlmGateway } from './llm-gateway';
import { TfQuotaTable } from './quota-table';

export interface TfCostManagedGatewayProps {
  readonly config: GatewayConfig;
  /** Prefix of every resource name. @default 'llm-finops' */
  readonly name?: string;
  /** A monthly AWS Budget on the account, alerting the topic. @default - none */
  readonly monthlyBudgetUsd?: number;
  /** Addresses subscribed to the alert topic. @default - none */
  readonly alertEmails?: string[];
}

/** The core stack in one construct: quota table, alert topic (with the Budgets policy), a budget, and the gateway. */
export class TfCostManagedGateway extends Construct {
  readonly quota: TfQuotaTable;
  readonly alerts: TfAlertTopic;
  readonly gateway: TfLlmGateway;
  readonly budget?: TfBudget;

  constructor(scope: Construct, id: string, props: TfCostManagedGatewayProps) {
    super(scope, id);
    const name = props.name ?? 'llm-finops';
    this.quota = new TfQuotaTable(this, 'quota', { name: `${name}-quota` });
    this.alerts = new TfAlertTopic(this, 'alerts', { name: `${name}-alerts`, emails: props.alertEmails });
    this.gateway = new TfLlmGateway(this, 'gateway', { config: props.config, name, quotaTableName: this.quota.name, quotaTableArn: this.quota.arn, alertTopicArn: this.alerts.arn });
    if (props.monthlyBudgetUsd !== undefined) this.budget = new TfBudget(this, 'budget', { name: `${name}-monthly`, monthlyLimitUsd: props.monthlyBudgetUsd, topicArn: this.alerts.arn });
    new TerraformOutput(this, 'quota_table', { value: this.quota.name, description: 'For llm-finops quota / tenants --store dynamodb --dynamodb-table' });
    new TerraformOutput(this, 'alert_topic_arn', { value: this.alerts.arn });
  }
}
