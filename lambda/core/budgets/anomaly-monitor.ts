/**
 * Which Cost Anomaly Detection monitor a BudgetGuard subscribes to, decided at deploy in the account itself.
 *
 * AWS Cost Management user guide, "Getting started with AWS Cost Anomaly Detection" (read 2026-12-06): "Cost monitors
 * for linked accounts, cost allocation tags, and cost categories can only be created in the management account", and
 * an account holds one AWS-services monitor (DIMENSIONAL / SERVICE; "management-limits"). So the one monitor every
 * kind of account (standalone, member, management) may hold is the AWS-services monitor, and only once: a platform
 * reuses the account's if there is one and creates it otherwise. It is kept when the stack is deleted (monitors cost
 * nothing, and another platform or a person may subscribe to it too).
 */

export interface ListedMonitor {
  readonly MonitorArn?: string;
  readonly MonitorType?: string;
  readonly MonitorDimension?: string;
}

export type MonitorPlan =
  | { readonly reuse: string }
  | { readonly create: { readonly MonitorName: string; readonly MonitorType: 'DIMENSIONAL'; readonly MonitorDimension: 'SERVICE' } };

export const isServicesMonitor = (m: ListedMonitor): boolean => m.MonitorType === 'DIMENSIONAL' && m.MonitorDimension === 'SERVICE' && !!m.MonitorArn;

/** Reuse the account's AWS-services monitor, or create one named `name`. */
export function planAnomalyMonitor(existing: readonly ListedMonitor[], name: string): MonitorPlan {
  const found = existing.find(isServicesMonitor);
  return found ? { reuse: found.MonitorArn! } : { create: { MonitorName: name.slice(0, 1024), MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' } };
}
