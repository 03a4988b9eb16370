import type { SNSEvent } from 'aws-lambda';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { createBudgetActionHandler } from '../../../lambda/handlers/shared/budget-action-handler';
import { testConfig } from '../../support/config';
import { LocalDynamo } from '../../support/dynalite';
import { FakeUpstream } from '../../support/upstream';

const snsEvent = (...messages: string[]): SNSEvent => ({
  Records: messages.map((Message, i) => ({
    EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: 'arn:aws:sns:eu-west-1:111122223333:kill:sub',
    Sns: { Type: 'Notification', MessageId: `m-${i}`, TopicArn: 'arn:aws:sns:eu-west-1:111122223333:kill', Subject: 'AWS Budgets: llmfinops-total has exceeded your alert threshold', Message, Timestamp: '2026-11-29T10:00:00.000Z', SignatureVersion: '1', Signature: '', SigningCertUrl: '', UnsubscribeUrl: '', MessageAttributes: {} },
  })),
});
const text = (name: string) => `AWS Budget Notification\n\nBudget Name: ${name}\nBudget Type: Cost\nBudgeted Amount: $100.00\nAlert Type: ACTUAL\nAlert Threshold: > $100.00\nACTUAL Amount: $100.51\n`;

/** The kill-switch Lambda's logic on the real DynamoDB quota store (dynalite), read back by a gateway on that store. */
describe('budget action (kill switch) handler', () => {
  const dynamo = new LocalDynamo();
  const upstream = new FakeUpstream();
  let store: DynamoDbQuotaStore;
  const table = 'quota-kill';

  beforeAll(async () => {
    await Promise.all([dynamo.start(), upstream.start()]);
    await ensureQuotaTable(dynamo.client, table);
    store = new DynamoDbQuotaStore(dynamo.client, table);
  });
  afterAll(async () => {
    await Promise.all([dynamo.stop(), upstream.stop()]);
  });

  it('sets the flag in the quota table, tells the alerts topic how to reset it, and the gateway downgrades premium requests', async () => {
    const sent: { subject: string; message: string }[] = [];
    const logs: Record<string, unknown>[] = [];
    const handler = createBudgetActionHandler({
      store,
      tableName: table,
      rules: [{ budgetName: 'llmfinops-total', mode: 'downgrade' }, { budgetName: 'llmfinops-tenant-globex', tenant: 'globex', mode: 'block' }],
      notify: async (subject, message) => { sent.push({ subject, message }); },
      now: () => new Date('2026-11-29T10:00:00Z'),
      log: (l) => logs.push(l),
    });
    const result = await handler(snsEvent(text('llmfinops-total'), text('not-ours')));
    expect(result).toEqual({ set: 1, ignored: 1 });

    const controls = await store.getControls('acme', 'default');
    expect(controls.globalKillSwitch).toEqual({ mode: 'downgrade', reason: 'AWS Budgets: llmfinops-total passed > $100.00, spent $100.51', setAt: '2026-11-29T10:00:00.000Z' });
    expect(controls.tenantKillSwitch).toBeUndefined();
    expect(sent).toHaveLength(1);
    expect(sent[0].subject).toBe('LLM kill switch ON for all tenants: downgrade');
    expect(JSON.parse(sent[0].message)).toMatchObject({
      version: '1.0',
      source: 'custom',
      content: { title: 'LLM kill switch ON for all tenants: downgrade', description: 'AWS Budgets: llmfinops-total passed > $100.00, spent $100.51. The gateway now downgrades premium tiers for all tenants.' },
      metadata: {
        eventType: 'kill_switch_set',
        additionalContext: { scope: 'global', mode: 'downgrade', budget: 'llmfinops-total', reset: `llm-finops quota kill-switch --off --store dynamodb --dynamodb-table ${table}` },
      },
    });
    expect(logs.find((l) => l._type === 'llm_kill_switch_ignored')).toMatchObject({ level: 'ERROR', notice: { budgetName: 'not-ours' } });

    // A gateway on the same table sees the switch: the premium tier is downgraded, not served.
    const usage = new MemoryUsageSink();
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'cheap', promptTokens: 10, completionTokens: 5 });
    const gateway = buildGateway(resolveConfig(testConfig(upstream.baseUrl, { quota: { premiumTiers: ['large'], controlsCacheSeconds: 0 } })), { env: {}, usage, quota: store });
    const body = JSON.stringify({ model: 'large', messages: [{ role: 'user', content: 'hi' }] });
    const res = await gateway.chat({ tenantId: 'acme', body, bodyBytes: body.length });
    expect(res.status).toBe(200);
    expect(usage.records.at(-1)).toMatchObject({ tier: 'small', quota_action: 'kill_switch_downgraded' });

    // The documented reset clears it.
    await store.setKillSwitch({}, null);
    expect((await store.getControls('acme', 'default')).globalKillSwitch).toBeUndefined();
  });

  it("sets only the tenant's switch for a tenant budget", async () => {
    const handler = createBudgetActionHandler({ store, tableName: table, rules: [{ budgetName: 'llmfinops-tenant-globex', tenant: 'globex', mode: 'block' }], log: () => undefined });
    expect(await handler(snsEvent(text('llmfinops-tenant-globex')))).toEqual({ set: 1, ignored: 0 });
    expect((await store.getControls('globex', 'default')).tenantKillSwitch).toMatchObject({ mode: 'block' });
    expect((await store.getControls('acme', 'default')).tenantKillSwitch).toBeUndefined();
    expect((await store.getControls('acme', 'default')).globalKillSwitch).toBeUndefined();
  });
});
