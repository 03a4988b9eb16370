import type { KillSwitch, QuotaScope } from '../ports';

/**
 * What a budget's kill-threshold notification does: which budget (by its exact name), whose switch (a tenant's,
 * or the gateway's when `tenant` is absent) and how (block or downgrade premium tiers). The BudgetGuard construct
 * renders these rules into the kill-switch Lambda's environment.
 */
export interface KillSwitchRule {
  readonly budgetName: string;
  readonly tenant?: string;
  readonly mode: 'block' | 'downgrade';
}

/** The fields of an AWS Budgets notification the kill switch needs. */
export interface BudgetNotice {
  readonly budgetName?: string;
  /** ACTUAL or FORECASTED, when the message says. */
  readonly alertType?: string;
  /** The alert threshold as written in the message, e.g. "> $100.00" or "100". */
  readonly threshold?: string;
  /** The spend the message reports, e.g. "$104.12". */
  readonly amount?: string;
}

export type KillSwitchDecision =
  | { readonly action: 'set'; readonly rule: KillSwitchRule; readonly scope: QuotaScope; readonly state: KillSwitch; readonly notice: BudgetNotice }
  | { readonly action: 'ignore'; readonly reason: string; readonly notice: BudgetNotice };

/**
 * Reads an AWS Budgets notification as SNS delivers it. Budgets sends a plain-text mail-like message
 * ("Budget Name: ...", "Alert Type: ACTUAL", "Alert Threshold: > $100.00", "ACTUAL Amount: $104.12"); a JSON message
 * with the same facts (BudgetName / NotificationType / Threshold) is read too.
 */
export function parseBudgetNotice(message: string): BudgetNotice {
  const text = message.trim();
  if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      const pick = (...keys: string[]): string | undefined => {
        for (const k of keys) if (typeof o[k] === 'string' || typeof o[k] === 'number') return String(o[k]);
        return undefined;
      };
      return {
        budgetName: pick('BudgetName', 'budgetName', 'budget_name'),
        alertType: pick('NotificationType', 'notificationType', 'AlertType')?.toUpperCase(),
        threshold: pick('Threshold', 'threshold', 'AlertThreshold'),
        amount: pick('ActualAmount', 'actualAmount', 'ActualSpend'),
      };
    } catch {
      // Not JSON after all: read as text.
    }
  }
  const field = (label: string): string | undefined => new RegExp(`^\\s*${label}\\s*:\\s*(.+?)\\s*$`, 'im').exec(text)?.[1];
  return {
    budgetName: field('Budget Name'),
    alertType: field('Alert Type')?.toUpperCase(),
    threshold: field('Alert Threshold'),
    amount: field('(?:ACTUAL|FORECASTED) Amount'),
  };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Decides what one notification on the kill-switch topic does. Only budgets the BudgetGuard made publish there, and
 * only their ACTUAL kill-threshold notification; a FORECASTED one never flips a switch. The budget is found by the
 * "Budget Name" field, or else by its exact name anywhere in the text (longest name first, whole-word), so a change
 * in the message's wording does not silently disarm the switch.
 */
export function decideKillSwitch(message: string, rules: readonly KillSwitchRule[], now: Date): KillSwitchDecision {
  const notice = parseBudgetNotice(message);
  if (notice.alertType && notice.alertType !== 'ACTUAL') {
    return { action: 'ignore', reason: `a ${notice.alertType} notification never sets the kill switch`, notice };
  }
  let rule = notice.budgetName ? rules.find((r) => r.budgetName === notice.budgetName) : undefined;
  if (!rule) {
    const byLength = [...rules].sort((a, b) => b.budgetName.length - a.budgetName.length);
    rule = byLength.find((r) => new RegExp(`(?<![\\w-])${escape(r.budgetName)}(?![\\w-])`).test(message));
  }
  if (!rule) {
    return {
      action: 'ignore',
      reason: `no kill-switch rule for budget ${notice.budgetName ? `'${notice.budgetName}'` : '(no budget name in the message)'}; known: ${rules.map((r) => r.budgetName).join(', ') || 'none'}`,
      notice,
    };
  }
  const spent = notice.amount ? `, spent ${notice.amount}` : '';
  const threshold = notice.threshold ? ` passed ${notice.threshold}` : ' passed its kill threshold';
  return {
    action: 'set',
    rule,
    scope: rule.tenant === undefined ? {} : { tenant: rule.tenant },
    state: { mode: rule.mode, reason: `AWS Budgets: ${rule.budgetName}${threshold}${spent}`.slice(0, 300), setAt: now.toISOString() },
    notice,
  };
}

/** Validates the rules document (the Lambda's environment), naming each problem. */
export function parseKillSwitchRules(json: string | undefined): KillSwitchRule[] {
  if (!json) throw new Error('LLM_FINOPS_KILL_SWITCH_RULES is not set: expected a JSON array of {budgetName, tenant?, mode}.');
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`LLM_FINOPS_KILL_SWITCH_RULES is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(raw)) throw new Error('LLM_FINOPS_KILL_SWITCH_RULES: expected a JSON array.');
  const problems: string[] = [];
  const rules = raw.map((r: Record<string, unknown>, i) => {
    if (typeof r?.budgetName !== 'string' || !r.budgetName) problems.push(`[${i}].budgetName: expected a non-empty string`);
    if (r?.mode !== 'block' && r?.mode !== 'downgrade') problems.push(`[${i}].mode: expected 'block' or 'downgrade'`);
    if (r?.tenant !== undefined && (typeof r.tenant !== 'string' || !r.tenant)) problems.push(`[${i}].tenant: expected a non-empty string when set`);
    return { budgetName: r?.budgetName, mode: r?.mode, ...(r?.tenant !== undefined ? { tenant: r.tenant } : {}) } as KillSwitchRule;
  });
  if (problems.length) throw new Error(`LLM_FINOPS_KILL_SWITCH_RULES:\n  - ${problems.join('\n  - ')}`);
  return rules;
}
