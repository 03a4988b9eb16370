import { decideKillSwitch, parseBudgetNotice, parseKillSwitchRules, type KillSwitchRule } from '../../../../lambda/core/budgets/kill-switch';

/** The plain-text message AWS Budgets publishes to an SNS topic (account and dates changed). */
const budgetsText = (name: string, type = 'ACTUAL'): string => [
  'AWS Budget Notification November 29, 2026',
  'AWS Account 111122223333',
  '',
  'Dear AWS Customer,',
  '',
  `You requested that we alert you when the ${type} Cost associated with your ${name} budget is greater than $100.00 for the current month. The ${type} Cost associated with this budget is $104.12. You can find additional details below and by accessing the AWS Budgets dashboard [1].`,
  '',
  `Budget Name: ${name}`,
  'Budget Type: Cost',
  'Budgeted Amount: $100.00',
  `Alert Type: ${type}`,
  'Alert Threshold: > $100.00',
  `${type} Amount: $104.12`,
  '',
  '[1] https://console.aws.amazon.com/billing/home#/budgets',
].join('\n');

const rules: KillSwitchRule[] = [
  { budgetName: 'llmfinops-total', mode: 'downgrade' },
  { budgetName: 'llmfinops-tenant-acme', tenant: 'acme', mode: 'block' },
  { budgetName: 'llmfinops-tenant-acme-eu', tenant: 'acme-eu', mode: 'downgrade' },
];
const now = new Date('2026-11-29T10:00:00Z');

describe('kill switch decisions', () => {
  it('reads the fields of the Budgets text message', () => {
    expect(parseBudgetNotice(budgetsText('llmfinops-total'))).toEqual({
      budgetName: 'llmfinops-total', alertType: 'ACTUAL', threshold: '> $100.00', amount: '$104.12',
    });
  });

  it('reads a JSON message with the same facts', () => {
    expect(parseBudgetNotice(JSON.stringify({ BudgetName: 'b', NotificationType: 'actual', Threshold: 100, ActualAmount: '$5' })))
      .toEqual({ budgetName: 'b', alertType: 'ACTUAL', threshold: '100', amount: '$5' });
  });

  it('sets the global switch for a gateway budget, with the facts in the reason', () => {
    const d = decideKillSwitch(budgetsText('llmfinops-total'), rules, now);
    expect(d).toMatchObject({
      action: 'set',
      scope: {},
      state: { mode: 'downgrade', setAt: '2026-11-29T10:00:00.000Z', reason: 'AWS Budgets: llmfinops-total passed > $100.00, spent $104.12' },
    });
  });

  it("sets one tenant's switch for a tenant budget, never a tenant whose name it only starts", () => {
    expect(decideKillSwitch(budgetsText('llmfinops-tenant-acme'), rules, now)).toMatchObject({ action: 'set', scope: { tenant: 'acme' }, state: { mode: 'block' } });
    expect(decideKillSwitch(budgetsText('llmfinops-tenant-acme-eu'), rules, now)).toMatchObject({ action: 'set', scope: { tenant: 'acme-eu' } });
  });

  it('finds the budget by its whole name when the message has no Budget Name field', () => {
    const d = decideKillSwitch('Your budget llmfinops-tenant-acme-eu has exceeded its threshold', rules, now);
    expect(d).toMatchObject({ action: 'set', scope: { tenant: 'acme-eu' } });
  });

  it('ignores forecasts and unknown budgets, saying why', () => {
    expect(decideKillSwitch(budgetsText('llmfinops-total', 'FORECASTED'), rules, now)).toMatchObject({ action: 'ignore', reason: 'a FORECASTED notification never sets the kill switch' });
    const d = decideKillSwitch(budgetsText('someone-else'), rules, now);
    expect(d).toMatchObject({ action: 'ignore' });
    expect(d.action === 'ignore' && d.reason).toContain("no kill-switch rule for budget 'someone-else'");
  });

  it('validates the rules document field by field', () => {
    expect(parseKillSwitchRules(JSON.stringify(rules))).toEqual(rules);
    expect(() => parseKillSwitchRules(undefined)).toThrow('LLM_FINOPS_KILL_SWITCH_RULES is not set');
    expect(() => parseKillSwitchRules('{')).toThrow('is not JSON');
    expect(() => parseKillSwitchRules(JSON.stringify([{ budgetName: '', mode: 'off' }, { budgetName: 'x', mode: 'block', tenant: 3 }])))
      .toThrow(/\[0\]\.budgetName.*\n.*\[0\]\.mode.*\n.*\[1\]\.tenant/);
  });
});
