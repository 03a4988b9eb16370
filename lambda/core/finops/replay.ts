import { resolveConfig, type ResolvedConfig } from '../config/resolve';
import type { GatewayConfigInput } from '../config/schema';
import type { ChatMessage } from '../openai/types';
import { Gateway, type GatewayDeps } from '../pipeline';
import type { ChatProvider, ProviderCall, ProviderResponse, ProviderStreamEvent, UsageSink } from '../ports';
import { microsToUsd } from '../pricing/money';
import { batchRates, priceUsage } from '../pricing/prices';
import { estimateInputTokens } from '../tokens';
import { cacheControlOf } from '../prompt-cache';
import type { UsageRecord } from '../usage';

/** One request of a trace. Recorded token counts and per-model outcome scores are optional. */
export interface TraceRow {
  readonly tenant?: string;
  readonly feature?: string;
  readonly model?: string;
  readonly messages: readonly ChatMessage[];
  readonly max_tokens?: number;
  readonly temperature?: number;
  /** Tokens the original request used; input is scaled when the context step shortens the prompt. */
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  /** Quality of each model's answer in [0, 1], keyed by config model id. */
  readonly outcomes?: Readonly<Record<string, number>>;
  /** When the request was made (ISO 8601): provider prompt caches expire by it. Without it rows are taken as back to back. */
  readonly ts?: string;
}

/**
 * flex: the requests of the features that may wait at the Flex tier (a serviceTiers policy), the rest as baseline.
 * batch: the same requests through a batch API at its price (the `batch` row, else half of standard), the rest as
 * baseline: priced from the baseline's records, since a batch runs the same model on the same tokens.
 */
export type Scenario = 'baseline' | 'caching' | 'routing' | 'context' | 'prompt-caching' | 'all' | 'flex' | 'batch';
/** The scenarios every replay runs; `flex` and `batch` run when features that may wait are named. */
export const SCENARIOS: readonly Scenario[] = ['baseline', 'caching', 'routing', 'context', 'prompt-caching', 'all'];

export interface ReplayOptions {
  /** Features whose requests may wait: the `flex` scenario sends them at the Flex tier. */
  readonly waitFeatures?: readonly string[];
}

export interface ScenarioResult {
  readonly cost_usd: number;
  /** Saving against the baseline scenario, as a share. */
  readonly saving: number;
  readonly cache_hits: number;
  /** Mean outcome score of the model that answered, over requests whose trace row scores that model. */
  readonly quality: number | null;
  readonly quality_rows: number;
  readonly by_model: Readonly<Record<string, number>>;
  /** Requests priced at the Flex tier (the flex scenario: those of a waiting feature whose model has a Flex price). */
  readonly flex_requests?: number;
  /** Requests priced at the batch price (the batch scenario), and whether any price was derived (half of standard). */
  readonly batch_requests?: number;
  readonly batch_price_derived?: boolean;
}

export interface ReplayReport {
  readonly requests: number;
  readonly rows_with_estimated_tokens: number;
  readonly scenarios: Readonly<Record<Exclude<Scenario, 'flex' | 'batch'>, ScenarioResult>> & { readonly flex?: ScenarioResult; readonly batch?: ScenarioResult };
  /** The features the flex scenario let wait, and their requests in the trace. */
  readonly wait_features?: { readonly features: readonly string[]; readonly requests: number };
  readonly by_tenant_feature: readonly { tenant: string; feature: string; requests: number; baseline_usd: number; all_usd: number }[];
}

/** Output tokens assumed when a row records none: a typical chat answer, capped by max_tokens. */
export const DEFAULT_OUTPUT_TOKENS = 300;

/**
 * Answers every call from the trace row it belongs to: recorded tokens where the row has them (input scaled by how
 * much the context step shortened the prompt), the gateway's estimates otherwise. No network.
 */
class TraceProvider implements ChatProvider {
  /** The provider's prompt cache: prefix key -> when it expires (ms), as Bedrock keeps it (a read renews the TTL). */
  private readonly promptCache = new Map<string, number>();

