import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { resolveConfig } from '../../lambda/core/config/resolve';
import { GatewayConfigSchema } from '../../lambda/core/config/schema';
import { loadConfigFile } from '../../bin/commands/gateway';

const ROOT = join(__dirname, '..', '..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), ...args], { encoding: 'utf8' });

describe('llm-finops CLI', () => {
  it('hashes a key as SHA-256 hex', () => {
    const r = cli('hash-key', 'sk-local-acme-demo');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('validates the shipped example config', () => {
    const r = cli('config', 'validate', '--config', join(ROOT, 'examples', 'local', 'gateway.json'));
    expect(r.stdout).toContain('ok: 3 models, 3 tiers, 2 tenants');
    expect(r.status).toBe(0);
  });

  it('validates the shipped example config without lifecycle warnings', () => {
    const r = cli('config', 'validate', '--config', join(ROOT, 'examples', 'local', 'gateway.json'));
    expect(r.stderr).toBe('');
  });

  it('warns, without failing, when a configured model is retired, naming the replacement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-cli-'));
    const file = join(dir, 'retired.json');
    writeFileSync(file, JSON.stringify({
      providers: [{ type: 'openai-compatible', id: 'openai', baseUrl: 'https://api.openai.com/v1' }],
      models: [{ id: 'nano', provider: 'openai', upstreamModel: 'gpt-4.1-nano' }],
      tiers: [{ name: 't', models: ['nano'] }],
      routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nano' },
    }));
    const r = cli('config', 'validate', '--config', file);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("warning: model 'nano' (gpt-4.1-nano) was retired on 2026-10-23; the provider recommends 'gpt-5.4-nano'");
  });

  it('prints every invalid field and exits 1 for a bad config', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-cli-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({
      providers: [{ type: 'openai-compatible', id: 'p', baseUrl: 'http://127.0.0.1:1/v1' }],
      models: [{ id: 'm', provider: 'p', upstreamModel: 'no-such-model' }],
      tiers: [{ name: 't', models: ['m'] }],
      routing: { thresholds: [{ tier: 't', upTo: 0.5 }], baselineModel: 'm' },
    }));
    const r = cli('config', 'validate', '--config', file);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("models[0]: no price for 'm'");
    expect(r.stderr).toContain('routing.thresholds[0].upTo: the last threshold must be 1');
  });

  it('exits 2 with usage on an unknown command or a missing flag', () => {
    expect(cli('frobnicate').status).toBe(2);
    const r = cli('local');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("error: required option '--config <file>' not specified");
    expect(r.stderr).toContain('Usage: llm-finops local [options]');
  });

  it('evaluates context re-ranking on a JSONL file and prints the metrics as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-ctx-'));
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, [
      // Six chunks each: the default policy keeps at least two, so at most a third survives.
      { question: 'Who painted the Mona Lisa?', chunks: ['Leonardo da Vinci painted the Mona Lisa in Florence.', 'Stocks fell on Monday.', 'Rain is expected tomorrow across the north.', 'The bridge reopened after repairs.', 'A new bakery opened downtown.', 'The match ended in a draw.'], answer_chunk_ids: [0] },
      { question: 'When was the Eiffel Tower finished?', chunks: ['Cats sleep for most of the day.', 'The Eiffel Tower was finished in 1889.', 'Tea is popular in Britain.', 'The river froze last winter.', 'Sales of bicycles rose in spring.', 'The library extended its hours.'], answer_chunk_ids: [1] },
    ].map((r) => JSON.stringify(r)).join('\n'));
    const r = cli('context', 'eval', '--data', file, '--budget', '0.5', '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ answer_kept_any: 1, answer_kept_all: 1, rows: 2 });
    expect(out.token_reduction).toBeGreaterThan(0.5);
    const sentence = JSON.parse(cli('context', 'eval', '--data', file, '--budget', '0.5', '--embedder', 'sentence', '--json').stdout);
    // The encoder may pick another second chunk (of another length); the answers survive either way.
    expect(sentence).toMatchObject({ answer_kept_any: 1, answer_kept_all: 1, rows: 2 });
    expect(sentence.token_reduction).toBeGreaterThan(0.5);
    expect(cli('context', 'eval', '--data', file, '--budget', '2').status).toBe(2);
  });

  it('evaluates cache pairs, trains a verifier on them, and evaluates with it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-cache-'));
    const file = join(dir, 'pairs.jsonl');
    const topics = ['python', 'java', 'rust', 'golang', 'kotlin', 'swift', 'ruby', 'perl', 'scala', 'haskell'];
    const rows = topics.flatMap((t, i) => [
      { a: `How do I learn ${t} fast?`, b: `how can I learn ${t} fast`, duplicate: 1 },
      { a: `How do I learn ${t} fast?`, b: `How do I learn ${topics[(i + 1) % topics.length]} fast?`, duplicate: 0 },
      { a: `Is ${t} good for 3 projects?`, b: `Is ${t} good for 30 projects?`, duplicate: 0 },
    ]);
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const lexical = ['--embedder', 'local'];
    const none = JSON.parse(cli('cache', 'eval', '--data', file, ...lexical, '--threshold', '0.5', '--guards', 'none', '--json').stdout);
    expect(none).toMatchObject({ default_threshold: 0.65, embedder: 'lexical-hash-1024', guards: [], verifier: null, pairs: 30, duplicates: 10 });
    expect(none.results[0].recall).toBe(1);
    expect(none.results[0].wrong_hit_share).toBeGreaterThan(0.5);
    // The lexical embedder's guards (all, exact content) refuse every swapped topic and every changed number.
    const guarded = JSON.parse(cli('cache', 'eval', '--data', file, ...lexical, '--threshold', '0.5', '--json').stdout);
    expect(guarded.results[0]).toEqual({ threshold: 0.5, recall: 1, false_hit_rate: 0, wrong_hit_share: 0, hits: 10 });
    // The default, the sentence encoder: its guards (no question/person, content only refuses rearranged words) and
    // built-in verifier serve every rewording and refuse the swapped topics (lower-case names no guard sees) and numbers.
    const sentence = JSON.parse(cli('cache', 'eval', '--data', file, '--json').stdout);
    expect(sentence).toMatchObject({
      default_threshold: 0.82, embedder: 'use-lite-en@0.2.0', verifier: 'built-in',
      guards: ['numbers', 'negation', 'identifiers', 'entities', 'language', 'content'],
    });
    expect(sentence.results).toEqual([{ threshold: 0.82, recall: 1, false_hit_rate: 0, wrong_hit_share: 0, hits: 10 }]);
    const unverified = JSON.parse(cli('cache', 'eval', '--data', file, '--no-verifier', '--threshold', '0.8', '--json').stdout);
    expect(unverified.verifier).toBeNull();
    expect(unverified.results[0].false_hit_rate).toBeGreaterThan(0);
    // Two files: the pooled figures and each file's apart (a file of easy duplicates dilutes another's wrong hits).
    const easy = join(dir, 'easy.jsonl');
    writeFileSync(easy, topics.map((t) => JSON.stringify({ a: `Where is the ${t} meetup?`, b: `where is the ${t} meetup`, duplicate: 1 })).join('\n'));
    const two = JSON.parse(cli('cache', 'eval', '--data', file, '--data', easy, ...lexical, '--threshold', '0.5', '--guards', 'none', '--json').stdout);
    expect(two).toMatchObject({ pairs: 40, duplicates: 20 });
    expect(two.by_file.map((f: { file: string; pairs: number }) => [f.file, f.pairs])).toEqual([[file, 30], [easy, 10]]);
    expect(two.by_file[0].results).toEqual(none.results);
    expect(two.results[0].wrong_hit_share).toBeLessThan(none.results[0].wrong_hit_share);
    expect(none).not.toHaveProperty('by_file');
    const sweep = JSON.parse(cli('cache', 'eval', '--data', file, ...lexical, '--sweep', '--json').stdout);
    expect(sweep.results.map((r: { threshold: number }) => r.threshold)).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99]);

    const out = join(dir, 'verifier.json');
    const trained = cli('cache', 'train-verifier', '--data', file, ...lexical, '--out', out, '--seed', '3');
    expect(trained.status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ format: 'llm-finops-cache-verifier', trainedOn: { pairs: 30, positives: 10, seed: 3 } });
    const withVerifier = cli('cache', 'eval', '--data', file, ...lexical, '--verifier', out, '--guards', 'none', '--threshold', '0.5', '--json');
    expect(withVerifier.status).toBe(0);
    expect(JSON.parse(withVerifier.stdout).verifier).toBe(out);

    expect(cli('cache', 'eval', '--data', file, '--guards', 'colour').stderr).toContain("unknown guard 'colour'");
    expect(cli('cache', 'eval', '--data', file, '--sweep', '--threshold', '0.5').status).toBe(2);
    expect(cli('cache', 'eval', '--data', join(dir, 'missing.jsonl')).stderr).toContain('cannot read');
    expect(cli('cache', 'eval', '--data', file, '--embedder', 'openai-compatible').stderr).toContain('embedder flags:');
    expect(cli('cache', 'train-verifier', '--data', file).stderr).toContain("required option '--out <verifier.json>' not specified");
  });

  it('trains a router, evaluates it against heuristic and random, and builds outcome rows from feedback', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-router-'));
    const data = join(dir, 'outcomes.jsonl');
    const rows = Array.from({ length: 60 }, (_, i) => (i % 3 === 0
      ? { prompt: `A bus carries ${i} people and ${i + 3} get off at each of ${i % 4 + 2} stops. How many are left?`, outcomes: { big: 1, small: 0 } }
      : { prompt: `Say hello to person ${i}.`, outcomes: { big: 1, small: 1 } }));
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n'));
    const out = join(dir, 'router.json');
    const trained = cli('router', 'train', '--data', data, '--strong', 'big', '--weak', 'small', '--out', out, '--seed', '2');
    expect(trained.status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ format: 'llm-finops-router', strong: 'big', weak: 'small', trainedOn: { rows: 60, seed: 2, epochs: 20 } });
    expect(trained.stdout).toContain('16384 hash buckets, 20 passes\nnot cross-validated: under 100 rows score both models');
    const more = join(dir, 'more.jsonl');
    writeFileSync(more, [...rows, ...rows.map((r) => ({ ...r, prompt: `${r.prompt} Again.` }))].map((r) => JSON.stringify(r)).join('\n'));
    const validated = cli('router', 'train', '--data', more, '--strong', 'big', '--weak', 'small', '--out', join(dir, 'more.json'));
    // Separable rows: 20 passes score no better than 10, so the search stops there and keeps 10.
    expect(validated.stdout).toContain('16384 hash buckets, 10 passes\ncross-validated APGR by passes (5 folds over the 120 rows scoring both models): ' +
      '10: 0.833, 20: 0.833; chose 10 (the best of 2, so an optimistic estimate for new prompts)');
    const evalOf = (router: string) => JSON.parse(cli('router', 'eval', '--router', router, '--data', data, '--strong', 'big', '--weak', 'small', '--strong-price', '10/30', '--weak-price', '0.5/1', '--json').stdout);
    const learned = evalOf(out);
    expect(learned).toMatchObject({ rows: 60, weak_quality: 0.6667, strong_quality: 1, cpt50: expect.any(Number), cpt80: expect.any(Number) });
    expect(learned.apgr).toBeGreaterThan(0.8);
    expect(learned.savings.pgr100.cost_saved).toBeGreaterThan(0.5);
    expect(learned.points[0]).toEqual({ strong_share: 0, quality: 0.6667, threshold: null, cost_share: expect.any(Number) });
    expect(evalOf('random').apgr).toBeLessThan(learned.apgr);
    expect(evalOf('heuristic')).toHaveProperty('apgr');

    expect(cli('router', 'eval', '--router', out, '--data', data, '--strong', 'big', '--weak', 'nope').stderr).toContain('outcomes["nope"] must be a score');
    expect(cli('router', 'eval', '--router', out, '--data', data, '--strong', 'big', '--weak', 'small', '--strong-price', 'cheap', '--weak-price', '1/1').status).toBe(2);
    expect(cli('router', 'train', '--data', data, '--strong', 'big', '--weak', 'big', '--out', out).stderr).toContain('must name different models');

    const log = join(dir, 'usage.jsonl');
    writeFileSync(log, `${JSON.stringify({ ts: '2026-11-29T00:00:00Z', request_id: 'r1', tenant: 'acme', model: 'small', status: 200, cost_micros: 1 })}\n`);
    expect(cli('feedback', '--usage', log, '--tenant', 'acme', '--request-id', 'r1', '--score', '0', '--prompt', 'Hard sum?').status).toBe(0);
    expect(cli('feedback', '--usage', log, '--tenant', 'acme', '--request-id', 'r1', '--score', '3').stderr).toContain("error: option '--score <s>' argument '3' is invalid. expected a number in [0, 1].");
    const outcomes = join(dir, 'from-feedback.jsonl');
    expect(cli('router', 'outcomes', '--usage', log, '--out', outcomes).stdout).toContain('1 outcome rows');
    expect(readFileSync(outcomes, 'utf8').trim()).toBe(JSON.stringify({ prompt: 'Hard sum?', outcomes: { small: 0 } }));
  });

  it('replays the shipped GSM8K trace under every lever with a quality proxy', () => {
    const r = cli('replay', '--trace', join(ROOT, 'examples', 'traces', 'gsm8k-200.jsonl'), '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.scenarios)).toEqual(['baseline', 'caching', 'routing', 'context', 'prompt-caching', 'all']);
    expect(out.requests).toBe(200);
    expect(out.scenarios.baseline.quality_rows).toBe(200);
    expect(out.scenarios.routing.cost_usd).toBeLessThan(out.scenarios.baseline.cost_usd);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a terminal
  });

  it('replay --wait-features adds the flex and batch scenarios and says which requests ran at Flex or batch prices', () => {
    const trace = join(ROOT, 'examples', 'traces', 'gsm8k-200.jsonl');
    const json = JSON.parse(cli('replay', '--trace', trace, '--wait-features', 'maths', '--json').stdout);
    expect(Object.keys(json.scenarios)).toContain('flex');
    // The shipped config's baseline (GPT-4-turbo) has no Flex price: every maths request runs at standard, priced as baseline.
    expect(json.wait_features).toEqual({ features: ['maths'], requests: 200 });
    expect(json.scenarios.flex).toMatchObject({ flex_requests: 0, cost_usd: json.scenarios.baseline.cost_usd });
    // Batch: every maths request at half of GPT-4-turbo's price (no batch row: derived).
    expect(json.scenarios.batch).toMatchObject({ batch_requests: 200, batch_price_derived: true });
    expect(json.scenarios.batch.saving).toBeCloseTo(0.5, 3);
    const text = cli('replay', '--trace', trace, '--wait-features', 'maths').stdout;
    expect(text).toContain('flex: 0 of the 200 requests of maths priced at Flex (the others: their model has no Flex price, so they ran at standard)');
    expect(text).toContain('batch: 200 of the 200 requests of maths priced at the batch price (half of standard where the price has no batch row)');
  });

  it('prints the crossover as JSON and writes the chart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-cross-'));
    const svg = join(dir, 'c.svg');
    const r = cli('crossover', '--tokens-per-month', '2000000000', '--model', 'anthropic.claude-3-5-haiku-20241022-v1:0', '--instance', 'ml.g5.xlarge', '--ops-usd-per-month', '500', '--svg', svg, '--json');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ instance: 'ml.g5.xlarge', tokens_per_month: 2_000_000_000, cheaper: expect.any(String) });
    expect(readFileSync(svg, 'utf8')).toContain('class="api-curve"');
    expect(cli('crossover', '--model', 'gpt-4o-mini', '--instance', 'ml.nope', '--tokens-per-month', '1').status).toBe(2);
  });

  it('resolves a relative usage path against the config file', () => {
    const cfg = loadConfigFile(join(ROOT, 'examples', 'local', 'gateway.json'));
    expect(cfg.raw.usage.path).toBe(join(ROOT, '.usage', 'local-usage.jsonl'));
  });
});

describe('GatewayConfig JSON Schema', () => {
  const schema = z.toJSONSchema(GatewayConfigSchema, { io: 'input' }) as { required: string[]; properties: Record<string, unknown> };

  it('requires the core sections and documents every top-level key', () => {
    expect(schema.required.sort()).toEqual(['models', 'providers', 'routing', 'tiers']);
    expect(Object.keys(schema.properties).sort()).toEqual(['$schema', 'cache', 'capture', 'context', 'models', 'prices', 'promptCaching', 'providers', 'quota', 'routing', 'server', 'serviceTiers', 'shadow', 'tenants', 'tiers', 'usage']);
  });

  it('accepts the example configs', () => {
    for (const f of ['local', 'platform']) {
      expect(() => resolveConfig(JSON.parse(readFileSync(join(ROOT, 'examples', f, 'gateway.json'), 'utf8')))).not.toThrow();
    }
  });
});
