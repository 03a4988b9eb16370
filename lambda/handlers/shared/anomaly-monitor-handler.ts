import { isServicesMonitor, planAnomalyMonitor, type ListedMonitor, type MonitorPlan } from '../../core/budgets/anomaly-monitor';

/** The Cost Explorer calls the resolver makes. */
export interface AnomalyMonitorsApi {
  list(): Promise<ListedMonitor[]>;
  create(monitor: Extract<MonitorPlan, { create: unknown }>['create']): Promise<string>;
}

/** The fields of a CloudFormation custom resource request the handler reads. */
export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: { readonly MonitorName?: unknown };
}

/**
 * Create and Update: the account's AWS-services anomaly monitor, reused or created (a concurrent deploy that created it
 * first is reused too). Delete: nothing (the monitor is shared and free). The answer goes to CloudFormation's
 * pre-signed ResponseURL, FAILED with the reason on any error, so a deploy never waits an hour for a silent function.
 */
export function createAnomalyMonitorHandler(deps: { api: AnomalyMonitorsApi; log: (line: string) => void; put?: (url: string, body: string) => Promise<void> }) {
  const put = deps.put ?? (async (url: string, body: string) => {
    // The pre-signed URL is signed for an empty content type.
    const res = await fetch(url, { method: 'PUT', body, headers: { 'content-type': '' }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`CloudFormation response PUT returned ${res.status}`);
  });
  return async (event: CustomResourceEvent): Promise<void> => {
    const answer = (status: 'SUCCESS' | 'FAILED', physicalId: string, extra: { Reason?: string; Data?: Record<string, string> }) => put(event.ResponseURL, JSON.stringify({
      Status: status, PhysicalResourceId: physicalId, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId,
      ...(extra.Reason ? { Reason: extra.Reason } : {}), ...(extra.Data ? { Data: extra.Data } : {}),
    }));
    if (event.RequestType === 'Delete') {
      deps.log(JSON.stringify({ _type: 'llm_finops_anomaly_monitor', action: 'kept', monitor_arn: event.PhysicalResourceId }));
      return answer('SUCCESS', event.PhysicalResourceId ?? event.LogicalResourceId, {});
    }
    try {
      const name = typeof event.ResourceProperties?.MonitorName === 'string' && event.ResourceProperties.MonitorName ? event.ResourceProperties.MonitorName : 'llm-finops-services';
      const plan = planAnomalyMonitor(await deps.api.list(), name);
      let arn: string;
      let created = false;
      if ('reuse' in plan) arn = plan.reuse;
      else {
        try {
          arn = await deps.api.create(plan.create);
          created = true;
        } catch (err) {
          // Another deploy may have created the account's one AWS-services monitor meanwhile: reuse it then.
          const raced = (await deps.api.list()).find(isServicesMonitor);
          if (!raced) throw err;
          arn = raced.MonitorArn!;
        }
      }
      deps.log(JSON.stringify({ _type: 'llm_finops_anomaly_monitor', action: created ? 'created' : 'reused', monitor_arn: arn }));
      await answer('SUCCESS', arn, { Data: { MonitorArn: arn, Created: String(created) } });
    } catch (err) {
      const e = err as { name?: string; message?: string };
      const reason = `${e.name ?? 'Error'}: ${e.message ?? String(err)}`.slice(0, 900);
      deps.log(JSON.stringify({ _type: 'llm_finops_anomaly_monitor', action: 'failed', error: reason }));
      await answer('FAILED', event.PhysicalResourceId ?? event.LogicalResourceId, { Reason: reason });
    }
  };
}
