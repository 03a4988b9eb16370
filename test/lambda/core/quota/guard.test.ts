import { MemoryQuotaStore } from '../../../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../../../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../../../../lambda/core/config/schema';
import { Gateway, type JsonResult } from '../../../../lambda/core/pipeline';
import type { OperationsLog, QuotaStore } from '../../../../lambda/core/ports';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../../../support/fakes';
import { testConfig } from '../../../support/config';

function setup(quota: Partial<NonNullable<GatewayConfigInput['quota']>> = {}, opts: { store?: QuotaStore; tenants?: GatewayConfigInput['tenants']; ops?: OperationsLog } = {}) {
  const clock = new FakeClock();
  const provider = new ScriptedProvider();
  const store = opts.store ?? new MemoryQuotaStore();
  const records = new MemoryUsageSink();
  const alerts = new MemoryAlertSink();
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
    quota: { controlsCacheSeconds: 0, ...quota },
    tenants: opts.tenants ?? [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.01 } }],
  }));
  const gateway = new Gateway({ config, providers: new Map([['up', provider]]), quota: store, usage: records, alerts, clock, ids: new SeqIds(), sha256, ops: opts.ops });
  const chat = async (body: Record<string, unknown>, extra: { feature?: string; headers?: Record<string, string>; apiKeyId?: string } = {}) => {
    const text = JSON.stringify(body);
    const { headers, ...rest } = extra;
    return (await gateway.chat({ tenantId: 'acme', body: text, bodyBytes: text.length, header: (n) => headers?.[n], ...rest })) as JsonResult;
  };
  return { clock, provider, store, records, alerts, gateway, chat };
}

const ask = (model: string, content = 'q', extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content }], ...extra });

