/**
 * Soak benchmark (`npm run bench:soak`, also in `npm run bench`), written to bench/results/soak.json.
 *
 * 100k requests through the core pipeline in this process (memory quota store, exact cache, semantic tier on the
 * memory index with the local embedder, an instant provider), every request under another system prompt, as a busy
 * multi-tenant gateway sees them: RSS is sampled every 10k requests and must stay flat (the memory index once grew
 * from 99 MB to 998 MB in a straight line over 150k such requests). Then the semantic tier's throughput as one
 * conversation's partition fills from empty to its 5,000-entry bound (a brute-force scan: it falls as the partition
 * grows; see docs/reliability.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LexicalEmbedder } from '../lambda/adapters/lexical-embedder';
import { MemoryExactCache } from '../lambda/adapters/memory-exact-cache';
import { MemoryQuotaStore } from '../lambda/adapters/memory-quota-store';
import { MemorySemanticIndex } from '../lambda/adapters/memory-semantic-index';
import { MemoryAlertSink, NullUsageSink } from '../lambda/adapters/usage-sinks';
import { sha256, systemClock, systemIds } from '../lambda/adapters/system-runtime';
import { resolveConfig } from '../lambda/core/config/resolve';
import { Gateway } from '../lambda/core/pipeline';
import type { ChatProvider, ProviderCall, ProviderResponse, ProviderStreamEvent } from '../lambda/core/ports';
import { testConfig } from '../test/support/config';

const ROOT = join(__dirname, '..');
const TOTAL = Number(process.env.SOAK_REQUESTS ?? 100_000);

class InstantProvider implements ChatProvider {
  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const text = `Answer to: ${call.request.messages.at(-1)?.content}`;
    return {
      completion: { id: 'c', object: 'chat.completion', created: 1, model: call.model.id, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }] },
      usage: { inputTokens: 40, outputTokens: 8, cacheReadTokens: 0, cacheWriteTokens: 0 },
    };
  }

  stream(): AsyncIterable<ProviderStreamEvent> {
    throw new Error('the soak sends no streamed requests');
  }
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

function gateway(index: MemorySemanticIndex) {
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
    cache: { exact: { enabled: true, maxTemperature: 1 }, semantic: { enabled: true, index: { type: 'memory', maxEntriesPerPartition: 5_000, maxEntries: 50_000, maxMegabytes: 128 } } },
    tenants: Array.from({ length: 8 }, (_, i) => ({ id: `tenant-${i}`, apiKeys: [] })),
  }));
  return new Gateway({
    config, providers: new Map([['up', new InstantProvider()]]), quota: new MemoryQuotaStore(),
    exactCache: new MemoryExactCache(10_000), semantic: { embedder: new LexicalEmbedder(), index },
    usage: new NullUsageSink(), alerts: new MemoryAlertSink(), clock: systemClock, ids: systemIds, sha256,
  });
}

async function soak() {
  // The defaults the config gives a memory index: 50,000 entries, 128 MiB.
  const index = new MemorySemanticIndex(5_000, Date.now, { maxEntries: 50_000, maxBytes: 128 * 1024 * 1024 });
  const gw = gateway(index);
  const samples: { requests: number; rss_mb: number; heap_mb: number; index_entries: number; req_per_s: number }[] = [];
  let t0 = performance.now();
  for (let i = 1; i <= TOTAL; i++) {
    const body = JSON.stringify({
      model: 'small-a', temperature: 0,
      messages: [{ role: 'system', content: `You are assistant number ${i} for customer ${i * 7919 % 100_003}.` }, { role: 'user', content: `What is the status of order ${i}?` }],
    });
    const r = await gw.chat({ tenantId: `tenant-${i % 8}`, body, bodyBytes: body.length });
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    if (i % 10_000 === 0) {
      global.gc?.();
      const m = process.memoryUsage();
      const dt = (performance.now() - t0) / 1000;
      samples.push({ requests: i, rss_mb: mb(m.rss), heap_mb: mb(m.heapUsed), index_entries: index.size, req_per_s: Math.round(10_000 / dt) });
      process.stdout.write(`  ${i} requests: rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)} MB, index ${index.size} entries\n`);
      t0 = performance.now();
    }
  }
  return samples;
}

/** One conversation filling its partition: the semantic tier's requests per second (misses: embed + scan) at each size. */
async function semanticTier() {
  const index = new MemorySemanticIndex(5_000, Date.now, { maxEntries: 50_000 });
  const gw = gateway(index);
  const out: { partition_entries: number; req_per_s: number }[] = [];
  const n = 300;
  let i = 0;
  for (const target of [0, 1_000, 2_500, 5_000]) {
    while (index.size < target) {
      const body = JSON.stringify({ model: 'small-a', temperature: 0, messages: [{ role: 'user', content: `Distinct question number ${i++} about item ${i * 31}` }] });
      await gw.chat({ tenantId: 'tenant-0', body, bodyBytes: body.length });
    }
    const t0 = performance.now();
    for (let k = 0; k < n; k++) {
      // Unique text, so the exact tier misses and the semantic tier embeds and scans the whole partition.
      const body = JSON.stringify({ model: 'small-a', temperature: 0, messages: [{ role: 'user', content: `Lookup ${target} ${k} qqx ${k * 17}` }] });
      const r = await gw.chat({ tenantId: 'tenant-0', body, bodyBytes: body.length, cacheBypass: false });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
    }
    out.push({ partition_entries: index.size, req_per_s: Math.round(n / ((performance.now() - t0) / 1000)) });
  }
  return out;
}

async function main() {
  process.stdout.write(`soak: ${TOTAL} requests, each under another system prompt\n`);
  const samples = await soak();
  const first = samples[0];
  const lastSample = samples[samples.length - 1];
  process.stdout.write('semantic tier as a partition fills:\n');
  const tier = await semanticTier();
  for (const t of tier) process.stdout.write(`  ${t.partition_entries} entries: ${t.req_per_s} req/s\n`);
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model.split(' ').slice(0, 2).join(' '), node: process.version, platform: process.platform },
    soak: { requests: TOTAL, samples, rss_growth_mb: Math.round((lastSample.rss_mb - first.rss_mb) * 10) / 10 },
    semantic_tier: tier,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`rss ${first.rss_mb} MB after ${first.requests} -> ${lastSample.rss_mb} MB after ${lastSample.requests}; wrote bench/results/soak.json\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
