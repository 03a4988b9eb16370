/**
 * The cost of the governance checks (`npm run bench:governance`, issue 33), written to
 * bench/results/governance-cost.json. Two configs through the whole gateway pipeline (chat, non-streamed, a scripted
 * upstream that answers at once):
 * - `today`: what a tenant had before policies: day and month USD limits (4 counters), no forecast;
 * - `governed`: the same plus policies on 6 scopes (tenant, feature, team, end user, session, API key) x 3 windows
 *   (minute, hour, day) in USD, and the forecast's hour counters.
 * It reports, per request:
 * - DynamoDB calls by command (dynalite serves the API; a wrapper counts each `send`) and the write units they cost;
 * - sequential DynamoDB round trips, counted (waves of calls: calls sent together count once; see countingClient) and
 *   timed (each call delayed by DELAY_MS: (median latency with the delay - without) / DELAY_MS), and the calls of one
 *   request wave by wave;
 * - the in-process cost: median time per request on the memory store (no I/O), governed minus today.
 * Medians of REQUESTS sequential requests per run; the two configs alternate so machine noise hits both alike.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import { MemoryQuotaStore } from '../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, NullUsageSink } from '../lambda/adapters/usage-sinks';
import { systemClock } from '../lambda/adapters/system-runtime';
import { resolveConfig } from '../lambda/core/config/resolve';
import type { GatewayConfigInput } from '../lambda/core/config/schema';
import { UNIT_PRICES } from '../lambda/core/finops/estimate';
import { Gateway, type JsonResult } from '../lambda/core/pipeline';
import type { ChatProvider, ProviderResponse, ProviderStreamEvent, QuotaStore } from '../lambda/core/ports';
import { LocalDynamo } from '../test/support/dynalite';
import { SeqIds, sha256, usage } from '../test/support/fakes';
import { testConfig } from '../test/support/config';

const REQUESTS = Number(process.env.GOVERNANCE_REQUESTS ?? 300);
const DELAY_MS = 4;

class InstantUpstream implements ChatProvider {
  async complete(): Promise<ProviderResponse> {
    return {
      completion: { id: 'c', object: 'chat.completion', created: 1, model: 'up-small-a', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] },
      usage: usage(40, 20),
    };
  }
  // eslint-disable-next-line require-yield
  async *stream(): AsyncGenerator<ProviderStreamEvent> {
    throw new Error('not streamed here');
  }
}

const SCOPES = ['tenant', 'feature', 'team', 'endUser', 'session', 'apiKey'] as const;
const QUOTA: Record<'today' | 'governed', NonNullable<GatewayConfigInput['quota']>> = {
  today: { forecast: { enabled: false }, fitOutputToBudget: { enabled: false } },
  governed: {
    fitOutputToBudget: { enabled: false },
    policies: SCOPES.map((per) => ({ id: `per-${per.toLowerCase()}`, per, limits: ['minute', 'hour', 'day'].map((window) => ({ window: window as 'minute', usd: 1000 })) })),
  },
};

function gatewayFor(kind: 'today' | 'governed', store: QuotaStore): Gateway {
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
    tenants: [{ id: 'acme', team: 'research', apiKeys: [], limits: { dailyUsd: 1000, monthlyUsd: 10_000 } }],
    quota: { controlsCacheSeconds: 60, ...QUOTA[kind] },
    cache: { exact: { enabled: false } },
  }));
  return new Gateway({ config, providers: new Map([['up', new InstantUpstream()]]), quota: store, usage: new NullUsageSink(), alerts: new MemoryAlertSink(), clock: systemClock, ids: new SeqIds(), sha256 });
}

/** One request that every governed policy counts: a feature, an end user, a session and an API key. */
async function ask(g: Gateway, i: number): Promise<number> {
  const body = JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 100, user: `dev-${i % 7}` });
  const t0 = performance.now();
  const r = (await g.chat({
    tenantId: 'acme', apiKeyId: 'aaaa000000000001', feature: 'agent', body, bodyBytes: body.length,
    header: (n) => (n === 'x-llm-session-id' ? `s-${i % 5}` : undefined),
  })) as JsonResult;
  if (r.status !== 200) throw new Error(`request ${i}: ${r.status} ${JSON.stringify(r.body)}`);
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Counts each DynamoDB call by command, and the waves of calls: a wave starts when a call is sent while none is in
 * flight, so calls sent together (Promise.all) make one wave and calls awaited one after another make one each: the
 * round trips a request waits for, counted exactly. Each call can also be delayed by `delay.ms` (a network's round trip).
 */
function countingClient(real: DynamoDBClient, counts: Map<string, number>, delay: { ms: number }, log?: string[]): DynamoDBClient {
  let inFlight = 0;
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return async (cmd: { constructor: { name: string } }) => {
        counts.set(cmd.constructor.name, (counts.get(cmd.constructor.name) ?? 0) + 1);
        if (inFlight++ === 0) counts.set('waves', (counts.get('waves') ?? 0) + 1);
        log?.push(`${inFlight === 1 ? 'wave ' : '     '}${cmd.constructor.name}`);
        try {
          if (delay.ms) await new Promise((r) => setTimeout(r, delay.ms));
          return await (target.send as (c: unknown) => Promise<unknown>)(cmd);
        } finally {
          inFlight--;
        }
      };
    },
  });
}

