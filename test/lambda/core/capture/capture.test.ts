import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryCaptureSink } from '../../../../lambda/adapters/directory-capture-sink';
import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryTenantDirectory } from '../../../../lambda/adapters/memory-tenant-directory';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { Capture, type CaptureExample, type CaptureSink } from '../../../../lambda/core/capture/capture';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { Gateway } from '../../../../lambda/core/pipeline';
import { KEYS, testConfig } from '../../../support/config';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';
import { createHash } from 'node:crypto';

/** Keeps what it is given; `hold` makes every write wait until `release`. */
class MemoryCaptureSink implements CaptureSink {
  readonly examples: CaptureExample[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  async write(examples: readonly CaptureExample[]): Promise<void> {
    await this.gate;
    this.examples.push(...examples);
  }
}

const hash = (k: string) => createHash('sha256').update(k).digest('hex');

/** acme consents, globex does not; the feature `tickets` opts in; the teacher is the baseline model, `big`. */
function setup(capture: GatewayConfigInput['capture'] = { features: [{ feature: 'tickets' }] }, random = () => 0) {
  const clock = new FakeClock();
  const provider = new ScriptedProvider();
  const base = testConfig('http://127.0.0.1:1/v1');
  const config = resolveConfig({
    ...base,
    tenants: [
      { id: 'acme', apiKeys: [{ sha256: hash(KEYS.acme) }], captureConsent: true },
      { id: 'globex', apiKeys: [{ sha256: hash(KEYS.globex) }] },
    ],
    capture,
  });
  const sink = new MemoryCaptureSink();
  const cap = new Capture(config, sink, clock, random);
  const gateway = new Gateway({
    config, providers: new Map([['up', provider]]), quota: new MemoryQuotaStore(), usage: new MemoryUsageSink(), alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256, capture: cap,
  });
  const chat = (tenantId: string, feature: string | undefined, body: Record<string, unknown>) => {
    const text = JSON.stringify(body);
    return gateway.chat({ tenantId, feature, body: text, bodyBytes: Buffer.byteLength(text), cacheBypass: true });
  };
  return { gateway, provider, sink, cap, chat, clock };
}

const ticket = (text: string, extra: Record<string, unknown> = {}) => ({ model: 'big', messages: [{ role: 'system', content: 'Label the ticket: billing, bug or other.' }, { role: 'user', content: text }], ...extra });

describe('capture of training data', () => {
  it('keeps the teacher\'s answers to an opted-in feature of a consenting tenant, scrubbed, after the response', async () => {
    const { gateway, provider, sink, cap, chat } = setup();
    provider.script('up-big', { ok: 'billing', usage: usage(30, 1) });
    const res = await chat('acme', 'tickets', ticket('I was charged twice, email me at ana.p@example.com or call +1 415 555 0132.'));
    expect(res.status).toBe(200);
    // Scrubbed and written after the response (a timer later with the system clock; the request never waits for it,
    // as the next test shows with a sink that does not answer), complete once the gateway is flushed.
    await gateway.flush();
    expect(sink.examples).toHaveLength(1);
    const ex = sink.examples[0];
    expect(ex.messages).toEqual([
      { role: 'system', content: 'Label the ticket: billing, bug or other.' },
      { role: 'user', content: 'I was charged twice, email me at [EMAIL] or call [PHONE].' },
      expect.objectContaining({ role: 'assistant', content: 'billing' }),
    ]);
    expect(ex.llm_finops).toMatchObject({ tenant: 'acme', feature: 'tickets', model: 'big', upstream_model: 'up-big', scrubbed: { EMAIL: 1, PHONE: 1 } });
    expect(ex.llm_finops.request_id).toEqual(expect.any(String));
    expect(cap.stats()).toMatchObject({ captured: 1, droppedQueueFull: 0 });
  });

  it('keeps nothing for a tenant without consent, a feature not opted in, a request without a feature, or another model\'s answer', async () => {
    const { gateway, provider, sink, chat } = setup();
    await chat('globex', 'tickets', ticket('no consent'));
    await chat('acme', 'chat', ticket('another feature'));
    await chat('acme', undefined, ticket('no feature'));
    provider.script('up-small-a', { ok: 'bug', usage: usage(10, 1) });
    await chat('acme', 'tickets', ticket('a student model answered', { model: 'small-a' }));
    await gateway.flush();
    expect(sink.examples).toEqual([]);
  });

  it('keeps a streamed answer too, assembled', async () => {
    const { gateway, provider, sink, chat } = setup();
    provider.script('up-big', { ok: 'streamed label', usage: usage(20, 2) });
    const res = await chat('acme', 'tickets', ticket('streamed', { stream: true, stream_options: { include_usage: true } }));
    if (res.kind === 'stream') for await (const _ of res.body) void _;
    await gateway.flush();
    expect(sink.examples.map((e) => (e.messages.at(-1) as { content: string }).content)).toEqual(['streamed label']);
  });

  it('never makes a request wait: past the queue it drops and counts; the day cap and the sample rate count too', async () => {
    const { gateway, sink, cap, chat } = setup({ features: [{ feature: 'tickets', maxPerDay: 5 }], queueSize: 2 });
    sink.hold();
    // The sink is stuck: every request still answers at once.
    for (let i = 0; i < 7; i++) expect((await chat('acme', 'tickets', ticket(`t${i}`))).status).toBe(200);
    // The first exchange is in the stuck write, the next two wait in the queue (its size), the other four are dropped.
    sink.release();
    await gateway.flush();
    expect(cap.stats()).toEqual({ captured: 3, droppedQueueFull: 4, droppedDailyCap: 0, sampledOut: 0, writeFailed: 0 });
    // Three were kept today; the cap of 5 takes two more.
    for (let i = 0; i < 3; i++) await chat('acme', 'tickets', ticket(`u${i}`));
    await gateway.flush();
    expect(cap.stats()).toEqual({ captured: 5, droppedQueueFull: 4, droppedDailyCap: 1, sampledOut: 0, writeFailed: 0 });
    const sampled = setup({ features: [{ feature: 'tickets', sampleRate: 0.25 }] }, (() => { let i = 0; return () => [0.1, 0.5, 0.9, 0.2][i++ % 4]; })());
    for (let i = 0; i < 8; i++) await sampled.chat('acme', 'tickets', ticket(`s${i}`));
    await sampled.gateway.flush();
    expect(sampled.cap.stats()).toMatchObject({ captured: 4, sampledOut: 4 });
  });

  it('keeps a run-time tenant\'s exchanges once it consents (tenants create --capture-consent), and none after it withdraws', async () => {
    const clock = new FakeClock();
    const provider = new ScriptedProvider();
    const config = resolveConfig({ ...testConfig('http://127.0.0.1:1/v1'), capture: { features: [{ feature: 'tickets' }] } });
    const sink = new MemoryCaptureSink();
    const tenants = new MemoryTenantDirectory();
    await tenants.createTenant({ id: 'hooli', team: null, allowedTiers: null, allowedModels: null, keyHashes: [hash('sk-hooli')], createdAt: '2026-12-07T00:00:00.000Z' });
    const gateway = new Gateway({
      config, providers: new Map([['up', provider]]), quota: new MemoryQuotaStore(), usage: new MemoryUsageSink(), alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256,
      capture: new Capture(config, sink, clock, () => 0), tenants,
    });
    const ask = async (text: string) => {
      const body = JSON.stringify(ticket(text));
      expect((await gateway.chat({ tenantId: 'hooli', feature: 'tickets', body, bodyBytes: Buffer.byteLength(body), cacheBypass: true })).status).toBe(200);
      await gateway.flush();
    };
    await ask('no consent yet');
    await tenants.setCaptureConsent('hooli', true);
    // The gateway's tenant cache keeps a stored tenant a few seconds (quota.controlsCacheSeconds).
    clock.advance(10_000);
    await ask('consented');
    await tenants.setCaptureConsent('hooli', false);
    clock.advance(10_000);
    await ask('withdrawn');
    expect(sink.examples.map((e) => [e.llm_finops.tenant, (e.messages[1] as { content: string }).content])).toEqual([['hooli', 'consented']]);
    await expect(tenants.setCaptureConsent('nobody', true)).rejects.toThrow("unknown tenant 'nobody'");
  });

  it('counts a batch the sink refused and reports it; the request is not affected', async () => {
    const config = resolveConfig({ ...testConfig('http://127.0.0.1:1/v1'), capture: { features: [{ feature: 'tickets' }] } });
    const errors: string[] = [];
    const cap = new Capture(config, { write: async () => { throw new Error('AccessDenied'); } }, new FakeClock(), () => 0, (e) => errors.push((e as Error).message));
    cap.offer({ requestId: 'r', tenantId: 'acme', consent: true, feature: 'tickets', model: config.models.get('big')!, request: { model: 'big', messages: [{ role: 'user', content: 'q' }] }, completion: { id: 'c', object: 'chat.completion', created: 0, model: 'big', choices: [{ index: 0, message: { role: 'assistant', content: 'a' }, finish_reason: 'stop' }] } });
    await cap.flush();
    expect(cap.stats()).toMatchObject({ captured: 0, writeFailed: 1 });
    expect(errors).toEqual(['AccessDenied']);
  });

  it('writes JSONL per feature and day to a directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-capture-'));
    const config = resolveConfig({ ...testConfig('http://127.0.0.1:1/v1'), capture: { features: [{ feature: 'tickets/eu' }] } });
    const clock = new FakeClock(Date.UTC(2026, 11, 7, 9));
    const cap = new Capture(config, new DirectoryCaptureSink(dir), clock);
    const model = config.models.get('big')!;
    for (const i of [1, 2]) {
      cap.offer({ requestId: `r${i}`, tenantId: 'acme', consent: true, feature: 'tickets/eu', model, request: { model: 'big', messages: [{ role: 'user', content: `q${i}` }] }, completion: { id: 'c', object: 'chat.completion', created: 0, model: 'big', choices: [{ index: 0, message: { role: 'assistant', content: `a${i}` }, finish_reason: 'stop' }] } });
    }
    await cap.flush();
    expect(readdirSync(dir)).toEqual(['tickets_eu']);
    const lines = readFileSync(join(dir, 'tickets_eu', '2026-12-07.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.llm_finops.request_id, l.messages[1].content])).toEqual([['r1', 'a1'], ['r2', 'a2']]);
  });
});
