import { BudgetsBudget } from '@cdktf/provider-aws/lib/budgets-budget';
import { Construct } from 'constructs';

export interface TfBudgetProps {
  readonly name: string;
  /** Monthly limit in USD. */
  readonly monthlyLimitUsd: number;
  /** The alert topic (TfAlertTopic.arn). */
  readonly topicArn: string;
  /** @default [50, 80, 100] */
  readonly actualThresholds?: number[];
  /** @default [100] */
  readonly forecastedThresholds?: number[];
  /** Cost Explorer service names the budget counts. @default - the whole account */
  readonly services?: string[];
}

/** A monthly AWS Budget with ACTUAL and FORECASTED notifications to the alert topic. */
export class TfBudget extends Construct {
  readonly budget: BudgetsBudget;

  constructor(scope: Construct, id: string, props: TfBudgetProps) {
    super(scope, id);
    if (!(props.monthlyLimitUsd > 0)) throw new Error(`Invalid TfBudget props:\n  - monthlyLimitUsd: expected a positive number of USD, got ${props.monthlyLimitUsd}`);
    const notify = (type: string, threshold: number) => ({
      comparisonOperator: 'GREATER_THAN', notificationType: type, threshold, thresholdType: 'PERCENTAGE', subscriberSnsTopicArns: [props.topicArn],
    });
    this.budget = new BudgetsBudget(this, 'Budget', {
      name: props.name,
      budgetType: 'COST',
      timeUnit: 'MONTHLY',
      limitAmount: props.monthlyLimitUsd.toFixed(2),
      limitUnit: 'USD',
      costFilter: props.services?.length ? [{ name: 'Service', values: props.services }] : undefined,
      notification: [
        ...(props.actualThresholds ?? [50, 80, 100]).map((t) => notify('ACTUAL', t)),
        ...(props.forecastedThresholds ?? [100]).map((t) => notify('FORECASTED', t)),
      ],
    });
  }
}
