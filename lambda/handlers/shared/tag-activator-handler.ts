import { activationCommand, activationReport, deniedReport, planTagActivation, type ListedTag, type TagActivationReport } from '../../core/finops/tag-activation';
import { METRICS_NAMESPACE } from '../../contract';

/** The Cost Explorer calls the activator makes (us-east-1). */
export interface CostAllocationTagsApi {
  list(keys: readonly string[]): Promise<ListedTag[]>;
  /** Activates the keys; resolves to the per-key errors AWS returns (a partial success is not an exception). */
  activate(keys: readonly string[]): Promise<{ TagKey?: string; Code?: string; Message?: string }[]>;
}

const DENIED = /AccessDenied|Unauthorized|not authorized|management account|payer/i;

/**
 * One run of the scheduled activator: list the keys, activate the inactive ones, and report. It never throws for
 * what an account can do nothing about in this run (keys not seen yet, a member account): it logs the report and
 * publishes InactiveCostAllocationTags (EMF), which an alarm watches, so a silent $0 per tenant becomes an alert.
 * Unexpected errors (throttling, a network failure) do throw: the schedule retries them.
 */
export function createTagActivatorHandler(deps: { api: CostAllocationTagsApi; keys: readonly string[]; log: (line: string) => void; now?: () => number }) {
  return async (): Promise<TagActivationReport> => {
    let report: TagActivationReport;
    let denied = false;
    try {
      const plan = planTagActivation(deps.keys, await deps.api.list(deps.keys));
      const errors = plan.toActivate.length ? await deps.api.activate(plan.toActivate) : [];
      const refused = new Map(errors.filter((e) => e.TagKey).map((e) => [e.TagKey!, `${e.Code ?? 'Error'}: ${e.Message ?? ''}`.trim()]));
      report = activationReport(deps.keys, plan, refused);
    } catch (err) {
      const e = err as { name?: string; message?: string };
      if (!DENIED.test(`${e.name ?? ''} ${e.message ?? ''}`)) throw err;
      report = deniedReport(deps.keys, `${e.name}: ${e.message}`);
      denied = true;
    }
    // A member account may neither list nor activate the keys, so it cannot know whether the management account has
    // activated them: that is reported as what it is (the command for the management account, and a metric of its own),
    // not counted as inactive keys, which would fire InactiveTagsAlarm after 30 hours and never clear.
    const fix = denied ? { fix: `from the management account: ${activationCommand(deps.keys)}` } : {};
    deps.log(JSON.stringify({ _type: 'llm_finops_tag_activation', ...report, ...fix }));
    const metric = denied ? 'TagActivationNotPermitted' : 'InactiveCostAllocationTags';
    deps.log(JSON.stringify({
      _aws: {
        Timestamp: (deps.now ?? Date.now)(),
        CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [[]], Metrics: [{ Name: metric, Unit: 'Count' }] }],
      },
      [metric]: denied ? 1 : report.pending.length,
    }));
    return report;
  };
}
