/**
 * Cost-allocation tag activation, decided without I/O. AWS accepts a user-defined key only once it has seen it on a
 * resource (up to 24 hours after first use), only from an Organizations management or standalone account, and
 * activation is not retroactive: so the activator runs on a schedule until every key is active, and says why a key
 * is not, instead of failing a deployment.
 */

/** A key as Cost Explorer lists it (ListCostAllocationTags). */
export interface ListedTag {
  readonly TagKey?: string;
  readonly Type?: string;
  readonly Status?: string;
}

export type PendingReason = 'not-seen-yet' | 'refused' | 'access-denied';

export interface TagActivationReport {
  readonly keys: readonly string[];
  /** Active before this run. */
  readonly alreadyActive: readonly string[];
  /** Activated by this run. */
  readonly activated: readonly string[];
  /** Still inactive, with why and what to do. */
  readonly pending: readonly { readonly key: string; readonly reason: PendingReason; readonly detail: string }[];
}

/** Which keys are active, which to activate now, which AWS has not seen yet. */
export function planTagActivation(keys: readonly string[], listed: readonly ListedTag[]): { active: string[]; toActivate: string[]; notSeen: string[] } {
  const status = new Map<string, string>();
  for (const t of listed) if (t.TagKey && (t.Type ?? 'UserDefined') === 'UserDefined') status.set(t.TagKey, t.Status ?? 'Inactive');
  const unique = [...new Set(keys)];
  return {
    active: unique.filter((k) => status.get(k) === 'Active'),
    toActivate: unique.filter((k) => status.has(k) && status.get(k) !== 'Active'),
    notSeen: unique.filter((k) => !status.has(k)),
  };
}

const NOT_SEEN = 'AWS has not seen the key on a resource yet (it becomes activatable up to 24 hours after first use); the next scheduled run retries';
export const ACCESS_DENIED_DETAIL =
  'this account may not activate cost allocation tags (an Organizations member account): activate the key from the management account ' +
  '(Billing console, Cost allocation tags, or aws ce update-cost-allocation-tags-status)';

/** The report of one run from the plan and the keys UpdateCostAllocationTagsStatus refused (key -> message). */
export function activationReport(
  keys: readonly string[],
  plan: { active: string[]; toActivate: string[]; notSeen: string[] },
  refused: ReadonlyMap<string, string>,
): TagActivationReport {
  return {
    keys: [...new Set(keys)],
    alreadyActive: plan.active,
    activated: plan.toActivate.filter((k) => !refused.has(k)),
    pending: [
      ...plan.toActivate.filter((k) => refused.has(k)).map((key) => ({ key, reason: 'refused' as const, detail: refused.get(key)! })),
      ...plan.notSeen.map((key) => ({ key, reason: 'not-seen-yet' as const, detail: NOT_SEEN })),
    ],
  };
}

/** Every key pending because the account may not list or activate tags. */
export function deniedReport(keys: readonly string[], message: string): TagActivationReport {
  const unique = [...new Set(keys)];
  return { keys: unique, alreadyActive: [], activated: [], pending: unique.map((key) => ({ key, reason: 'access-denied' as const, detail: `${ACCESS_DENIED_DETAIL} (${message})` })) };
}

/** The CLI command that activates the keys (run from the management account of an organization). */
export function activationCommand(keys: readonly string[]): string {
  return `aws ce update-cost-allocation-tags-status --cost-allocation-tags-status ${[...new Set(keys)].map((k) => `TagKey=${k},Status=Active`).join(' ')}`;
}

/** The tag keys the activator is given (a JSON array of strings), validated. */
export function parseTagKeys(raw: string | undefined): string[] {
  let keys: unknown;
  try {
    keys = JSON.parse(raw ?? '');
  } catch {
    throw new Error('the cost allocation tag keys are not JSON: expected a JSON array of tag keys');
  }
  if (!Array.isArray(keys) || !keys.length || !keys.every((k) => typeof k === 'string' && k.length > 0 && k.length <= 128)) {
    throw new Error('expected a non-empty JSON array of tag keys (1-128 characters each)');
  }
  return keys;
}

/**
 * The Region that serves the Cost Explorer API for a stack's Region: us-east-1 in the commercial partition,
 * cn-northwest-1 in China (https://docs.amazonaws.cn/en_us/cost-management/latest/userguide/ce-api.html, read
 * 2026-12-06). Other partitions are left to the commercial endpoint, which is what the AWS docs list.
 */
export function costExplorerRegion(region: string | undefined): string {
  return region?.startsWith('cn-') ? 'cn-northwest-1' : 'us-east-1';
}

