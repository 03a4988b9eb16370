/**
 * The runaway-loop benchmark (`npm run bench:runaway`, issue 33), written to bench/results/runaway.json: 50 agents that
 * each send a request as soon as the last one answers, through 4 gateway instances sharing one quota table (DynamoDB's
 * API served by dynalite), against an upstream that answers after 0.3-0.9 s (simulated). A policy caps the tenant at
 * `minuteUsd` a minute and `hourUsd` an hour; the tenant's month limit is `monthUsd`.
 *
 * Time runs 30 x faster than the wall clock (one real second is 30 simulated seconds) through the gateways' Clock, so
 * an hour of looping takes two minutes. What it measures, in simulated time:
 * - committed spend in every minute and hour window against its limit (overshoot must be 0);
 * - how long each minute window kept admitting requests after its first refusal (a loop stopped within the window);
 * - when the forecast alert fired, and what share of the month limit was spent by then (the goal: before 50%).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../lambda/adapters/usage-sinks';
import { resolveConfig } from '../lambda/core/config/resolve';
import { Gateway, type JsonResult } from '../lambda/core/pipeline';
import type { ChatProvider, Clock, ProviderCall, ProviderResponse, ProviderStreamEvent } from '../lambda/core/ports';
import { policyWindowAt } from '../lambda/core/quota/policy';
import { LocalDynamo } from '../test/support/dynalite';
import { SeqIds, sha256, usage } from '../test/support/fakes';
import { testConfig } from '../test/support/config';

const SPEEDUP = 30;
const AGENTS = 50;
const INSTANCES = 4;
const SIMULATED_MINUTES = Number(process.env.RUNAWAY_MINUTES ?? 70);
const LIMITS = { minuteUsd: 0.15, hourUsd: 5, monthUsd: 100 };

/** Simulated time: starts at 10:00:05 UTC on 2026-12-07 and runs SPEEDUP x the wall clock. */
class FastClock implements Clock {
  private readonly t0 = performance.now();
  readonly startMs = Date.UTC(2026, 11, 7, 10, 0, 5);
  now(): number {
    return this.startMs + (performance.now() - this.t0) * SPEEDUP;
  }
  monotonic(): number {
    return performance.now();
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms / SPEEDUP));
  }
}

/** An upstream that answers 2,000 input and 800 output tokens after 0.3-0.9 s of simulated time: $0.0036 at $1/$2 per M. */
class SlowUpstream implements ChatProvider {
  calls = 0;
  async complete(call: ProviderCall): Promise<ProviderResponse> {
    this.calls++;
    await new Promise((r) => setTimeout(r, (300 + Math.random() * 600) / SPEEDUP));
    return {
      completion: { id: 'c', object: 'chat.completion', created: 1, model: call.model.config.upstreamModel, choices: [{ index: 0, message: { role: 'assistant', content: 'again' }, finish_reason: 'stop' }] },
      usage: usage(2000, 800),
    };
  }
  // eslint-disable-next-line require-yield
  async *stream(): AsyncGenerator<ProviderStreamEvent> {
    throw new Error('the loop does not stream');
  }
}

