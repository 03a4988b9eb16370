import type { SNSEvent } from 'aws-lambda';
import { type AlertNotice, chatNotification } from '../../adapters/chat-notification';
import { decideKillSwitch, type KillSwitchRule } from '../../core/budgets/kill-switch';
import type { QuotaStore } from '../../core/ports';

export interface BudgetActionDeps {
  readonly store: QuotaStore;
  readonly rules: readonly KillSwitchRule[];
  /** The quota table's name, for the reset command the alert quotes. */
  readonly tableName: string;
  /** Tells people what the switch did (the alerts topic); undefined: the log only. */
  readonly notify?: (subject: string, message: string, eventType: string) => Promise<void>;
  readonly now?: () => Date;
  readonly log?: (line: Record<string, unknown>) => void;
}

export interface BudgetActionResult {
  readonly set: number;
  readonly ignored: number;
}

/**
 * The kill-switch Lambda: each AWS Budgets notification on the kill-switch topic sets the quota store's flag for
 * the budget's scope (the gateway, or one tenant), so the router blocks or downgrades premium tiers within its
 * controls cache time (5 s by default), then says so on the alerts topic with the command that resets it. A
 * notification that matches no rule changes nothing and is logged as an error line.
 */
export function createBudgetActionHandler(deps: BudgetActionDeps): (event: SNSEvent) => Promise<BudgetActionResult> {
  const log = deps.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  return async (event) => {
    let set = 0;
    let ignored = 0;
    for (const record of event.Records ?? []) {
      const message = record.Sns?.Message ?? '';
      const decision = decideKillSwitch(message, deps.rules, (deps.now ?? (() => new Date()))());
      if (decision.action === 'ignore') {
        ignored++;
        log({ _type: 'llm_kill_switch_ignored', level: 'ERROR', reason: decision.reason, notice: decision.notice, messageId: record.Sns?.MessageId });
        continue;
      }
      await deps.store.setKillSwitch(decision.scope, decision.state);
      set++;
      const who = decision.rule.tenant === undefined ? 'all tenants' : `tenant ${decision.rule.tenant}`;
      const reset = `llm-finops quota kill-switch${decision.rule.tenant === undefined ? '' : ` --tenant ${decision.rule.tenant}`} --off --store dynamodb --dynamodb-table ${deps.tableName}`;
      log({ _type: 'llm_kill_switch_set', scope: decision.scope, state: decision.state, budget: decision.rule.budgetName, reset });
      if (deps.notify) {
        const verb = decision.rule.mode === 'block' ? 'blocks' : 'downgrades';
        const notice: AlertNotice = {
          title: `LLM kill switch ON for ${who}: ${decision.rule.mode}`.slice(0, 100),
          description: `${decision.state.reason}. The gateway now ${verb} premium tiers for ${who}.`,
          eventType: 'kill_switch_set',
          threadId: `kill-switch#${decision.rule.tenant ?? 'global'}`,
          context: {
            type: 'kill_switch_set',
            scope: decision.rule.tenant === undefined ? 'global' : 'tenant',
            tenant: decision.rule.tenant ?? null,
            mode: decision.rule.mode,
            budget: decision.rule.budgetName,
            reason: decision.state.reason,
            setAt: decision.state.setAt,
            reset,
          },
          nextSteps: [`Reset when the spend is understood: ${reset}`],
        };
        await deps.notify(notice.title, chatNotification(notice), notice.eventType);
      }
    }
    return { set, ignored };
  };
}