  constructor(private readonly rowOf: (call: ProviderCall) => { row: TraceRow; originalInput: number; at: number }) {}

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const { row, originalInput, at } = this.rowOf(call);
    const sent = estimateInputTokens(call.request);
    const scale = (tokens: number) => (row.input_tokens !== undefined ? Math.round((row.input_tokens * tokens) / Math.max(1, originalInput)) : tokens);
    const input = scale(sent);
    const output = Math.min(row.output_tokens ?? DEFAULT_OUTPUT_TOKENS, call.maxTokens ?? Infinity);
    // Cache points (the client's or the policy's): the longest prefix still cached is read, the rest up to the last
    // point is written, as Bedrock bills them; prefixes below the model's minimum are not cached at all.
    let read = 0;
    let write = 0;
    const min = call.model.promptCache?.minTokens ?? Infinity;
    for (const p of cachePrefixes(call)) {
      const tokens = scale(p.tokens);
      if (tokens < min) continue;
      const key = `${call.model.id}\u0000${p.key}`;
      const ttlMs = p.ttl === '1h' ? 3_600_000 : 300_000;
      if ((this.promptCache.get(key) ?? -Infinity) > at) read = Math.max(read, tokens);
      else write = Math.max(write, tokens);
      this.promptCache.set(key, at + ttlMs);
    }
    write = Math.max(0, write - read);
    return {
      completion: {
        id: 'replay', object: 'chat.completion', created: 0, model: call.model.id,
        choices: [{ index: 0, message: { role: 'assistant', content: `replayed answer from ${call.model.id}` }, finish_reason: 'stop' }],
      },
      usage: { inputTokens: Math.max(0, input - read - write), outputTokens: output, cacheReadTokens: read, cacheWriteTokens: write },
    };
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const { completion, usage } = await this.complete(call);
    const choice = completion.choices[0];
    yield {
      type: 'chunk',
      chunk: { id: completion.id, object: 'chat.completion.chunk', created: 0, model: completion.model, choices: [{ index: 0, delta: { role: 'assistant', content: choice.message.content }, finish_reason: choice.finish_reason }] },
    };
    if (usage) yield { type: 'usage', usage };
  }
}

/** The config a scenario runs on: the user's config with limits lifted, trace tenants added and levers switched. */
export function scenarioConfig(base: GatewayConfigInput, scenario: Scenario, tenants: readonly string[], waitFeatures: readonly string[] = []): GatewayConfigInput {
  const caching = scenario === 'caching' || scenario === 'all';
  const promptCaching = scenario === 'prompt-caching' || scenario === 'all';
  const context = scenario === 'context' || scenario === 'all';
  return {
    ...base,
    tenants: tenants.map((id) => ({ id, apiKeys: [] })),
    quota: { ...(base.quota ?? {}), defaults: {}, global: {}, mode: 'enforce', premiumTiers: [] },
    cache: {
      exact: { ...(base.cache?.exact ?? {}), enabled: caching },
      semantic: { ...(base.cache?.semantic ?? {}), enabled: caching && (base.cache?.semantic?.enabled ?? false) },
    },
    context: { policies: context ? (base.context?.policies?.length ? base.context.policies : [{}]) : [] },
    promptCaching: { policies: promptCaching ? (base.promptCaching?.policies?.length ? base.promptCaching.policies : [{ ttl: '5m' }]) : [] },
    // The trace provider never throttles, so no Flex call falls back: the scenario shows the Flex price's saving.
    serviceTiers: { policies: scenario === 'flex' ? waitFeatures.map((feature) => ({ feature, tier: 'flex' as const })) : [] },
    usage: { sink: 'none' },
  };
}

/**
 * Runs a trace through the real pipeline once per scenario: baseline (everything on the baseline model), caching,
 * routing, context optimisation, and all of them. `deps` supplies the runtime pieces (clock, ids, hashing, stores).
 */
