import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { Gateway } from '../../../../lambda/core/pipeline';
import { shadowReport } from '../../../../lambda/core/finops/distill';
import { checkAnswer } from '../../../../lambda/core/routing/cascade';
import { testConfig } from '../../../support/config';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';

/**
 * The guarded switch: a config change routes a feature to a cascade tier whose first model is the small one and whose
 * checks are the guard (the label set of a classifier, the JSON Schema of an extractor); an answer failing them is
 * escalated to the premium model in the same request, recorded as a cascade.
 */
function setup(extra: Partial<GatewayConfigInput>, shared?: { quota: MemoryQuotaStore; alerts: MemoryAlertSink; clock: FakeClock }) {
  const base = testConfig('http://127.0.0.1:1/v1');
  const config = resolveConfig({
    ...base,
    tiers: [
      ...(base.tiers as NonNullable<GatewayConfigInput['tiers']>),
      { name: 'tickets-small', models: ['small-a', 'big'], mode: 'cascade', cascade: { checks: ['empty', 'labels'], labels: ['billing', 'bug', 'other'] } },
      { name: 'invoices-small', models: ['small-a', 'big'], mode: 'cascade', cascade: { checks: ['empty', 'json'], schema: { type: 'object', required: ['invoice', 'total'], properties: { total: { type: 'number' } } } } },
    ],
    routing: { ...base.routing!, features: { tickets: 'tickets-small', invoices: 'invoices-small' } },
    ...extra,
  });
  const provider = new ScriptedProvider();
  const sink = new MemoryUsageSink();
  const clock = shared?.clock ?? new FakeClock();
  const alerts = shared?.alerts ?? new MemoryAlertSink();
  const gateway = new Gateway({ config, providers: new Map([['up', provider]]), quota: shared?.quota ?? new MemoryQuotaStore(), usage: sink, alerts, clock, ids: new SeqIds(), sha256 });
  const chat = (feature: string | undefined, content: string) => {
    const body = JSON.stringify({ messages: [{ role: 'user', content }] });
    return gateway.chat({ tenantId: 'acme', feature, body, bodyBytes: Buffer.byteLength(body), cacheBypass: true });
  };
  return { provider, sink, chat, gateway, clock, alerts };
}

const answer = (r: Awaited<ReturnType<ReturnType<typeof setup>['chat']>>) => (r.kind === 'json' ? (r.body as { choices: { message: { content: string } }[] }).choices[0].message.content : undefined);

