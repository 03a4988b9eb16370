import { MemoryExactCache } from '../../../../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { DEFAULT_BATCH_LIMITS, parseBatchInput } from '../../../../lambda/core/batch/input';
import { runBatchLines } from '../../../../lambda/core/batch/runner';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import { parseChatRequest } from '../../../../lambda/core/openai/validate';
import { Gateway } from '../../../../lambda/core/pipeline';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';
import { testConfig } from '../../../support/config';

/** small-a $1/$2 per 1M standard, so $0.50/$1 at the derived batch price (test/support/config.ts). */
function setup() {
  const clock = new FakeClock();
  const provider = new ScriptedProvider();
  const records = new MemoryUsageSink();
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1'));
  const gateway = new Gateway({
    config, providers: new Map([['up', provider]]), quota: new MemoryQuotaStore(), exactCache: new MemoryExactCache(100, () => clock.now()),
    usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256,
  });
  return { gateway, provider, records };
}

const file = (lines: { id: string; model: string; content: string }[]) => {
  const text = lines.map((l) => JSON.stringify({ custom_id: l.id, method: 'POST', url: '/v1/chat/completions', body: { model: l.model, messages: [{ role: 'user', content: l.content }] } })).join('\n');
  const parsed = parseBatchInput(text, Buffer.byteLength(text), '/v1/chat/completions', DEFAULT_BATCH_LIMITS, (raw, bytes) => void parseChatRequest(raw, bytes, DEFAULT_BATCH_LIMITS.maxLineBytes));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.lines;
};

describe('runBatchLines', () => {
  it('runs every line through the pipeline at the batch price: answers to the output file, failures to the error file, one record each', async () => {
    const { gateway, provider, records } = setup();
    provider.script('up-small-a', { ok: 'four', usage: usage(1000, 500) }, { ok: 'six', usage: usage(1000, 500) });
    const lines = file([{ id: 'q1', model: 'small-a', content: '2+2?' }, { id: 'q2', model: 'no-such-model', content: '?' }, { id: 'q3', model: 'small-a', content: '3+3?' }]);
    const run = await runBatchLines(gateway, lines, { batchId: 'batch_1', endpoint: '/v1/chat/completions', tenantId: 'acme', feature: 'evals' });
    expect(run.counts).toEqual({ total: 3, completed: 2, failed: 1 });
    expect(run.output.map((o) => [o.id, o.custom_id, o.response?.status_code, (o.response?.body as { choices: { message: { content: string } }[] }).choices[0].message.content]))
      .toEqual([['batch_1_req_1', 'q1', 200, 'four'], ['batch_1_req_3', 'q3', 200, 'six']]);
    expect(run.errors).toMatchObject([{ custom_id: 'q2', response: { status_code: 404, body: { error: { code: 'model_not_found' } } }, error: null }]);
    // 1,000 x $0.50/M + 500 x $1/M = 1,000 micros per answered line.
    expect(records.records.map((r) => [r.api, r.batch_id, r.batch_custom_id, r.status, r.cost_micros])).toEqual([
      ['batch', 'batch_1', 'q1', 200, 1000], ['batch', 'batch_1', 'q2', 404, 0], ['batch', 'batch_1', 'q3', 200, 1000],
    ]);
    expect(records.records[0].feature).toBe('evals');
    expect(run.output[0].response?.request_id).toBe(records.records[0].request_id);
  });

  it('bypasses the response caches: two identical lines are two paid calls', async () => {
    const { gateway, provider, records } = setup();
    provider.script('up-small-a', { ok: 'a', usage: usage(100, 10) }, { ok: 'a', usage: usage(100, 10) });
    const lines = file([{ id: 'x', model: 'small-a', content: 'same' }, { id: 'y', model: 'small-a', content: 'same' }]);
    await runBatchLines(gateway, lines, { batchId: 'b', endpoint: '/v1/chat/completions', tenantId: 'acme' });
    expect(provider.calls).toHaveLength(2);
    expect(records.records.map((r) => r.cache)).toEqual(['bypass', 'bypass']);
  });

  it('puts every line not yet run when the batch is cancelled in the error file, without a call or a record', async () => {
    const { gateway, provider, records } = setup();
    const cancel = new AbortController();
    cancel.abort();
    const run = await runBatchLines(gateway, file([{ id: 'a', model: 'small-a', content: '1' }, { id: 'b', model: 'small-a', content: '2' }]), {
      batchId: 'b', endpoint: '/v1/chat/completions', tenantId: 'acme', signal: cancel.signal,
    });
    expect(run.counts).toEqual({ total: 2, completed: 0, failed: 2 });
    expect(run.errors.map((e) => e.error?.code)).toEqual(['batch_cancelled', 'batch_cancelled']);
    expect(provider.calls).toHaveLength(0);
    expect(records.records).toHaveLength(0);
  });
});
