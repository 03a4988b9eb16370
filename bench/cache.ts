/**
 * Semantic-cache benchmark (`npm run bench`), written to bench/results/cache.json.
 *  1. Embedded index lookups (int8, 1024 dimensions as the local embedder makes) at 10k and 100k entries, all in
 *     one tenant and context (the worst case: a search scans its whole partition), p50/p99 over 200 queries;
 *     plus the resident memory the entries add.
 *  2. End-to-end hit latency through `llm-finops local` over loopback (exact and semantic hits), p50/p99, with
 *     a loopback upstream for the first (miss) call.
 *  3. The QQP sweep's headline rows (the same as `llm-finops cache eval`), so the report and the code agree.
 * Machine-dependent: compare ratios and orders of magnitude, not absolute times, across machines.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { EmbeddedSemanticIndex } from '../lambda/adapters/embedded-semantic-index';
import { LexicalEmbedder } from '../lambda/adapters/lexical-embedder';
import { evaluatePairs, parsePairs, sweepThresholds } from '../lambda/core/cache/evaluate';
import { ALL_GUARDS, NO_GUARDS } from '../lambda/core/cache/guards';
import type { CachedCompletion } from '../lambda/core/ports';
import { KEYS, testConfig } from '../test/support/config';
import { startLocal } from '../test/support/local';
import { FakeUpstream } from '../test/support/upstream';

const ROOT = join(__dirname, '..');
const QQP = join(ROOT, '..', 'shared', 'data', 'cache-dev-qqp.jsonl');

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000;
};

const answer: CachedCompletion = {
  completion: { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'A short cached answer.' }, finish_reason: 'stop' }] },
  usage: { inputTokens: 40, outputTokens: 8, cacheReadTokens: 0, cacheWriteTokens: 0 },
  modelId: 'm', tier: 't', storedAtMs: 0,
};

async function indexLookups(entries: number) {
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-index-'));
  const embedder = new LexicalEmbedder();
  const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const index = new EmbeddedSemanticIndex({ path: dir, maxEntries: entries });
  const t0 = performance.now();
  for (let i = 0; i < entries; i++) {
    await index.put('acme', 'ctx', embedder.embedOne(`question number ${i} about topic ${i % 977} and item ${i % 113}`), { prompt: `q${i}`, value: answer }, 86_400_000);
  }
  const loadMs = performance.now() - t0;
  const mem = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore;
  const times: number[] = [];
  for (let q = 0; q < 200; q++) {
    const v = embedder.embedOne(`question number ${q * 37} about topic ${q % 977} and item ${q % 113}`);
    const s = performance.now();
    await index.search('acme', 'ctx', v, 0.65, 5);
    times.push(performance.now() - s);
  }
  index.close();
  const reopen = performance.now();
  new EmbeddedSemanticIndex({ path: dir, maxEntries: entries }).close();
  const reopenMs = performance.now() - reopen;
  rmSync(dir, { recursive: true, force: true });
  return {
    entries, dimensions: embedder.dimensions, lookup_p50_ms: pct(times, 50), lookup_p99_ms: pct(times, 99),
    put_per_s: Math.round(entries / (loadMs / 1000)), reopen_ms: Math.round(reopenMs), approx_memory_mb: Math.round(mem / 1e6),
  };
}


async function endToEnd(n: number) {
  const upstream = new FakeUpstream();
  await upstream.start();
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-e2e-'));
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(testConfig(upstream.baseUrl, {
    cache: { exact: { enabled: true }, semantic: { enabled: true, index: { type: 'embedded', path: 'idx' } } },
  })));
  const { proc, baseUrl } = await startLocal(configPath);
  const client = new OpenAI({ apiKey: KEYS.acme, baseURL: baseUrl, maxRetries: 0 });
  const ask = (content: string) => ({ model: 'small-a', messages: [{ role: 'user' as const, content }], temperature: 0 });
  const measure = async (content: string, expect: string) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await client.chat.completions.create(ask(content)).withResponse();
      times.push(performance.now() - t0);
      if (r.response.headers.get('x-llm-cache') !== expect) throw new Error(`expected ${expect}, got ${r.response.headers.get('x-llm-cache')}`);
    }
    return { p50_ms: pct(times, 50), p99_ms: pct(times, 99) };
  };
  await client.chat.completions.create(ask('How can I reset my password?'));
  const exact = await measure('How can I reset my password?', 'hit-exact');
  const semantic = await measure('how do I reset my password', 'hit-semantic');
  proc.kill('SIGTERM');
  await upstream.stop();
  rmSync(dir, { recursive: true, force: true });
  return { requests_each: n, exact_hit: exact, semantic_hit: semantic };
}

function qqp() {
  const pairs = parsePairs(readFileSync(QQP, 'utf8'), QQP);
  const e = new LexicalEmbedder();
  const scored = pairs.map((p) => {
    const [a, b] = [e.embedOne(p.a), e.embedOne(p.b)];
    let d = 0;
    for (let i = 0; i < a.length; i++) d += a[i] * b[i];
    return { ...p, similarity: d };
  });
  return {
    data: 'cache-dev-qqp.jsonl (6,000 pairs, 2,254 duplicates)',
    embedder: e.id,
    no_guards: evaluatePairs(scored, { thresholds: sweepThresholds(), guards: NO_GUARDS }),
    all_guards: evaluatePairs(scored, { thresholds: sweepThresholds(), guards: ALL_GUARDS }),
    each_guard_alone_at_0_65: Object.fromEntries(Object.keys(ALL_GUARDS).map((g) => [g, evaluatePairs(scored, { thresholds: [0.65], guards: { ...NO_GUARDS, [g]: true } })[0]])),
    all_but_one_at_0_65: Object.fromEntries(Object.keys(ALL_GUARDS).map((g) => [`without_${g}`, evaluatePairs(scored, { thresholds: [0.65], guards: { ...ALL_GUARDS, [g]: false } })[0]])),
  };
}

(async () => {
  const index = [];
  for (const n of [10_000, 100_000]) {
    const r = await indexLookups(n);
    index.push(r);
    process.stdout.write(`embedded index ${n} entries: lookup p50 ${r.lookup_p50_ms} ms, p99 ${r.lookup_p99_ms} ms, ${r.put_per_s} puts/s, reopen ${r.reopen_ms} ms, ~${r.approx_memory_mb} MB\n`);
  }
  const e2e = await endToEnd(200);
  process.stdout.write(`through llm-finops local: exact hit p50 ${e2e.exact_hit.p50_ms} ms, semantic hit p50 ${e2e.semantic_hit.p50_ms} ms\n`);
  const quality = qqp();
  const at = quality.all_guards.find((r) => r.threshold === 0.65)!;
  process.stdout.write(`QQP all guards at 0.65: recall ${at.recall}, wrong-hit share ${at.wrong_hit_share}\n`);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'cache.json'), `${JSON.stringify({
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(),
    embedded_index: index, end_to_end: e2e, qqp: quality,
  }, null, 2)}\n`);
})();
