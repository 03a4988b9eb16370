/**
 * Quota store benchmark (`npm run bench`), written to bench/results/quota.json: reserve + settle pairs per second,
 * as the pipeline issues them (four tenant counters plus one limited daily USD counter), on the memory store and on
 * DynamoDB's API served by dynalite on loopback. dynalite is far slower than DynamoDB itself; its figure bounds our
 * client-side cost and shows the shape (round trips per request), not production throughput.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../lambda/adapters/dynamodb-quota-store';
import { MemoryQuotaStore } from '../lambda/adapters/memory-quota-store';
import type { QuotaStore } from '../lambda/core/ports';
import { planCounters } from '../lambda/core/quota/policy';
import { LocalDynamo } from '../test/support/dynalite';

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

async function measure(store: QuotaStore, pairs: number, concurrency: number) {
  const now = Date.now();
  const plans = planCounters({ tenant: { dailyUsd: 1e9 }, feature: {}, global: {}, policies: [] }, 'bench', 'default', now, { usdMicros: 2000, tokens: 1500 });
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < pairs) {
      const id = `bench-${next++}`;
      const s = performance.now();
      const out = await store.reserve(id, plans, now + 900_000);
      if (!out.ok) throw new Error('refused');
      await store.settle(id, plans.map((p) => ({ key: p.key, reserved: p.amount, actual: p.amount - 1 })));
      latencies.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    pairs,
    concurrency,
    counters_per_request: plans.length,
    pairs_per_second: round(pairs / seconds),
    p50_ms: round(latencies[Math.floor(latencies.length / 2)], 3),
    p99_ms: round(latencies[Math.floor(latencies.length * 0.99)], 3),
  };
}

async function main() {
  const memory = await measure(new MemoryQuotaStore(), 50_000, 16);
  process.stdout.write(`memory store: ${memory.pairs_per_second} reserve+settle/s, p50 ${memory.p50_ms} ms\n`);
  const dynamo = new LocalDynamo();
  await dynamo.start();
  await ensureQuotaTable(dynamo.client, 'bench');
  let dynalite;
  try {
    const store = new DynamoDbQuotaStore(dynamo.client, 'bench');
    await measure(store, 200, 16);
    dynalite = await measure(store, 2000, 16);
  } finally {
    await dynamo.stop();
  }
  process.stdout.write(`dynamodb store on dynalite: ${dynalite.pairs_per_second} reserve+settle/s, p50 ${dynalite.p50_ms} ms\n`);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', node: process.version },
    note: 'dynalite is an in-process emulator, far slower than DynamoDB: its figure is a lower bound of the adapter, not production throughput.',
    memory,
    dynamodb_on_dynalite: dynalite,
  };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'quota.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write('wrote bench/results/quota.json\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