export async function replay(
  base: GatewayConfigInput,
  rows: readonly TraceRow[],
  deps: (config: ResolvedConfig) => Omit<GatewayDeps, 'config' | 'providers' | 'usage'>,
  progress?: (scenario: Scenario, done: number) => void,
  options: ReplayOptions = {},
): Promise<ReplayReport> {
  const tenants = [...new Set(rows.map((r) => r.tenant ?? 'replay'))];
  const results = {} as Record<Scenario, ScenarioResult>;
  const waitFeatures = [...new Set(options.waitFeatures ?? [])];
  const scenarios: readonly Scenario[] = waitFeatures.length ? [...SCENARIOS, 'flex'] : SCENARIOS;
  const perKey = new Map<string, { tenant: string; feature: string; requests: number; baseline: number; all: number }>();
  let estimatedTokens = 0;
  let baseline: { config: ResolvedConfig; records: UsageRecord[]; quality: ScenarioResult['quality']; qualityRows: number } | undefined;
  for (const scenario of scenarios) {
    const config = resolveConfig(scenarioConfig(base, scenario, tenants, waitFeatures));
    const records: UsageRecord[] = [];
    const sink: UsageSink = { write: (r) => records.push(r), feedback: () => undefined };
    let current: { row: TraceRow; originalInput: number; at: number } | undefined;
    const provider = new TraceProvider(() => current!);
    const gateway = new Gateway({ ...deps(config), config, providers: new Map(config.raw.providers.map((p) => [p.id, provider])), usage: sink });
    let quality = 0;
    let qualityRows = 0;
    let hits = 0;
    const byModel: Record<string, number> = {};
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const model = scenario === 'baseline' || scenario === 'caching' || scenario === 'context' || scenario === 'prompt-caching' || scenario === 'flex' ? config.baseline.id : row.model ?? 'auto';
      const body = JSON.stringify({ model, messages: row.messages, max_tokens: row.max_tokens, temperature: row.temperature });
      // Rows without a time are taken as a second apart: within any cache TTL of their neighbours.
      const at = row.ts !== undefined && !Number.isNaN(Date.parse(row.ts)) ? Date.parse(row.ts) : i * 1000;
      current = { row, originalInput: estimateInputTokens({ model, messages: row.messages }), at };
      const res = await gateway.chat({ tenantId: row.tenant ?? 'replay', feature: row.feature, body, bodyBytes: body.length });
      if (res.status !== 200) throw new Error(`trace row ${i + 1}: the gateway answered ${res.status}: ${JSON.stringify(res.kind === 'json' ? res.body : '')}`);
      const rec = records[records.length - 1];
      if (rec.cache.startsWith('hit')) hits++;
      if (rec.model) byModel[rec.model] = (byModel[rec.model] ?? 0) + rec.cost_micros;
      const score = rec.model ? row.outcomes?.[rec.model] : undefined;
      if (score !== undefined) {
        quality += score;
        qualityRows++;
      }
      if (scenario === 'baseline') estimatedTokens += row.input_tokens === undefined || row.output_tokens === undefined ? 1 : 0;
      const key = `${rec.tenant}\u0000${rec.feature}`;
      const agg = perKey.get(key) ?? { tenant: rec.tenant, feature: rec.feature, requests: 0, baseline: 0, all: 0 };
      if (scenario === 'baseline') {
        agg.requests++;
        agg.baseline += rec.cost_micros;
      }
      if (scenario === 'all') agg.all += rec.cost_micros;
      perKey.set(key, agg);
      progress?.(scenario, i + 1);
    }
    const total = records.reduce((s, r) => s + r.cost_micros, 0);
    const baselineTotal = scenario === 'baseline' ? total : Math.round(results.baseline.cost_usd * 1e6);
    results[scenario] = {
      ...costFigures(total, baselineTotal, byModel),
      cache_hits: hits,
      quality: qualityRows ? Math.round((quality / qualityRows) * 10_000) / 10_000 : null,
      quality_rows: qualityRows,
      ...(scenario === 'flex' ? { flex_requests: records.filter((r) => r.service_tier === 'flex').length } : {}),
    };
    if (scenario === 'baseline') baseline = { config, records, quality: results.baseline.quality, qualityRows };
  }
  if (waitFeatures.length && baseline) results.batch = batchScenario(baseline, waitFeatures);
  return {
    requests: rows.length,
    rows_with_estimated_tokens: estimatedTokens,
    scenarios: results,
    ...(waitFeatures.length ? { wait_features: { features: waitFeatures, requests: rows.filter((r) => waitFeatures.includes(r.feature ?? '')).length } } : {}),
    by_tenant_feature: [...perKey.values()].map((a) => ({ tenant: a.tenant, feature: a.feature, requests: a.requests, baseline_usd: microsToUsd(a.baseline), all_usd: microsToUsd(a.all) })),
  };
}