describe('QuotaGuard (through the pipeline)', () => {
  describe('kill switch', () => {
    it('blocks a premium tier with a 429 when set to block', async () => {
      const { store, chat, provider, records } = setup({ premiumTiers: ['large'] });
      await store.setKillSwitch({}, { mode: 'block', reason: 'monthly budget reached', setAt: '2026-11-29T00:00:00Z' });
      const r = await chat(ask('large'));
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({ error: { code: 'budget_kill_switch', type: 'insufficient_quota' } });
      expect(provider.calls).toHaveLength(0);
      expect(records.records[0]).toMatchObject({ status: 429, cost_micros: 0 });
      expect((await chat(ask('small'))).status).toBe(200);
    });

    it('downgrades premium requests, explicit premium-only models included, when set to downgrade', async () => {
      const { store, chat, records } = setup({ premiumTiers: ['large'] });
      await store.setKillSwitch({ tenant: 'acme' }, { mode: 'downgrade', setAt: '2026-11-29T00:00:00Z' });
      const r = await chat(ask('big'));
      expect(r.status).toBe(200);
      expect(r.headers['x-llm-tier']).toBe('small');
      expect(records.records[0]).toMatchObject({ quota_action: 'kill_switch_downgraded', tier: 'small', model: 'small-a' });
      expect(records.records[0].route_reason).toBe('explicit-model (kill switch: small)');
    });

    it('takes effect without a redeploy and is lifted the same way', async () => {
      const { store, chat } = setup({ premiumTiers: ['large'] });
      const cheap = { max_tokens: 50 };
      expect((await chat(ask('large', 'a', cheap))).status).toBe(200);
      await store.setKillSwitch({}, { mode: 'block', setAt: 'x' });
      expect((await chat(ask('large', 'b', cheap))).status).toBe(429);
      await store.setKillSwitch({}, null);
      expect((await chat(ask('large', 'c', cheap))).status).toBe(200);
    });
  });

  describe('limits', () => {
    it('refuses past the limit with Retry-After, then admits again when an operator raises the stored limit', async () => {
      const { store, chat } = setup();
      // big: 4000 output tokens x $30/M = $0.12 > $0.01
      const r = await chat(ask('big'));
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe(String(12 * 3600));
      await store.putLimits({ tenant: 'acme' }, { dailyUsd: 1 });
      expect((await chat(ask('big'))).status).toBe(200);
    });

    it('downgrades to a cheaper tier that fits when onExhausted is downgrade', async () => {
      const { chat, records } = setup({ onExhausted: 'downgrade' });
      const r = await chat(ask('large', 'long question', { max_tokens: 1000 }));
      expect(r.status).toBe(200);
      expect(records.records[0]).toMatchObject({ quota_action: 'downgraded', tier: 'small' });
      expect(records.records[0].route_reason).toContain('(quota: downgraded to small)');
    });

    it('records would-be rejections without blocking in shadow mode', async () => {
      const { chat, records, store } = setup({ mode: 'shadow' });
      const r = await chat(ask('big'));
      expect(r.status).toBe(200);
      expect(records.records[0].quota_action).toBe('shadow_exceeded');
      const day = (await store.read(['tenant#acme#usd#2026-11-29'])).get('tenant#acme#usd#2026-11-29')!;
      expect(day).toEqual({ committed: records.records[0].cost_micros, reserved: 0 });
    });

    it('limits requests per minute with rate_limit_exceeded and a Retry-After to the next minute', async () => {
      const { chat, clock } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { requestsPerMinute: 2 } }] });
      clock.advance(15_000);
      expect((await chat(ask('small-a', '1'))).status).toBe(200);
      expect((await chat(ask('small-a', '2'))).status).toBe(200);
      const r = await chat(ask('small-a', '3'));
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
      expect(r.headers['retry-after']).toBe('45');
      clock.advance(45_000);
      expect((await chat(ask('small-a', '4'))).status).toBe(200);
    });

    it('counts a failed request against requests per minute but not against spend', async () => {
      const { chat, provider, store } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { requestsPerMinute: 5, dailyUsd: 1 } }] });
      provider.script('up-small-a', { fail: 'server' }, { fail: 'server' });
      expect((await chat(ask('small-a'))).status).toBe(502);
      const s = await store.read(['tenant#acme#requests#2026-11-29T12:00', 'tenant#acme#usd#2026-11-29']);
      expect(s.get('tenant#acme#requests#2026-11-29T12:00')).toEqual({ committed: 1, reserved: 0 });
      expect(s.get('tenant#acme#usd#2026-11-29')).toEqual({ committed: 0, reserved: 0 });
    });
  });

  describe('output cap fitted to the budget', () => {
    // big: $10/M input, $30/M output, max 4,000 output tokens; a tenant with $0.10 a day.
    const tenants = [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.1 } }];

    it('sends a client\'s large max_tokens as it is while the budget covers it', async () => {
      const { chat, provider, records } = setup({}, { tenants });
      const r = await chat(ask('big', 'q', { max_tokens: 3000 }));
      expect(r.status).toBe(200);
      expect(provider.calls[0].maxTokens).toBe(3000);
      expect(r.headers['x-llm-output-cap']).toBeUndefined();
      expect(records.records[0].quota_action).toBe('none');
    });

    it('admits a cap the budget cannot cover with a fitted one: a share of what is left, priced and sent, and says so', async () => {
      const { chat, provider, records, store } = setup({ fitOutputToBudget: { minOutputTokens: 100 } }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.06 } }] });
      // 4,000 x $30/M = $0.12 > $0.06. A quarter of $0.06 is $0.015: (15,000 - input) / 30 micro-dollars a token.
      const r = await chat(ask('big', 'q', { max_tokens: 4000 }));
      expect(r.status).toBe(200);
      const cap = provider.calls[0].maxTokens;
      expect(cap).toBeLessThan(500);
      expect(cap).toBeGreaterThan(490);
      expect(r.headers['x-llm-output-cap']).toBe(String(cap));
      expect(records.records[0].quota_action).toBe('output_fitted');
      // Nothing overshoots: the counter never held more than the limit.
      const day = [...(await store.read(['tenant#acme#usd#2026-11-29'])).values()][0];
      expect(day.committed).toBeLessThanOrEqual(60_000);
    });

    it('sends the minimum when the share is below it and what is left pays for it, and refuses once it does not', async () => {
      const { chat, provider } = setup({ fitOutputToBudget: { minOutputTokens: 1000 } }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.04 } }] });
      // A quarter of $0.04 buys ~333 tokens (< 1,000); all of it buys ~1,333, so the minimum fits.
      const r = await chat(ask('big', 'q', { max_tokens: 4000 }));
      expect(r.status).toBe(200);
      expect(provider.calls[0].maxTokens).toBe(1000);
      const { chat: chat2, provider: p2 } = setup({ fitOutputToBudget: { minOutputTokens: 2000 } }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.04 } }] });
      expect((await chat2(ask('big', 'q', { max_tokens: 4000 }))).status).toBe(429);
      expect(p2.calls).toHaveLength(0);
    });

    it('refuses as before when fitting is off', async () => {
      const { chat, provider } = setup({ fitOutputToBudget: { enabled: false } }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.06 } }] });
      expect((await chat(ask('big', 'q', { max_tokens: 4000 }))).status).toBe(429);
      expect(provider.calls).toHaveLength(0);
    });

    it('admits parallel requests (an agent\'s subagents) on one budget, each within what is left', async () => {
      const { gateway, provider, store } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.35 } }] });
      const body = JSON.stringify(ask('big', 'q', { max_tokens: 4000 }));
      // Each asks for $0.12 of output; four at once (upstream calls held open, so the four reservations overlap) would need $0.48.
      provider.script('up-big', ...Array.from({ length: 4 }, () => ({ ok: 'done', usage: usage(10, 100) })));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const answer = provider.complete.bind(provider);
      provider.complete = async (call) => {
        const out = await answer(call);
        await gate;
        return out;
      };
      const pending = Promise.all(Array.from({ length: 4 }, () => gateway.chat({ tenantId: 'acme', body, bodyBytes: body.length })));
      while (provider.calls.length < 4) await new Promise((r) => setImmediate(r));
      release();
      const results = await pending;
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      // Two fit whole; the other two get the 1,024-token minimum, which what is left still pays for.
      expect(provider.calls.map((c) => c.maxTokens).sort((a, b) => a - b)).toEqual([1024, 1024, 4000, 4000]);
      const day = [...(await store.read(['tenant#acme#usd#2026-11-29'])).values()][0];
      expect(day.reserved).toBe(0);
    });
  });

  describe('policies (quota.policies)', () => {
    it('caps an agent session: its requests in total, with no Retry-After (it never resets), other sessions untouched', async () => {
      const { chat, provider, records } = setup({ policies: [{ id: 'loop-breaker', per: 'session', limits: [{ window: 'total', requests: 2 }] }] }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] });
      const s1 = { headers: { 'x-llm-session-id': 'sess-1' } };
      expect((await chat(ask('small-a', 'a'), s1)).status).toBe(200);
      expect((await chat(ask('small-a', 'b'), s1)).status).toBe(200);
      const third = await chat(ask('small-a', 'c'), s1);
      expect(third.status).toBe(429);
      expect(third.headers['retry-after']).toBeUndefined();
      expect((third.body as { error: { message: string } }).error.message)
        .toBe("Quota exceeded for policy 'loop-breaker' (session 'sess-1') (total, limit 2 requests): 0 requests left, this request may need up to 1 requests. This session's budget never resets: start a new session.");
      // The agents' own session headers count too (as Codex 0.169.1 and Claude Code 2.1.328 send them).
      expect((await chat(ask('small-a', 'd'), { headers: { 'session-id': '01a24b0d-00e7-7730-90c6-9e2202370404' } })).status).toBe(200);
      expect((await chat(ask('small-a', 'd2'), { headers: { 'x-claude-code-session-id': 'b6a12f12-2e8d-4a16-841b-ba0a72e65f6f' } })).status).toBe(200);
      // Without a session the policy does not count the request.
      expect((await chat(ask('small-a', 'e'))).status).toBe(200);
      expect(provider.calls).toHaveLength(5);
      expect(records.records.map((r) => r.status)).toEqual([200, 200, 429, 200, 200, 200]);
    });

    it('gives each end user of a tenant a daily budget of its own, refused with the window\'s Retry-After', async () => {
      const { chat, provider } = setup({ policies: [{ id: 'dev-daily', match: { tenant: 'acme' }, per: 'endUser', limits: [{ window: 'day', usd: 0.003 }] }] }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] });
      // Each answer reserves ~8 x $1/M + 1,000 x $2/M = $0.002008 and costs 1,000 x $1/M + 500 x $2/M = $0.002.
      for (let i = 0; i < 3; i++) provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      expect((await chat(ask('small-a', 'a', { user: 'alice', max_tokens: 1000 }))).status).toBe(200);
      const again = await chat(ask('small-a', 'b', { user: 'alice', max_tokens: 1000 }));
      expect(again.status).toBe(429);
      expect((again.body as { error: { message: string } }).error.message).toMatch(/^Quota exceeded for policy 'dev-daily' \(endUser of the request\) \(day \d{4}-\d{2}-\d{2}, limit \$0\.003000\)/);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
      expect((await chat(ask('small-a', 'c', { user: 'bob', max_tokens: 1000 }))).status).toBe(200);
    });

    it('alerts once per policy value and window as its spend crosses a threshold, naming the policy', async () => {
      const { chat, provider, alerts } = setup(
        { alertThresholds: [0.8], policies: [{ id: 'team-hourly', per: 'team', limits: [{ window: 'hour', usd: 0.01 }] }] },
        { tenants: [{ id: 'acme', team: 'research', apiKeys: [], limits: { dailyUsd: 10 } }] },
      );
      // $0.002 an answer (1,000 x $1/M + 500 x $2/M): the 4th reaches $0.008, 80% of the team's hour.
      for (let i = 0; i < 5; i++) provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      for (let i = 0; i < 5; i++) expect((await chat(ask('small-a', `q${i}`, { max_tokens: 500 }))).status).toBe(200);
      const policyAlerts = alerts.alerts.filter((a) => a.scope === 'policy');
      expect(policyAlerts).toHaveLength(1);
      expect(policyAlerts[0]).toMatchObject({ scope: 'policy', window: 'hour', unit: 'usd', threshold: 0.8, committed: 8000, limit: 10000, policy: { id: 'team-hourly', per: 'team', value: 'research' } });
    });

    it('browns out before the wall: past the policy\'s share, requests are served from the cheapest allowed tier', async () => {
      const { chat, provider, records, store } = setup(
        { policies: [{ id: 'brown', per: 'tenant', brownout: { downgradeAt: 0.5 }, limits: [{ window: 'day', usd: 0.2 }] }] },
        { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] },
      );
      // On tier large each answer costs 1,000 x $10/M + 1,000 x $30/M = $0.04; on tier small 1,000 x $1/M + 1,000 x $2/M.
      for (let i = 0; i < 6; i++) {
        provider.script('up-big', { ok: 'x', usage: usage(1000, 1000) });
        provider.script('up-small-a', { ok: 'x', usage: usage(1000, 1000) });
      }
      for (let i = 0; i < 5; i++) expect((await chat(ask('large', `q${i}`, { max_tokens: 1000 }))).status).toBe(200);
      // Each big reservation is ~$0.0301: the 3rd would pass 50% of $0.2 with the first two committed ($0.08 + $0.03).
      expect(records.records.map((r) => [r.model, r.quota_action])).toEqual([
        ['big', 'none'], ['big', 'none'], ['small-a', 'brownout_downgraded'], ['small-a', 'brownout_downgraded'], ['small-a', 'brownout_downgraded'],
      ]);
      // The released reservations left nothing behind: $0.08 + 3 x $0.003.
      const key = `policy#brown#acme#usd#${new Date(Date.UTC(2026, 10, 29)).toISOString().slice(0, 10)}`;
      expect((await store.read([key])).get(key)).toEqual({ committed: 89_000, reserved: 0 });
    });

    it('throttles past the policy\'s throttle share: throttleRpm requests a minute, then 429 until the minute ends, alerting once per stage', async () => {
      const { chat, provider, records, alerts, clock, store } = setup(
        { policies: [{ id: 'slow-down', per: 'tenant', brownout: { downgradeAt: 0.2, throttleAt: 0.5, throttleRpm: 2 }, limits: [{ window: 'day', usd: 0.02 }] }] },
        { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] },
      );
      clock.nowMs = Date.UTC(2026, 11, 6, 10, 0, 5);
      for (let i = 0; i < 12; i++) provider.script('up-small-a', { ok: 'x', usage: usage(1000, 1000) });
      // Each answer reserves ~$0.002008 and costs $0.003 on tier small (1,000 x $1/M + 1,000 x $2/M).
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await chat(ask('small-a', `q${i}`, { max_tokens: 1000 }))).status);
      // With its own reservation each sees: q0 10%, q1 25% (past downgradeAt, but small-a is already the cheapest tier),
      // q2 40%, q3 55%: from there the policy holds to 2 requests a minute, so q3 and q4 pass and q5 is refused.
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
      expect(records.records.map((r) => r.quota_action)).toEqual(['none', 'none', 'none', 'brownout_throttled', 'brownout_throttled', 'none']);
      const refused = records.records[5];
      expect(refused.status).toBe(429);
      const last = await chat(ask('small-a', 'q6', { max_tokens: 1000 }));
      expect(last.headers['retry-after']).toBe('55');
      expect((last.body as { error: { message: string; code: string } }).error).toMatchObject({
        code: 'rate_limit_exceeded',
        message: "policy 'slow-down' (tenant 'acme') is throttled to 2 requests a minute: it has used 50% or more of a budget. Retry after the minute, or raise the policy's limit.",
      });
      // Nothing stays reserved by the refused requests; the throttle counts on its own minute counter.
      const day = 'policy#slow-down#acme#usd#2026-12-06';
      expect((await store.read([day])).get(day)).toEqual({ committed: 15_000, reserved: 0 });
      // The next minute admits again.
      clock.nowMs += 60_000;
      expect((await chat(ask('small-a', 'q7', { max_tokens: 1000 }))).status).toBe(200);
      // One alert per stage and window, however many requests see it.
      expect(alerts.alerts.filter((a) => a.type === 'quota_brownout').map((a) => [a.stage, a.threshold, a.policy?.id])).toEqual([['downgrade', 0.2, 'slow-down'], ['throttle', 0.5, 'slow-down']]);
    });

    it('downgrades at the wall when the policy says so: a policy on the premium model only lets the cheaper tier serve', async () => {
      const { chat, provider, records } = setup(
        { policies: [{ id: 'big-daily', match: { model: 'big' }, onExhausted: 'downgrade', limits: [{ window: 'day', usd: 0.05 }] }] },
        { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] },
      );
      for (let i = 0; i < 3; i++) provider.script('up-big', { ok: 'x', usage: usage(1000, 1000) });
      provider.script('up-small-a', { ok: 'x', usage: usage(1000, 1000) });
      // $0.04 an answer on big; the 2nd would need up to ~$0.03 more than the $0.01 left.
      expect((await chat(ask('large', 'a', { max_tokens: 1000 }))).status).toBe(200);
      expect((await chat(ask('large', 'b', { max_tokens: 1000 }))).status).toBe(200);
      expect(records.records.map((r) => [r.model, r.quota_action])).toEqual([['big', 'none'], ['small-a', 'downgraded']]);
    });

    it('counts per API key: each key of a tenant has its own budget, matched by the 16 hex of its SHA-256', async () => {
      const { chat, provider } = setup(
        { policies: [{ id: 'per-key', per: 'apiKey', match: { apiKey: 'aaaa*' }, limits: [{ window: 'minute', requests: 1 }] }] },
        { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] },
      );
      for (let i = 0; i < 4; i++) provider.script('up-small-a', { ok: 'x', usage: usage(10, 10) });
      expect((await chat(ask('small-a', 'a'), { apiKeyId: 'aaaa000000000001' })).status).toBe(200);
      expect((await chat(ask('small-a', 'b'), { apiKeyId: 'aaaa000000000001' })).status).toBe(429);
      expect((await chat(ask('small-a', 'c'), { apiKeyId: 'aaaa000000000002' })).status).toBe(200);
      // A key the policy does not match, and a request without one, are not counted.
      expect((await chat(ask('small-a', 'd'), { apiKeyId: 'bbbb000000000001' })).status).toBe(200);
      expect((await chat(ask('small-a', 'e'), { apiKeyId: 'bbbb000000000001' })).status).toBe(200);
    });

    it('applies a tenant\'s own stored policies at run time, named <tenant>/<id>, to that tenant only', async () => {
      const { chat, provider, store } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] });
      for (let i = 0; i < 3; i++) provider.script('up-small-a', { ok: 'x', usage: usage(10, 10) });
      expect((await chat(ask('small-a', 'a'), { headers: { 'x-llm-session-id': 's1' } })).status).toBe(200);
      await store.putPolicies('acme', [{ id: 'one-per-session', per: 'session', limits: [{ window: 'total', requests: 1 }] } as never]);
      await store.putPolicies('globex', [{ id: 'nothing', limits: [{ window: 'day', requests: 1 }] } as never]);
      expect((await chat(ask('small-a', 'b'), { headers: { 'x-llm-session-id': 's2' } })).status).toBe(200);
      const refused = await chat(ask('small-a', 'c'), { headers: { 'x-llm-session-id': 's2' } });
      expect((refused.body as { error: { message: string } }).error.message).toMatch(/^Quota exceeded for policy 'acme\/one-per-session' \(session 's2'\) \(total, limit 1 requests\)/);
      // Removed at run time too (controlsCacheSeconds 0 here; 5 s by default).
      await store.putPolicies('acme', null);
      expect((await chat(ask('small-a', 'd'), { headers: { 'x-llm-session-id': 's2' } })).status).toBe(200);
    });

    it('refuses a session id that is not a plain bounded string with 400, before anything is reserved', async () => {
      const { chat, provider, store } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] });
      const r = await chat(ask('small-a'), { headers: { 'x-llm-session-id': 'x'.repeat(10_240) } });
      expect(r.status).toBe(400);
      expect((r.body as { error: { message: string; code: string } }).error).toMatchObject({ code: 'invalid_session_id', message: 'x-llm-session-id: expected up to 128 letters, digits and ._:@-, got 10240 characters.' });
      expect(provider.calls).toHaveLength(0);
      expect((await store.read([`tenant#acme#usd#${new Date().toISOString().slice(0, 10)}`])).values().next().value).toMatchObject({ reserved: 0 });
    });
  });

  describe('forecast', () => {
    it('alerts once when a month limit will run out before the month ends at the recent hourly rate', async () => {
      const { chat, provider, alerts, clock, store } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { monthlyUsd: 1 } }] });
      clock.nowMs = Date.UTC(2026, 11, 6, 10, 5);
      for (let i = 0; i < 3; i++) provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      expect((await chat(ask('small-a', 'a', { max_tokens: 500 }))).status).toBe(200);
      // $0.002 spent in the 65 minutes since 09:00 (the previous hour counts until this one is 30 minutes old):
      // 2,000 micro-dollars per 3,900,000 ms; the $0.998 left lasts 1,946,100,000 ms more, to Dec 28 (the month ends Jan 1).
      const forecasts = () => alerts.alerts.filter((a) => a.type === 'quota_forecast');
      expect(forecasts()).toEqual([expect.objectContaining({
        scope: 'tenant', window: 'month', period: '2026-12', committed: 2_000, limit: 1_000_000, ratePerHour: 1846,
        exhaustsAt: new Date(Date.UTC(2026, 11, 6, 10, 5) + 1_946_100_000).toISOString(),
      })]);
      // The rate is counted in the scope's current hour: one more counter.
      expect((await store.read(['tenant#acme#usd#2026-12-06T10'])).get('tenant#acme#usd#2026-12-06T10')).toEqual({ committed: 2_000, reserved: 0 });
      // Once per window, however often it is re-checked.
      clock.nowMs += 600_000;
      await chat(ask('small-a', 'b', { max_tokens: 500 }));
      expect(forecasts()).toHaveLength(1);
    });

    it('says when the budget runs out at this hour\'s rate: x-llm-quota-runs-out-at and /v1/usage', async () => {
      const { gateway, chat, provider, clock } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.1 } }] });
      clock.nowMs = Date.UTC(2026, 11, 6, 10, 10);
      provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      const r = await chat(ask('small-a', 'a', { max_tokens: 500 }));
      // $0.002 in the 10 minutes of this hour: $0.012 an hour; the $0.098 left lasts 490 minutes, to 18:20, before midnight.
      expect(r.headers['x-llm-quota-runs-out-at']).toBe('2026-12-06T18:20:00.000Z');
      const day = ((await gateway.usage('acme')).body as { windows: Record<string, unknown>[] }).windows.find((w) => w.window === 'day');
      expect(day).toMatchObject({ spend_rate_usd_per_hour: 0.012, runs_out_at: '2026-12-06T18:20:00.000Z' });
      // A limit that outlasts its window at this rate: no header, runs_out_at null.
      const calm = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 10 } }] });
      calm.clock.nowMs = Date.UTC(2026, 11, 6, 10, 10);
      calm.provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      expect((await calm.chat(ask('small-a', 'a', { max_tokens: 500 }))).headers['x-llm-quota-runs-out-at']).toBeUndefined();
      expect(((await calm.gateway.usage('acme')).body as { windows: Record<string, unknown>[] }).windows.find((w) => w.window === 'day')).toMatchObject({ runs_out_at: null });
    });

    it('alerts once an hour when a scope spends past spikeFactor x its trailing hourly average', async () => {
      const { chat, provider, alerts, clock, store } = setup(
        { forecast: { spikeFactor: 3, spikeTrailingHours: 4, spikeMinUsdPerHour: 0.001, checkEverySeconds: 60 } },
        { tenants: [{ id: 'acme', apiKeys: [], limits: { monthlyUsd: 1000 } }] },
      );
      // A steady $0.002 an hour over the four hours before 10:00.
      for (const h of ['06', '07', '08', '09']) await store.settle(`seed-${h}`, [{ key: `tenant#acme#usd#2026-12-06T${h}`, reserved: 0, actual: 2_000 }]);
      clock.nowMs = Date.UTC(2026, 11, 6, 10, 40);
      for (let i = 0; i < 8; i++) provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      const spikes = () => alerts.alerts.filter((a) => a.type === 'quota_spike');
      // $0.002 in 40 minutes is $0.003 an hour: under 3 x $0.002.
      await chat(ask('small-a', 'a', { max_tokens: 500 }));
      expect(spikes()).toEqual([]);
      clock.nowMs += 120_000;
      // Checked at most every checkEverySeconds per scope: these four pass unchecked ...
      for (let i = 0; i < 4; i++) await chat(ask('small-a', `b${i}`, { max_tokens: 500 }));
      expect(spikes()).toEqual([]);
      // ... and the next check, at 10:44, sees $0.012 in 44 minutes: $0.01636 an hour, past 3 x $0.002.
      clock.nowMs += 120_000;
      await chat(ask('small-a', 'c', { max_tokens: 500 }));
      expect(spikes()).toEqual([expect.objectContaining({ scope: 'tenant', window: 'hour', period: '2026-12-06T10', counter: 'tenant#acme#usd#2026-12-06T10', threshold: 3, trailingPerHour: 2_000, ratePerHour: 16_364 })]);
      clock.nowMs += 120_000;
      await chat(ask('small-a', 'd', { max_tokens: 500 }));
      expect(spikes()).toHaveLength(1);
    });

    it('stays quiet when the limit outlasts the window at that rate, and when disabled adds no hour counter', async () => {
      const quiet = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { monthlyUsd: 1000 } }] });
      quiet.clock.nowMs = Date.UTC(2026, 11, 6, 10, 5);
      await quiet.chat(ask('small-a', 'a', { max_tokens: 500 }));
      expect(quiet.alerts.alerts).toEqual([]);
      const off = setup({ forecast: { enabled: false } }, { tenants: [{ id: 'acme', apiKeys: [], limits: { monthlyUsd: 1 } }] });
      off.clock.nowMs = Date.UTC(2026, 11, 6, 10, 5);
      await off.chat(ask('small-a', 'a', { max_tokens: 500 }));
      expect(off.alerts.alerts).toEqual([]);
      expect((await off.store.read(['tenant#acme#usd#2026-12-06T10'])).get('tenant#acme#usd#2026-12-06T10')).toEqual({ committed: 0, reserved: 0 });
    });
  });

  describe('store failures', () => {
    const broken = (): QuotaStore => {
      const base = new MemoryQuotaStore();
      return Object.assign(Object.create(MemoryQuotaStore.prototype), base, {
        getControls: async () => { throw new Error('ECONNREFUSED'); },
      });
    };

    it('refuses with 503 when the store is down and the policy is fail-closed (the default)', async () => {
      const { chat, provider, records } = setup({}, { store: broken() });
      const r = await chat(ask('small-a'));
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: { code: 'quota_store_unavailable' } });
      expect(provider.calls).toHaveLength(0);
      expect(records.records[0]).toMatchObject({ status: 503, error_type: 'server_error' });
    });

    it('serves and records store_unavailable when the policy is fail-open', async () => {
      const { chat, records } = setup({ onStoreError: 'fail-open' }, { store: broken() });
      expect((await chat(ask('small-a'))).status).toBe(200);
      expect(records.records[0].quota_action).toBe('store_unavailable');
    });

    it('applies the settlements an outage lost once the store answers again, and logs the outage once a minute', async () => {
      // A store whose settle fails while `down` (each reservation went through; the outage hits its settlement).
      const memory = new MemoryQuotaStore();
      let down = true;
      const flaky: QuotaStore = Object.assign(Object.create(MemoryQuotaStore.prototype), memory, {
        settle: (id: string, entries: never) => (down ? Promise.reject(new Error('ECONNRESET')) : memory.settle(id, entries)),
      });
      const lines: Record<string, unknown>[] = [];
      const { chat, records, provider, clock } = setup({ onStoreError: 'fail-open' }, { store: flaky, ops: { write: (l) => void lines.push(l) }, tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 1 } }] });
      const key = `tenant#acme#usd#${new Date(clock.now()).toISOString().slice(0, 10)}`;
      // Three answers whose settlements fail (1000 x $1/M + 500 x $2/M = 2,000 micro-dollars each).
      for (let i = 0; i < 3; i++) {
        provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
        expect((await chat(ask('small-a', `q${i}`, { max_tokens: 500 }))).status).toBe(200);
        clock.advance(1_000);
      }
      expect(records.records.map((r) => r.quota_action)).toEqual(['settle_failed', 'settle_failed', 'settle_failed']);
      expect(lines.filter((l) => l._type === 'llm_quota_store_unavailable')).toHaveLength(1);
      // Each still holds its reservation (about 8 input + 500 output tokens: 1,008 micro-dollars); none of the cost is counted.
      expect((await memory.read([key])).get(key)).toEqual({ committed: 3_024, reserved: 3_024 });
      // The store is back: the next request applies the three (their reservations released, actual amounts committed).
      down = false;
      clock.advance(10_000);
      provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      expect((await chat(ask('small-a', 'after', { max_tokens: 500 }))).status).toBe(200);
      expect((await memory.read([key])).get(key)).toEqual({ committed: 8_000, reserved: 0 });
      expect(lines.filter((l) => l._type === 'llm_quota_settle_applied').map((l) => l.request_id)).toHaveLength(3);
      // Three settlements failed, and so did the one replay tried during the outage (at request 2's admission).
      expect(lines.find((l) => l._type === 'llm_quota_store_recovered')).toMatchObject({ failures: 4, unsettled: 0 });
    });
  });

  describe('alerts', () => {
    it('raises one alert per configured threshold as spend crosses them', async () => {
      const { chat, provider, alerts } = setup({ alertThresholds: [0.5, 0.8] }, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 0.01 } }] });
      for (let i = 0; i < 5; i++) provider.script('up-small-a', { ok: 'x', usage: usage(2000, 0) });
      for (let i = 0; i < 5; i++) await chat(ask('small-a', `q${i}`, { max_tokens: 10 }));
      expect(alerts.alerts.filter((a) => a.type === 'quota_threshold').map((a) => [a.threshold, a.committed])).toEqual([[0.5, 6000], [0.8, 8000]]);
    });
  });

  describe('/v1/usage', () => {
    it('reports used, reserved and limit per window', async () => {
      const { gateway, chat, provider } = setup({}, { tenants: [{ id: 'acme', apiKeys: [], limits: { dailyUsd: 2, requestsPerMinute: 10 } }] });
      provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      await chat(ask('small-a'));
      const body = (await gateway.usage('acme')).body as { windows: Record<string, unknown>[] };
      expect(body.windows).toEqual([
        expect.objectContaining({ window: 'minute', requests: 1, limit_requests: 10 }),
        expect.objectContaining({ window: 'day', spend_usd: 0.002, reserved_usd: 0, limit_usd: 2, remaining_usd: 1.998, tokens: 1500, reserved_tokens: 0 }),
        expect.objectContaining({ window: 'month', spend_usd: 0.002, limit_usd: null }),
      ]);
      expect((body as unknown as { policies: unknown[] }).policies).toEqual([]);
    });

    it('lists the policies that count every request of the tenant (per global, tenant or team), with what is left', async () => {
      const { gateway, chat, provider, clock } = setup({
        policies: [
          { id: 'team-week', per: 'team', limits: [{ window: 'week', usd: 5, requests: 1000 }] },
          { id: 'acme-total', match: { tenant: 'acme' }, per: 'tenant', limits: [{ window: 'total', tokens: 1_000_000 }] },
          // Not listed: counted per session, or only for one model.
          { id: 'loop-breaker', per: 'session', limits: [{ window: 'minute', usd: 1 }] },
          { id: 'opus-month', match: { model: 'big' }, limits: [{ window: 'month', usd: 100 }] },
        ],
      }, { tenants: [{ id: 'acme', team: 'research', apiKeys: [], limits: { dailyUsd: 2 } }] });
      clock.nowMs = Date.UTC(2026, 11, 2, 9, 30);
      provider.script('up-small-a', { ok: 'x', usage: usage(1000, 500) });
      await chat(ask('small-a'));
      const body = (await gateway.usage('acme')).body as { policies: Record<string, unknown>[] };
      expect(body.policies).toEqual([
        { policy: 'team-week', per: 'team', value: 'research', window: 'week', period: 'week-of-2026-11-30', resets_at: '2026-12-07T00:00:00.000Z', unit: 'usd', used: 0.002, reserved: 0, limit: 5, remaining: 4.998 },
        { policy: 'team-week', per: 'team', value: 'research', window: 'week', period: 'week-of-2026-11-30', resets_at: '2026-12-07T00:00:00.000Z', unit: 'requests', used: 1, reserved: 0, limit: 1000, remaining: 999 },
        { policy: 'acme-total', per: 'tenant', value: 'acme', window: 'total', period: 'total', resets_at: null, unit: 'tokens', used: 1500, reserved: 0, limit: 1_000_000, remaining: 998_500 },
      ]);
    });
  });
});