async function main() {
  const dynamo = new LocalDynamo();
  await dynamo.start();
  try {
    await ensureQuotaTable(dynamo.client, 'runaway');
    const store = new DynamoDbQuotaStore(dynamo.client, 'runaway');
    const clock = new FastClock();
    const upstream = new SlowUpstream();
    const records = new MemoryUsageSink();
    const alerts = new MemoryAlertSink();
    const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
      tenants: [{ id: 'acme', apiKeys: [], limits: { monthlyUsd: LIMITS.monthUsd } }],
      quota: {
        controlsCacheSeconds: 60,
        fitOutputToBudget: { enabled: false },
        policies: [{ id: 'runaway', per: 'tenant', limits: [{ window: 'minute', usd: LIMITS.minuteUsd }, { window: 'hour', usd: LIMITS.hourUsd }] }],
      },
      cache: { exact: { enabled: false } },
    }));
    const ids = new SeqIds();
    const gateways = Array.from({ length: INSTANCES }, () => new Gateway({ config, providers: new Map([['up', upstream]]), quota: store, usage: records, alerts, clock, ids, sha256 }));
    const endAt = clock.startMs + SIMULATED_MINUTES * 60_000;
    const events: { at: number; status: number }[] = [];
    // An agent's context: ~6,000 bytes, which the gateway estimates at 2,000 input tokens (bytes / 3, on the high side):
    // what the upstream then reports, so every reservation covers its answer as a real upstream's would.
    const context = 'Continue the task with the files above. '.repeat(150);
    const body = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: context }], max_tokens: 800 });
    await Promise.all(Array.from({ length: AGENTS }, async (_, agent) => {
      let i = agent;
      while (clock.now() < endAt) {
        // When the request arrived: the window its reservation was made in.
        const at = clock.now();
        const r = (await gateways[i++ % INSTANCES].chat({ tenantId: 'acme', body, bodyBytes: body.length })) as JsonResult;
        events.push({ at, status: r.status });
        // A refused agent retries at once, as a naive loop would (the Retry-After is ignored).
        if (r.status !== 200) await new Promise((res) => setTimeout(res, 5));
      }
    }));
    // Counters of every minute and hour window the run touched.
    const minutes = new Set<string>();
    const hours = new Set<string>();
    for (let t = clock.startMs; t <= endAt; t += 60_000) {
      minutes.add(policyWindowAt('minute', t).label);
      hours.add(policyWindowAt('hour', t).label);
    }
    const read = async (labels: Set<string>) => {
      const keys = [...labels].map((l) => `policy#runaway#acme#usd#${l}`);
      const state = await store.read(keys);
      return keys.map((k) => state.get(k)!.committed);
    };
    const minuteSpend = await read(minutes);
    const hourSpend = await read(hours);
    // Per minute window (by arrival): the requests admitted after its first refusal, which only released reservations
    // (actual below reserved) can make room for.
    const byMinute = new Map<string, { firstRefusal?: number; admittedAfter: number; lastAdmitAfter?: number }>();
    for (const e of [...events].sort((a, b) => a.at - b.at)) {
      const label = policyWindowAt('minute', e.at).label;
      const w = byMinute.get(label) ?? { admittedAfter: 0 };
      if (e.status === 429 && w.firstRefusal === undefined) w.firstRefusal = e.at;
      if (e.status === 200 && w.firstRefusal !== undefined) {
        w.admittedAfter++;
        w.lastAdmitAfter = e.at;
      }
      byMinute.set(label, w);
    }
    const refusedWindows = [...byMinute.values()].filter((w) => w.firstRefusal !== undefined);
    const admittedAfterRefusal = refusedWindows.filter((w) => w.lastAdmitAfter !== undefined).map((w) => (w.lastAdmitAfter! - w.firstRefusal!) / 1000);
    const forecast = alerts.alerts.find((a) => a.type === 'quota_forecast' && a.window === 'month');
    const monthKey = `tenant#acme#usd#${policyWindowAt('month', clock.startMs).label}`;
    const monthSpent = (await store.read([monthKey])).get(monthKey)!.committed;
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
      note: `Simulated time at ${SPEEDUP} x; dynalite (in-process) serves DynamoDB's API. ${AGENTS} looping agents, ${INSTANCES} gateway instances, one table.`,
      limits: LIMITS,
      simulated_minutes: SIMULATED_MINUTES,
      requests: events.length,
      admitted: events.filter((e) => e.status === 200).length,
      refused: events.filter((e) => e.status === 429).length,
      other_statuses: [...new Set(events.map((e) => e.status).filter((s) => s !== 200 && s !== 429))],
      upstream_calls: upstream.calls,
      max_minute_spend_usd: Math.max(...minuteSpend) / 1e6,
      minute_overshoot_usd: Math.max(0, Math.max(...minuteSpend) - LIMITS.minuteUsd * 1e6) / 1e6,
      hour_spend_usd: hourSpend.map((m) => m / 1e6),
      hour_overshoot_usd: Math.max(0, Math.max(...hourSpend) - LIMITS.hourUsd * 1e6) / 1e6,
      minute_windows_with_refusals: refusedWindows.length,
      admitted_after_first_refusal_in_its_minute: refusedWindows.reduce((n, w) => n + w.admittedAfter, 0),
      max_seconds_admitting_after_first_refusal_in_a_minute: admittedAfterRefusal.length ? Math.max(...admittedAfterRefusal) : 0,
      forecast_alert: forecast
        ? { simulated_minutes_after_start: (Date.parse(forecast.ts) - clock.startMs) / 60_000, month_share_spent_then: forecast.committed / forecast.limit, exhausts_at: forecast.exhaustsAt, rate_per_hour_usd: (forecast.ratePerHour ?? 0) / 1e6 }
        : null,
      month_spent_usd: monthSpent / 1e6,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'runaway.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write('wrote bench/results/runaway.json\n');
  } finally {
    // Work the gateways start off the request path (the once-a-minute sweep) must end before the store does.
    await new Promise((r) => setTimeout(r, 2_000));
    await dynamo.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
