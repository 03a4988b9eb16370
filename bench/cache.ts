/**
 * Semantic-cache benchmark (`npm run bench`), written to bench/results/cache.json.
 *  1. Embedded index lookups at 10k and 100k entries in one tenant and context, scanned and through the HNSW graph
 *     (usearch), p50/p99 over 200 queries, the graph's recall@10 against the scan, puts/s, reopen, memory; on dense
 *     512-d vectors (the sentence encoder's size) and on the lexical embedder's 1,024-d sparse ones.
 *  2. End-to-end hit latency through `llm-finops local` over loopback (exact and semantic hits, the semantic one on
 *     the sentence encoder, local's default), p50/p99, with a loopback upstream for the first (miss) call.
 *  3. The sentence encoder's cost (install MB, load, RSS, ms per text) and `llm-finops local` start-up with it.
 *  4. The default configs (lexical and sentence) on both dev pair files, all rows and the odd half, with the TF-IDF
 *     baseline at the same recall on QQP (bench/tfidf.ts); and the lexical embedder's QQP sweep per guard.
 *  5. Throughput of the semantic tier through `llm-finops local` on a mixed load (`CACHE_BENCH_PART=throughput` runs
 *     only this part): 16 concurrent clients, a third new questions, a third exact repeats, a third rewordings of an
 *     earlier question (QQP duplicates), each embedder in its own gateway process; req/s and the gateway's RSS.
 * Machine-dependent: compare ratios and orders of magnitude, not absolute times, across machines.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { EmbeddedSemanticIndex } from '../lambda/adapters/embedded-semantic-index';
import { LexicalEmbedder } from '../lambda/adapters/lexical-embedder';
import { SENTENCE_PACKAGES, SentenceEmbedder } from '../lambda/adapters/sentence-embedder';
import { builtinSentenceVerifier } from '../lambda/adapters/sentence-verifier';
import { evaluatePairs, parsePairs, scorePairs, splitHalves, sweepThresholds } from '../lambda/core/cache/evaluate';
import { DEFAULT_SEMANTIC_THRESHOLD, semanticGuards } from '../lambda/core/config/resolve';
import { ALL_GUARDS, NO_GUARDS } from '../lambda/core/cache/guards';
import type { CachedCompletion, Embedder } from '../lambda/core/ports';
import { KEYS, testConfig } from '../test/support/config';
import { startLocal } from '../test/support/local';
import { clusteredVectors } from '../test/support/vectors';
import { percentile } from './percentile';
import { FakeUpstream } from '../test/support/upstream';
import { tfidfCurve } from './tfidf';

const ROOT = join(__dirname, '..');
const QQP = join(ROOT, '..', 'shared', 'data', 'cache-dev-qqp.jsonl');
const PARAPHRASES = join(ROOT, '..', 'shared', 'data', 'cache-dev-paraphrases.jsonl');

const pct = (xs: number[], p: number): number => percentile(xs, p);

const answer: CachedCompletion = {
  completion: { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'A short cached answer.' }, finish_reason: 'stop' }] },
  usage: { inputTokens: 40, outputTokens: 8, cacheReadTokens: 0, cacheWriteTokens: 0 },
  modelId: 'm', tier: 't', storedAtMs: 0,
};

/**
 * Lookups in one tenant and context of `entries` (the worst case for a scan), p50/p99 over 200 queries, for the
 * index as configured by default (an HNSW graph past 2,000 entries) and as a plain scan (annMinEntries 0), and the
 * graph's recall@10 against the scan's exact top 10. Vectors: the lexical embedder's (1,024-d, sparse) or clustered
 * dense 512-d ones (the sentence encoder's size). Also puts/s, reopen time and the memory the entries add.
 */