describe('the guarded switch to a small model', () => {
  it('answers a switched classifier from the small model while its label passes, and escalates one that does not', async () => {
    const { provider, sink, chat } = setup({});
    provider.script('up-small-a', { ok: 'Billing.', usage: usage(50, 1) }, { ok: 'It looks like a billing issue', usage: usage(50, 7) });
    provider.script('up-big', { ok: 'billing', usage: usage(50, 1) });
    expect(answer(await chat('tickets', 'I was charged twice'))).toBe('Billing.');
    expect(answer(await chat('tickets', 'charged twice again'))).toBe('billing');
    expect(sink.records.map((r) => [(r.route_reason ?? '').split(' ')[0], r.model, r.cascade?.map((c) => [c.model, c.accepted])])).toEqual([
      ['feature:tickets', 'small-a', [['small-a', true]]],
      ['feature:tickets', 'big', [['small-a', false], ['big', true]]],
    ]);
    expect(sink.records[1].cascade![0].reason).toMatch(/^labels: not one of billing, bug, other/);
    // Other features are routed as before.
    provider.script('up-small-a', { ok: 'hello', usage: usage(5, 1) });
    await chat(undefined, 'hi');
    expect(sink.records[2].route_reason).toMatch(/^heuristic/);
  });

  it('escalates an extraction whose JSON misses a required field or has a wrong type, with no response_format asked', async () => {
    const { provider, sink, chat } = setup({});
    provider.script('up-small-a', { ok: '{"invoice": "INV-7", "total": 129.5}', usage: usage(80, 12) }, { ok: '{"invoice": "INV-8", "total": "129.50"}', usage: usage(80, 12) });
    provider.script('up-big', { ok: '{"invoice": "INV-8", "total": 129.5}', usage: usage(80, 12) });
    await chat('invoices', 'extract INV-7');
    await chat('invoices', 'extract INV-8');
    expect(sink.records.map((r) => r.model)).toEqual(['small-a', 'big']);
    expect(sink.records[1].cascade![0].reason).toBe('json: $.total: expected number, got string');
  });

  const guarded = (over: Record<string, number> = {}): Partial<GatewayConfigInput> => ({
    shadow: { policies: [{ feature: 'tickets', model: 'big', sampleRate: 1, scorer: 'exact', switchBack: { below: 0.9, window: 10, minSamples: 10, retryAfterMinutes: 60, ...over } }] },
  });

  it('switches a feature back to its premium model when the shadow agreement of the small model\'s answers falls below switchBack.below, then retries it', async () => {
    const { provider, sink, chat, gateway, clock, alerts } = setup(guarded());
    // Ten small answers that pass the label check, three of them wrong; the premium model says billing to each.
    const smallSays = ['billing', 'billing', 'bug', 'billing', 'other', 'billing', 'billing', 'bug', 'billing', 'billing'];
    provider.script('up-small-a', ...smallSays.map((ok) => ({ ok, usage: usage(50, 1) })));
    provider.script('up-big', ...smallSays.map(() => ({ ok: 'Billing.', usage: usage(50, 1) })));
    for (let i = 0; i < 9; i++) await chat('tickets', `ticket ${i}`);
    await gateway.flush();
    // Nine scores (6/9 agree) are under minSamples: still switched.
    expect(alerts.switchAlerts).toEqual([]);
    await chat('tickets', 'ticket 9');
    await gateway.flush();
    const served = sink.records.filter((r) => r.feature === 'tickets');
    expect(served.map((r) => r.model)).toEqual(Array(10).fill('small-a'));
    // The shadow calls are the premium model's, recorded apart; their scores judge the small model's served answers.
    expect(sink.records.filter((r) => r.feature === 'shadow.tickets').map((r) => r.model)).toEqual(Array(10).fill('big'));
    expect(sink.feedbacks.map((f) => [f.model, f.score])).toEqual(smallSays.map((s) => ['small-a', s === 'billing' ? 1 : 0]));
    expect(alerts.switchAlerts).toEqual([expect.objectContaining({
      type: 'switch_back', feature: 'tickets', model: 'big', agreement: 0.7, samples: 10, below: 0.9, retryAt: new Date(clock.now() + 3_600_000).toISOString(),
    })]);

    // Switched back: the premium model answers, with nothing to shadow (it is the policy's model).
    provider.script('up-big', { ok: 'bug', usage: usage(50, 1) });
    await chat('tickets', 'the app crashes');
    await gateway.flush();
    const back = sink.records.at(-1)!;
    expect([back.feature, back.model, back.route_reason, back.cascade]).toEqual(['tickets', 'big', 'feature:tickets (switched back: agreement 0.7 < 0.9 over 10)', null]);
    expect(sink.records.filter((r) => r.feature === 'shadow.tickets')).toHaveLength(10);

    // An hour on, the small model is tried again with an empty window.
    clock.advance(3_600_000);
    provider.script('up-small-a', { ok: 'bug', usage: usage(50, 1) });
    provider.script('up-big', { ok: 'bug', usage: usage(50, 1) });
    await chat('tickets', 'the app crashes again');
    await gateway.flush();
    expect(sink.records.filter((r) => r.feature === 'tickets').at(-1)).toMatchObject({ model: 'small-a', route_reason: 'feature:tickets' });
    expect(sink.feedbacks.at(-1)).toMatchObject({ model: 'small-a', score: 1 });

    // distill report reads a switched feature the right way round: the small model served, the premium one the reference.
    const [report] = shadowReport([...sink.records, ...sink.feedbacks] as unknown as Record<string, unknown>[]);
    expect(report).toMatchObject({
      feature: 'tickets', candidates: ['small-a'], shadowCalls: 11, scored: 11, agreement: 0.7273, fullAgreement: 0.7273,
      switched: { reference: ['big'], escalated: 0, switchedBack: 1, requests: 12 },
    });
    // Hand-computed: small-a 50 in x $1/M + 1 out x $2/M = $0.000052, big 50 x $10/M + 1 x $30/M = $0.00053; served
    // 11 x 0.000052 + 1 x 0.00053 over 12 = $0.0000918 (rounded to 0.000092), 82.6% under the premium model's.
    expect([report.candidateUsdPerRequest, report.premiumUsdPerRequest, report.costSaving]).toEqual([0.000092, 0.00053, 0.8264]);
  });

  it('alerts once per feature and retry period however many gateway instances switch back', async () => {
    const shared = { quota: new MemoryQuotaStore(), alerts: new MemoryAlertSink(), clock: new FakeClock() };
    const a = setup(guarded({ window: 4, minSamples: 4 }), shared);
    const b = setup(guarded({ window: 4, minSamples: 4 }), shared);
    for (const g of [a, b]) {
      g.provider.script('up-small-a', ...Array(4).fill({ ok: 'bug', usage: usage(50, 1) }));
      g.provider.script('up-big', ...Array(4).fill({ ok: 'billing', usage: usage(50, 1) }));
      for (let i = 0; i < 4; i++) await g.chat('tickets', `t${i}`);
      await g.gateway.flush();
      await new Promise((r) => setImmediate(r));
    }
    // Both instances switched back on their own scores; the claim let one alert through.
    for (const g of [a, b]) expect(g.sink.records.filter((r) => r.feature === 'tickets').length).toBe(4);
    a.provider.script('up-big', { ok: 'bug', usage: usage(50, 1) });
    b.provider.script('up-big', { ok: 'bug', usage: usage(50, 1) });
    await a.chat('tickets', 'x');
    await b.chat('tickets', 'y');
    expect([a.sink.records.at(-1)!.model, b.sink.records.at(-1)!.model]).toEqual(['big', 'big']);
    expect(shared.alerts.switchAlerts).toHaveLength(1);
  });

  it('refuses a switchBack with no switch to guard, the small model as the reference, or minSamples over the window', () => {
    const base = testConfig('http://127.0.0.1:1/v1');
    const tiers = [...(base.tiers as NonNullable<GatewayConfigInput['tiers']>), { name: 'tickets-small', models: ['small-a', 'big'], mode: 'cascade' as const }];
    const policy = { feature: 'tickets', model: 'big', switchBack: { below: 0.9 } };
    expect(() => resolveConfig({ ...base, shadow: { policies: [policy] } })).toThrow(/shadow\.policies\[0\]\.switchBack: routing\.features has no 'tickets': there is no switch to guard/);
    const switched = { ...base, tiers, routing: { ...base.routing!, features: { tickets: 'tickets-small' } } };
    expect(() => resolveConfig({ ...switched, shadow: { policies: [{ ...policy, model: 'small-a' }] } }))
      .toThrow(/shadow\.policies\[0\]\.model: 'small-a' is the small model the feature is switched to; name the premium model its answers are compared with \(e\.g\. 'big'\)/);
    expect(() => resolveConfig({ ...switched, shadow: { policies: [{ ...policy, switchBack: { below: 0.9, window: 20, minSamples: 30 } }] } }))
      .toThrow(/switchBack\.minSamples: 30 is more than the window of 20/);
    expect(() => resolveConfig({ ...switched, shadow: { policies: [policy] } })).not.toThrow();
  });

  it('refuses a feature routed to an unknown tier, labels or a schema that no check reads, and unknown shadow or teacher models', () => {
    const base = testConfig('http://127.0.0.1:1/v1');
    expect(() => resolveConfig({ ...base, routing: { ...base.routing!, features: { tickets: 'nope' } } })).toThrow(/routing\.features\.tickets: unknown tier 'nope'/);
    expect(() => resolveConfig({ ...base, tiers: [...(base.tiers as NonNullable<GatewayConfigInput['tiers']>), { name: 'x', models: ['small-a', 'big'], mode: 'cascade', cascade: { checks: ['empty'], labels: ['a'] } }] }))
      .toThrow(/cascade\.labels: add 'labels' to cascade\.checks/);
    expect(() => resolveConfig({ ...base, shadow: { policies: [{ feature: 'tickets', model: 'tiny' }] }, capture: { features: [{ feature: 'tickets' }], models: ['huge'] } }))
      .toThrow(/shadow\.policies\[0\]\.model: unknown model 'tiny'[\s\S]*capture\.models\[0\]: unknown model 'huge'/);
    expect(checkAnswer({ model: 'x', messages: [] }, { id: 'c', object: 'chat.completion', created: 0, model: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'BUG' }, finish_reason: 'stop' }] }, { checks: ['labels'], minMeanLogprob: -1, labels: ['bug'] })).toEqual({ ok: true });
  });
});