/** A scenario's cost, its saving against the baseline (a share, 4 places) and its cost by model, in USD. */
function costFigures(totalMicros: number, baselineMicros: number, byModelMicros: Record<string, number>): Pick<ScenarioResult, 'cost_usd' | 'saving' | 'by_model'> {
  return {
    cost_usd: microsToUsd(totalMicros),
    saving: baselineMicros ? Math.round((1 - totalMicros / baselineMicros) * 10_000) / 10_000 : 0,
    by_model: Object.fromEntries(Object.entries(byModelMicros).map(([k, v]) => [k, microsToUsd(v)])),
  };
}

/** The baseline's records with those of the waiting features priced at their model's batch rates. */
function batchScenario(baseline: { config: ResolvedConfig; records: UsageRecord[]; quality: number | null; qualityRows: number }, waitFeatures: readonly string[]): ScenarioResult {
  let total = 0;
  let batched = 0;
  let derived = false;
  const byModel: Record<string, number> = {};
  for (const rec of baseline.records) {
    const price = rec.model ? baseline.config.models.get(rec.model)?.price : undefined;
    let cost = rec.cost_micros;
    if (price && waitFeatures.includes(rec.feature)) {
      const batch = batchRates(price);
      const usage = { inputTokens: rec.input_tokens, outputTokens: rec.output_tokens, cacheReadTokens: rec.cache_read_tokens, cacheWriteTokens: rec.cache_write_tokens };
      cost = priceUsage(usage, batch.rates).micros;
      batched++;
      derived ||= batch.derived;
    }
    total += cost;
    if (rec.model) byModel[rec.model] = (byModel[rec.model] ?? 0) + cost;
  }
  const baselineTotal = baseline.records.reduce((s, r) => s + r.cost_micros, 0);
  return {
    ...costFigures(total, baselineTotal, byModel),
    cache_hits: 0,
    quality: baseline.quality,
    quality_rows: baseline.qualityRows,
    batch_requests: batched,
    batch_price_derived: derived,
  };
}

/**
 * The prefixes a call's cache points close, in request order: the tools and system prompt, then the messages up to
 * each marked part. Each has a key (its content) and its estimated tokens.
 */
function cachePrefixes(call: ProviderCall): { key: string; tokens: number; ttl: '5m' | '1h' }[] {
  const req = call.request;
  const out: { key: string; tokens: number; ttl: '5m' | '1h' }[] = [];
  const msgs = req.messages;
  for (let i = 0; i < msgs.length; i++) {
    const c = msgs[i].content;
    if (!Array.isArray(c)) continue;
    c.forEach((part, j) => {
      const hint = cacheControlOf(part);
      if (!hint) return;
      const prefix: ChatMessage[] = [...msgs.slice(0, i), { ...msgs[i], content: c.slice(0, j + 1) }];
      const tokens = estimateInputTokens({ model: req.model, messages: prefix, tools: req.tools });
      out.push({ key: JSON.stringify([req.tools ?? null, prefix]), tokens, ttl: hint.ttl ?? '5m' });
    });
  }
  return out;
}