async function indexLookups(entries: number, kind: 'lexical' | 'dense512') {
  const embedder = new LexicalEmbedder();
  const vectors = kind === 'lexical'
    ? Array.from({ length: entries }, (_, i) => embedder.embedOne(`question number ${i} about topic ${i % 977} and item ${i % 113}`))
    : clusteredVectors(entries, 512, 1000, 7);
  // Dense queries: a stored vector moved a little (a paraphrase of a cached prompt), the case a cache lookup is for.
  const near = clusteredVectors(200, 512, 1, 99);
  const queries = kind === 'lexical'
    ? Array.from({ length: 200 }, (_, q) => embedder.embedOne(`question number ${q * 37} about topic ${q % 977} and item ${q % 113}`))
    : near.map((noise, q) => {
      const v = vectors[(q * 37) % entries].map((c, d) => c + 0.3 * noise[d]);
      const norm = Math.hypot(...v);
      return v.map((c) => c / norm);
    });
  const run = async (annMinEntries: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-index-'));
    const before = process.memoryUsage();
    const index = new EmbeddedSemanticIndex({ path: dir, maxEntries: entries, annMinEntries, ...(process.env.ANN_CANDIDATES ? { annCandidates: Number(process.env.ANN_CANDIDATES) } : {}) });
    const t0 = performance.now();
    for (let i = 0; i < entries; i++) await index.put('acme', 'ctx', vectors[i], { prompt: `q${i}`, value: answer }, 86_400_000);
    const loadMs = performance.now() - t0;
    const after = process.memoryUsage();
    const times: number[] = [];
    const results: { prompt: string; score: number }[][] = [];
    for (const v of queries) {
      const s = performance.now();
      const hits = await index.search('acme', 'ctx', v, -1, 10);
      times.push(performance.now() - s);
      results.push(hits.map((h) => ({ prompt: h.prompt, score: h.score })));
    }
    const graphs = index.graphPartitions;
    index.close();
    const annDir = join(dir, 'ann');
    const graphMb = existsSync(annDir) ? Math.round(readdirSync(annDir).reduce((n, f) => n + statSync(join(annDir, f)).size, 0) / 1e6) : 0;
    const reopen = performance.now();
    new EmbeddedSemanticIndex({ path: dir, maxEntries: entries, annMinEntries }).close();
    const reopenMs = performance.now() - reopen;
    rmSync(dir, { recursive: true, force: true });
    return {
      results,
      row: {
        search: graphs ? 'hnsw graph (usearch)' : 'scan', lookup_p50_ms: pct(times, 50), lookup_p99_ms: pct(times, 99),
        put_per_s: Math.round(entries / (loadMs / 1000)), reopen_ms: Math.round(reopenMs),
        // The entries in the V8 heap (measured on the scan, which runs first: the same entries), and the graph, which
        // lives in usearch's native memory, about the size of its saved file.
        ...(annMinEntries ? { graph_file_mb: graphMb } : { entries_memory_mb: Math.round((after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 1e6) }),
      },
    };
  };
  const scan = await run(0);
  const graph = await run(2_000);
  // Tie-aware: a graph answer counts when its (exact, same-formula) score reaches the scan's 10th best; the lexical
  // vectors of templated questions tie often, and which of equal entries a top 10 lists is arbitrary.
  let found = 0;
  graph.results.forEach((got, q) => {
    const tenth = scan.results[q][Math.min(9, scan.results[q].length - 1)]?.score ?? Infinity;
    found += got.filter((h) => h.score >= tenth - 1e-6).length;
  });
  return { entries, vectors: kind, dimensions: vectors[0].length, scan: scan.row, graph: { ...graph.row, recall_at_10: Math.round((found / (10 * queries.length)) * 1000) / 1000 } };
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

/** The gateway's own process (tsx runs it as a child) and its resident memory in MB, from /proc (Linux). */
function gatewayRssMb(tsxPid: number): number | null {
  const child = spawnSync('pgrep', ['-P', String(tsxPid)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).at(-1);
  const status = child && existsSync(`/proc/${child}/status`) ? readFileSync(`/proc/${child}/status`, 'utf8') : '';
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb ? Math.round(Number(kb) / 1024) : null;
}

/**
 * Requests per second through `llm-finops local` with the semantic tier on, per embedder, on a mixed load: new
 * questions (a miss: one embedding, one upstream call, a put), exact repeats (the exact tier, no embedding) and
 * rewordings of an earlier question (an embedding, then a semantic hit when the guards and verifier accept it).
 */
async function throughput(requests: number, concurrency: number) {
  const pairs = parsePairs(readFileSync(QQP, 'utf8'), QQP).filter((p) => p.duplicate);
  const third = Math.floor(requests / 3);
  // First the questions, then (interleaved) their exact repeats and rewordings, so each refers to a stored entry.
  const load = [
    ...pairs.slice(0, third).map((p) => p.a),
    ...pairs.slice(0, third).flatMap((p) => [p.a, p.b]),
  ];
  const out: Record<string, unknown> = { requests: load.length, concurrency, mix: 'a third new QQP questions, then each asked again verbatim and reworded (its duplicate)' };
  for (const type of ['local', 'sentence'] as const) {
    const upstream = new FakeUpstream();
    await upstream.start();
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-tput-'));
    const configPath = join(dir, 'gateway.json');
    writeFileSync(configPath, JSON.stringify(testConfig(upstream.baseUrl, {
      cache: { exact: { enabled: true }, semantic: { enabled: true, embedder: { type }, index: { type: 'embedded', path: 'idx' } } },
    })));
    const { proc, baseUrl } = await startLocal(configPath);
    const idle = gatewayRssMb(proc.pid!);
    const outcomes: Record<string, number> = {};
    let next = 0;
    const send = async (content: string, key: string) => {
      const r = await fetch(`${baseUrl}/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content }], temperature: 0 }),
      });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${type}: status ${r.status}`);
      return r.headers.get('x-llm-cache') ?? 'none';
    };
    // The new questions first (their entries must exist), then the repeats and rewordings, at the same concurrency.
    const run = async (items: string[]) => {
      next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < items.length) {
          const kind = await send(items[next++], KEYS.acme);
          outcomes[kind] = (outcomes[kind] ?? 0) + 1;
        }
      }));
      return items.length / ((performance.now() - t0) / 1000);
    };
    const fresh = await run(load.slice(0, third));
    const mixed = await run(load.slice(third));
    out[type] = {
      new_questions_req_per_s: Math.round(fresh), repeats_and_rewordings_req_per_s: Math.round(mixed),
      all_req_per_s: Math.round(load.length / (third / fresh + (load.length - third) / mixed)),
      outcomes, rss_mb_idle: idle, rss_mb_after: gatewayRssMb(proc.pid!),
    };
    proc.kill('SIGTERM');
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

function lexicalQqp() {
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

/**
 * The default configs as `llm-finops local` serves them (threshold, guards, the sentence encoder's built-in verifier),
 * lexical and sentence, on both dev files: all rows and the odd half (the built-in verifier was fitted on the even
 * half). On QQP each default is set against the TF-IDF cosine's wrong share at the same recall (the goal: at most half).
 */
async function defaults() {
  const files = { paraphrases: PARAPHRASES, qqp: QQP };
  const embedders = { local: new LexicalEmbedder(), sentence: new SentenceEmbedder() };
  const out: Record<string, unknown> = {};
  for (const [type, embedder] of Object.entries(embedders) as [keyof typeof embedders, Embedder][]) {
    const threshold = DEFAULT_SEMANTIC_THRESHOLD[type];
    const guards = semanticGuards(type);
    const verifier = type === 'sentence' ? builtinSentenceVerifier() : undefined;
    const t0 = performance.now();
    const rows: Record<string, unknown> = {};
    for (const [name, file] of Object.entries(files)) {
      const scored = await scorePairs(parsePairs(readFileSync(file, 'utf8'), file), embedder);
      for (const [half, set] of [['all', scored], ['odd', splitHalves(scored).odd]] as const) {
        const point = evaluatePairs(set, { thresholds: [threshold, ...sweepThresholds()], guards, verifier });
        const atDefault = point[0];
        const row: Record<string, unknown> = { rows: set.length, at_default: atDefault };
        if (name === 'qqp') {
          const tfidf = tfidfCurve(set)(atDefault.recall);
          row.tfidf_wrong_share_at_same_recall = Math.round(tfidf * 10_000) / 10_000;
          row.goal_met = atDefault.recall >= 0.2 && atDefault.wrong_hit_share <= tfidf / 2;
          if (half === 'all') row.sweep = point.slice(1);
        } else {
          row.goal_met = atDefault.recall >= 0.8;
        }
        rows[`${name}_${half}`] = row;
      }
    }
    out[type] = { embedder: embedder.id, threshold, guards, verifier: verifier ? 'built-in' : null, seconds: Math.round((performance.now() - t0) / 1000), ...rows };
  }
  return out;
}

/**
 * What the encoder costs: install size, and in a fresh process (so the bench's own heap does not blur the RSS): load
 * time, the first embedding, RSS added by the model, and time per text alone and in batches of 16.
 */
function encoderCost() {
  const du = (p: string): number => Number(execFileSync('du', ['-sk', join(ROOT, 'node_modules', p)], { encoding: 'utf8' }).split('\t')[0]) * 1024;
  const installBytes = SENTENCE_PACKAGES.reduce((n, p) => n + du(p), 0);
  const script = `
    const { readFileSync } = require('node:fs');
    const { loadSentenceModel, SentenceEmbedder } = require(${JSON.stringify(join(ROOT, 'lambda', 'adapters', 'sentence-embedder.ts'))});
    const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
    (async () => {
      const texts = readFileSync(${JSON.stringify(QQP)}, 'utf8').trim().split('\\n').slice(0, 256).flatMap((l) => { const r = JSON.parse(l); return [r.a, r.b]; });
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const model = await loadSentenceModel();
      const load = performance.now() - t0;
      const t1 = performance.now();
      await model.embed(['warm up']);
      const first = performance.now() - t1;
      const single = [];
      for (const t of texts.slice(0, 100)) { const s = performance.now(); await model.embed([t]); single.push(performance.now() - s); }
      const b0 = performance.now();
      await new SentenceEmbedder().embed(texts);
      const batched = (performance.now() - b0) / texts.length;
      console.log(JSON.stringify({ load, first, p50: pct(single, 50), p99: pct(single, 99), batched, rss: process.memoryUsage().rss - rss0 }));
    })();
  `;
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), '-e', script], { encoding: 'utf8', cwd: ROOT });
  if (run.status !== 0) throw new Error(`encoder cost: ${run.stderr}`);
  const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
  return {
    install_mb: round(installBytes / 1e6), load_ms: Math.round(r.load), first_embed_ms: Math.round(r.first),
    single_text_p50_ms: round(r.p50), single_text_p99_ms: round(r.p99), batched_ms_per_text: round(r.batched),
    texts_per_s_batched: Math.round(1000 / r.batched), rss_added_mb: Math.round(r.rss / 1e6),
  };
}