async function main() {
  const dynamo = new LocalDynamo();
  await dynamo.start();
  try {
    const out: Record<string, unknown> = {};
    const inProcess: Record<string, number> = {};
    // In process: the memory store, no I/O.
    const mem = { today: gatewayFor('today', new MemoryQuotaStore()), governed: gatewayFor('governed', new MemoryQuotaStore()) };
    const memLat: Record<string, number[]> = { today: [], governed: [] };
    for (let i = 0; i < 200; i++) await Promise.all([ask(mem.today, -i), ask(mem.governed, -i)]);
    for (let i = 0; i < REQUESTS * 5; i++) for (const k of ['today', 'governed'] as const) memLat[k].push(await ask(mem[k], i));
    for (const k of ['today', 'governed'] as const) inProcess[k] = median(memLat[k]);

    for (const kind of ['today', 'governed'] as const) {
      const table = `gov-${kind}`;
      await ensureQuotaTable(dynamo.client, table);
      const counts = new Map<string, number>();
      const delay = { ms: 0 };
      const log: string[] = [];
      const g = gatewayFor(kind, new DynamoDbQuotaStore(countingClient(dynamo.client, counts, delay, log), table));
      for (let i = 0; i < 20; i++) await ask(g, 10_000 + i);
      log.length = 0;
      await ask(g, 20_000);
      // One line per wave: its calls by command, e.g. "UpdateItemCommand x4".
      const oneRequest = log.splice(0).join('\n').split('wave ').filter(Boolean).map((wave) => {
        const n = new Map<string, number>();
        for (const c of wave.split('\n').map((l) => l.trim()).filter(Boolean)) n.set(c, (n.get(c) ?? 0) + 1);
        return [...n].map(([c, k]) => `${c} x${k}`).join(', ');
      });
      counts.clear();
      const plain: number[] = [];
      const delayed: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        delay.ms = 0;
        plain.push(await ask(g, i));
        delay.ms = DELAY_MS;
        delayed.push(await ask(g, REQUESTS + i));
      }
      const waves = (counts.get('waves') ?? 0) / (2 * REQUESTS);
      counts.delete('waves');
      const perRequest = Object.fromEntries([...counts].map(([cmd, n]) => [cmd, Math.round((n / (2 * REQUESTS)) * 100) / 100]));
      // Each counter write is one write unit (items under 1 KB); reads are the controls (cached 60 s here).
      const writes = (perRequest.PutItemCommand ?? 0) + (perRequest.UpdateItemCommand ?? 0) + (perRequest.DeleteItemCommand ?? 0);
      out[kind] = {
        dynamodb_calls_per_request: perRequest,
        write_units_per_request: Math.round(writes * 100) / 100,
        dynamodb_write_usd_per_million_requests: Math.round(writes * UNIT_PRICES.dynamoDbWritePerMillion.usd * 100) / 100,
        median_ms_dynalite: Math.round(median(plain) * 100) / 100,
        median_ms_with_delay: Math.round(median(delayed) * 100) / 100,
        sequential_round_trips: Math.round(waves * 100) / 100,
        sequential_round_trips_timed: Math.round(((median(delayed) - median(plain)) / DELAY_MS) * 10) / 10,
        calls_of_one_request: oneRequest,
        in_process_median_ms: Math.round(inProcess[kind] * 1000) / 1000,
      };
    }
    const t = out.today as { sequential_round_trips: number; in_process_median_ms: number };
    const gv = out.governed as { sequential_round_trips: number; in_process_median_ms: number };
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
      note: `Whole pipeline, non-streamed, instant upstream; dynalite in process. ${REQUESTS} requests per measure; each DynamoDB call delayed ${DELAY_MS} ms to count the round trips a request waits for.`,
      governed_policies: `6 scopes (${SCOPES.join(', ')}) x 3 windows (minute, hour, day), USD`,
      ...out,
      extra_round_trips: Math.round((gv.sequential_round_trips - t.sequential_round_trips) * 10) / 10,
      extra_in_process_ms: Math.round((gv.in_process_median_ms - t.in_process_median_ms) * 1000) / 1000,
    };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', 'governance-cost.json'), `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await dynamo.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
