import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { Gateway } from '../../../../lambda/core/pipeline';
import { checkAnswer } from '../../../../lambda/core/routing/cascade';
import { testConfig } from '../../../support/config';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';

/**
 * The guarded switch: a config change routes a feature to a cascade tier whose first model is the small one and whose
 * checks are the guard (the label set of a classifier, the JSON Schema of an extractor); an answer failing them is
 * escalated to the premium model in the same request, recorded as a cascade.
 */
function setup(extra: Partial<GatewayConfigInput>) {
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
  const clock = new FakeClock();
  const gateway = new Gateway({ config, providers: new Map([['up', provider]]), quota: new MemoryQuotaStore(), usage: sink, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256 });
  const chat = (feature: string | undefined, content: string) => {
    const body = JSON.stringify({ messages: [{ role: 'user', content }] });
    return gateway.chat({ tenantId: 'acme', feature, body, bodyBytes: Buffer.byteLength(body), cacheBypass: true });
  };
  return { provider, sink, chat };
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