/** `llm-finops local` (the built CLI bundle) from spawn to "listening", with the semantic cache on each embedder. */
async function localStartup(runs: number) {
  const bin = join(ROOT, 'packages', 'cli', 'dist', 'llm-finops.js');
  if (!existsSync(bin)) throw new Error('packages/cli/dist/llm-finops.js is missing: npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-bench-start-'));
  const out: Record<string, unknown> = {};
  for (const [name, embedder] of [['sentence', undefined], ['local', { type: 'local' }]] as const) {
    const configPath = join(dir, `${name}.json`);
    writeFileSync(configPath, JSON.stringify(testConfig('http://127.0.0.1:9/v1', { cache: { semantic: { enabled: true, ...(embedder ? { embedder } : {}) } } })));
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const proc = spawn(process.execPath, [bin, 'local', '--config', configPath, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((ok, fail) => {
        let text = '';
        proc.stdout.on('data', (d) => {
          text += d;
          if (text.includes('listening on')) ok();
        });
        proc.once('exit', (code) => fail(new Error(`llm-finops local exited ${code}`)));
      });
      times.push(performance.now() - t0);
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    out[name] = { runs, median_ms: pct(times, 50), max_ms: Math.round(Math.max(...times)) };
  }
  rmSync(dir, { recursive: true, force: true });
  return out;
}

(async () => {
  if (process.env.CACHE_BENCH_PART === 'throughput') {
    const t = await throughput(Number(process.env.CACHE_BENCH_REQUESTS ?? 900), 16);
    process.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
    const file = join(ROOT, 'bench', 'results', 'cache.json');
    const prev = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    writeFileSync(file, `${JSON.stringify({ ...prev, semantic_throughput: t, semantic_throughput_date: new Date().toISOString() }, null, 2)}\n`);
    return;
  }
  const index = [];
  // CACHE_BENCH_KINDS=lexical CACHE_BENCH_SIZES=100000 ANN_CANDIDATES=100: one case, another candidate count.
  const kinds = (process.env.CACHE_BENCH_KINDS?.split(',') ?? ['dense512', 'lexical']) as ('dense512' | 'lexical')[];
  const sizes = process.env.CACHE_BENCH_SIZES?.split(',').map(Number) ?? [10_000, 100_000];
  for (const kind of kinds) {
    for (const n of sizes) {
      const r = await indexLookups(n, kind);
      index.push(r);
      for (const row of [r.scan, r.graph]) {
        process.stdout.write(`embedded index, ${n} ${kind} entries, ${row.search}: lookup p50 ${row.lookup_p50_ms} ms, p99 ${row.lookup_p99_ms} ms, ${row.put_per_s} puts/s, reopen ${row.reopen_ms} ms, ${'graph_file_mb' in row ? `graph file ${row.graph_file_mb} MB` : `entries ~${row.entries_memory_mb} MB`}${'recall_at_10' in row ? `, recall@10 ${row.recall_at_10}` : ''}\n`);
      }
    }
  }
  if (process.env.CACHE_BENCH_PART === 'index') {
    // `CACHE_BENCH_PART=index npx tsx bench/cache.ts`: only part 1, written over its figures in cache.json (printed
    // only when an experiment narrowed or changed it).
    if (process.env.CACHE_BENCH_KINDS || process.env.CACHE_BENCH_SIZES || process.env.ANN_CANDIDATES) return;
    const file = join(ROOT, 'bench', 'results', 'cache.json');
    const prev = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    writeFileSync(file, `${JSON.stringify({ ...prev, embedded_index: index, embedded_index_date: new Date().toISOString() }, null, 2)}\n`);
    return;
  }
  const e2e = await endToEnd(200);
  process.stdout.write(`through llm-finops local: exact hit p50 ${e2e.exact_hit.p50_ms} ms, semantic hit p50 ${e2e.semantic_hit.p50_ms} ms\n`);
  const quality = lexicalQqp();
  const at = quality.all_guards.find((r) => r.threshold === 0.65)!;
  process.stdout.write(`QQP lexical, all guards at 0.65: recall ${at.recall}, wrong-hit share ${at.wrong_hit_share}\n`);
  const cost = encoderCost();
  process.stdout.write(`sentence encoder: ${cost.install_mb} MB installed, load ${cost.load_ms} ms, +${cost.rss_added_mb} MB RSS, ${cost.single_text_p50_ms} ms per text alone, ${cost.batched_ms_per_text} ms batched\n`);
  const startup = await localStartup(5);
  process.stdout.write(`llm-finops local start-up: ${JSON.stringify(startup)}\n`);
  const byDefault = await defaults();
  for (const [type, r] of Object.entries(byDefault)) {
    const row = r as Record<string, { at_default: { recall: number; wrong_hit_share: number }; tfidf_wrong_share_at_same_recall?: number; goal_met: boolean }>;
    for (const k of ['paraphrases_all', 'paraphrases_odd', 'qqp_all', 'qqp_odd']) {
      const x = row[k];
      process.stdout.write(`${type} default on ${k}: recall ${x.at_default.recall}, wrong ${x.at_default.wrong_hit_share}${x.tfidf_wrong_share_at_same_recall !== undefined ? ` (TF-IDF ${x.tfidf_wrong_share_at_same_recall})` : ''}, goal ${x.goal_met ? 'met' : 'not met'}\n`);
    }
  }
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'cache.json'), `${JSON.stringify({
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, date: new Date().toISOString(),
    embedded_index: index, end_to_end: e2e, defaults: byDefault, sentence_encoder: cost, local_startup: startup, qqp_lexical: quality,
    semantic_throughput: await throughput(900, 16),
  }, null, 2)}\n`);
})();
