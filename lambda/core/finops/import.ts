/**
 * `llm-finops import`: other gateways' logs as our usage records, so `report`, the Athena tables and the
 * reconciliation cover spend that did not pass through this gateway. Pure: rows in, records and problems out.
 *
 * Sources and the documented shapes they are read from (each checked against the vendor's own schema or API
 * reference, 2026-12-01):
 * - litellm: rows of LiteLLM's `LiteLLM_SpendLogs` table (schema.prisma; the `/spend/logs` API returns the same
 *   rows): request_id, startTime, model, custom_llm_provider, prompt_tokens, completion_tokens, spend (USD),
 *   team_id, end_user / user, cache_hit, status, metadata (JSON, e.g. user_api_key_team_alias), request_tags
 *   (JSON list of strings such as "tenant:acme").
 * - cloudflare: AI Gateway log entries (the Logs API's `result` items; Logpush delivers the same fields): id,
 *   created_at, provider, model, tokens_in, tokens_out, cost (USD, an estimate Cloudflare makes; absent for some
 *   providers), cached, status_code, success, duration, metadata (an object or a JSON string of the
 *   `cf-aig-metadata` header).
 * - portkey: Portkey log export rows (JSONL): created_at, ai_org, ai_model, req_units, res_units, cost **in cents**,
 *   cost_currency, response_status_code, response_time, cache_status (HIT, SEMANTIC HIT, MISS, DISABLED),
 *   stream_mode, trace_id, metadata (with `_user`).
 * - openai-usage: the OpenAI organization Usage API (completions, `organization.usage.completions.result`: tokens
 *   per time bucket, grouped by project, model, key; priced here from the catalog) or the Costs API
 *   (`organization.costs.result`: amount.value in USD per bucket and line item). One record per result row: these are
 *   aggregates, so a record stands for `num_model_requests` requests (kept as source_requests).
 */
import { jsonObjectLines } from '../jsonl';
import { findCatalogPrice } from '../pricing/catalog';
import { costMicros, toTokenPrice } from '../pricing/prices';
import type { UsageRecord } from '../usage';

export const IMPORT_SOURCES = ['litellm', 'cloudflare', 'portkey', 'openai-usage'] as const;
export type ImportSource = (typeof IMPORT_SOURCES)[number];

/** A usage record from another tool: our schema, plus where it came from and every field we did not map. */
export interface ImportedRecord extends UsageRecord {
  readonly source: ImportSource;
  readonly source_id: string | null;
  /** Requests the row stands for: 1 for per-request logs, num_model_requests for OpenAI usage buckets. */
  readonly source_requests: number;
  readonly source_fields: Readonly<Record<string, unknown>>;
}

export interface ImportOptions {
  /** Metadata keys (or tag prefixes, `key:value`) naming the tenant, feature and team. */
  readonly tenantKey: string;
  readonly featureKey: string;
  readonly teamKey: string;
  /** Hashes `tenant \0 user` like the gateway does for end_user. */
  readonly sha256: (s: string) => string;
}

export interface ImportProblem {
  readonly where: string;
  readonly message: string;
}

export interface ImportTotals {
  readonly rows: number;
  readonly costUsd: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface ImportResult {
  readonly records: ImportedRecord[];
  readonly problems: ImportProblem[];
  /** What the source rows that were read hold, in the source's own units converted to USD and tokens. */
  readonly source: ImportTotals;
}

/** One input row and where it was found (file:line or file item N), for messages. */
export interface SourceRow {
  readonly where: string;
  readonly value: Record<string, unknown>;
}

/**
 * OpenAI's dated snapshot suffix (gpt-4o-mini-2024-07-18): the Usage API names snapshots, the catalog names aliases.
 * Priced at the alias's current rate, which an older snapshot may not share (gpt-4o-2024-05-13 was $5/$15), hence
 * the flag; the Costs API holds the billed amounts.
 */
const OPENAI_SNAPSHOT = /-\d{4}-\d{2}-\d{2}$/;

const UNATTRIBUTED = 'unattributed';
const DEFAULT_FEATURE = 'default';

/**
 * The rows of one file: JSONL (one object per line) or one JSON document holding them (an array, a Cloudflare
 * `{"result": [...]}`, or an OpenAI page `{"object": "page", "data": [buckets]}` whose buckets' results are rows).
 */
export function sourceRows(text: string, file: string): SourceRow[] {
  if (!text.trim()) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Not one JSON document: JSONL, one object per line (a bad line is an error naming it).
    const rows: SourceRow[] = [];
    for (const { line, value } of jsonObjectLines(text, file)) rows.push(...documentRows(value, `${file}:${line}`));
    return rows;
  }
  // A whole file that is one record is line 1; lists and API pages name their items.
  return documentRows(doc, Array.isArray(doc) || isContainer(doc) ? file : `${file}:1`);
}

function isContainer(doc: unknown): boolean {
  const d = doc as Record<string, unknown> | null;
  return !!d && typeof d === 'object' && (Array.isArray(d.result) || (d.object === 'page' && Array.isArray(d.data)));
}

/** The rows of a list, a Cloudflare result, an OpenAI page of buckets, or one record (named `where`). */
function documentRows(doc: unknown, where: string): SourceRow[] {
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (Array.isArray(doc)) {
    return doc.map((v, i) => {
      if (!obj(v)) throw new Error(`${where} item ${i + 1}: expected an object`);
      return { where: `${where} item ${i + 1}`, value: v };
    });
  }
  if (!obj(doc)) throw new Error(`${where}: expected an object or an array of objects`);
  if (Array.isArray(doc.result)) return documentRows(doc.result, where);
  if (doc.object === 'page' && Array.isArray(doc.data)) {
    const out: SourceRow[] = [];
    doc.data.forEach((bucket, b) => {
      if (!obj(bucket) || !Array.isArray(bucket.results)) throw new Error(`${where} bucket ${b + 1}: expected {"object": "bucket", "results": [...]}`);
      bucket.results.forEach((r, i) => {
        if (!obj(r)) throw new Error(`${where} bucket ${b + 1} result ${i + 1}: expected an object`);
        out.push({ where: `${where} bucket ${b + 1} result ${i + 1}`, value: { ...r, start_time: bucket.start_time, end_time: bucket.end_time } });
      });
    });
    return out;
  }
  return [{ where, value: doc }];
}

class RowError extends Error {}

const num = (v: unknown, field: string, opts: { optional?: boolean; integer?: boolean } = {}): number => {
  if ((v === undefined || v === null || v === '') && opts.optional) return 0;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new RowError(`${field}: expected a number, got ${JSON.stringify(v)}`);
  if (n < 0) throw new RowError(`${field} is negative (${n})`);
  if (opts.integer && !Number.isInteger(n)) throw new RowError(`${field}: expected a whole number of tokens, got ${n}`);
  return n;
};

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

function timestamp(v: unknown, field: string): string {
  let ms: number;
  if (typeof v === 'number') ms = v < 1e12 ? v * 1000 : v; // epoch seconds (OpenAI buckets) or ms
  else if (typeof v === 'string') ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}Z`);
  else throw new RowError(`${field}: missing timestamp`);
  if (!Number.isFinite(ms)) throw new RowError(`${field}: not a timestamp: ${JSON.stringify(v)}`);
  return new Date(ms).toISOString();
}

/** A metadata object that may arrive as a JSON string (Cloudflare, LiteLLM exports). */
function metadataOf(v: unknown, field: string): Record<string, unknown> {
  if (v === undefined || v === null || v === '') return {};
  if (typeof v === 'string') {
    const text = v;
    try {
      v = JSON.parse(text);
    } catch {
      throw new RowError(`${field}: not JSON: ${text.slice(0, 60)}`);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RowError(`${field}: expected an object`);
  return v as Record<string, unknown>;
}

function tagsOf(v: unknown, field: string): string[] {
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') {
    const text = v;
    try {
      v = JSON.parse(text);
    } catch {
      throw new RowError(`${field}: not a JSON list: ${text.slice(0, 60)}`);
    }
  }
  if (!Array.isArray(v)) throw new RowError(`${field}: expected a list of strings`);
  return v.filter((t): t is string => typeof t === 'string');
}

/** A dimension from metadata (`key`) or a tag (`key:value` / `key=value`), first found. */
function dimension(key: string, meta: Record<string, unknown>, tags: readonly string[]): string | null {
  const m = str(meta[key]);
  if (m) return m;
  for (const t of tags) {
    const sep = t[key.length];
    if (t.startsWith(key) && (sep === ':' || sep === '=') && t.length > key.length + 1) return t.slice(key.length + 1);
  }
  return null;
}

function providerType(provider: string | null): string | null {
  if (!provider) return null;
  const p = provider.toLowerCase();
  if (p.includes('bedrock')) return 'bedrock';
  if (p.includes('sagemaker')) return 'sagemaker';
  if (p.includes('azure')) return 'azure-openai';
  return 'openai-compatible';
}

interface Mapped {
  readonly id: string | null;
  readonly ts: string;
  readonly meta: Record<string, unknown>;
  readonly tags: readonly string[];
  readonly team: string | null;
  readonly user: string | null;
  readonly provider: string | null;
  readonly model: string | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  /** Null when the source holds no cost (it is then priced from the catalog, or left at 0 and flagged). */
  readonly costUsd: number | null;
  readonly cache: UsageRecord['cache'];
  readonly stream: boolean;
  readonly status: number;
  readonly latencyMs: number;
  readonly requests: number;
  readonly used: readonly string[];
}

const MAPPERS: Record<ImportSource, (r: Record<string, unknown>) => Mapped> = {
  litellm: (r) => {
    const status = str(r.status);
    const meta = metadataOf(r.metadata, 'metadata');
    const start = timestamp(r.startTime ?? r.start_time, 'startTime');
    const end = r.endTime ?? r.end_time;
    return {
      id: str(r.request_id), ts: start, meta, tags: tagsOf(r.request_tags, 'request_tags'),
      team: str(meta.user_api_key_team_alias) ?? str(r.team_id) ?? str(meta.user_api_key_team_id),
      user: str(r.end_user) ?? str(r.user), provider: str(r.custom_llm_provider), model: str(r.model),
      inputTokens: num(r.prompt_tokens, 'prompt_tokens', { optional: true, integer: true }),
      outputTokens: num(r.completion_tokens, 'completion_tokens', { optional: true, integer: true }),
      cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: num(r.spend, 'spend'),
      cache: String(r.cache_hit).toLowerCase() === 'true' ? 'hit-exact' : 'miss',
      stream: false, status: status === 'failure' ? 500 : 200,
      latencyMs: r.request_duration_ms !== undefined && r.request_duration_ms !== null ? num(r.request_duration_ms, 'request_duration_ms') : end ? Math.max(0, Date.parse(timestamp(end, 'endTime')) - Date.parse(start)) : 0,
      requests: 1,
      used: ['request_id', 'startTime', 'start_time', 'endTime', 'end_time', 'request_duration_ms', 'team_id', 'end_user', 'user', 'custom_llm_provider', 'model', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'spend', 'cache_hit', 'status'],
    };
  },
  cloudflare: (r) => ({
    id: str(r.id), ts: timestamp(r.created_at, 'created_at'), meta: metadataOf(r.metadata, 'metadata'), tags: [],
    team: null, user: null, provider: str(r.provider), model: str(r.model),
    inputTokens: num(r.tokens_in, 'tokens_in', { optional: true, integer: true }),
    outputTokens: num(r.tokens_out, 'tokens_out', { optional: true, integer: true }),
    cacheReadTokens: 0, cacheWriteTokens: 0,
    costUsd: r.cost === undefined || r.cost === null ? null : num(r.cost, 'cost'),
    cache: r.cached === true ? 'hit-exact' : 'miss', stream: false,
    status: r.status_code !== undefined && r.status_code !== null ? num(r.status_code, 'status_code', { integer: true }) : r.success === false ? 500 : 200,
    latencyMs: num(r.duration, 'duration', { optional: true }), requests: 1,
    used: ['id', 'created_at', 'provider', 'model', 'tokens_in', 'tokens_out', 'cost', 'cached', 'status_code', 'success', 'duration'],
  }),
  portkey: (r) => {
    const currency = str(r.cost_currency);
    if (currency && currency.toUpperCase() !== 'USD') throw new RowError(`cost_currency ${currency}: only USD is converted`);
    const meta = metadataOf(r.metadata, 'metadata');
    const cacheStatus = String(r.cache_status ?? '').toUpperCase();
    return {
      id: str(r.id) ?? str(r.trace_id), ts: timestamp(r.created_at, 'created_at'), meta, tags: [], team: null,
      user: str(meta._user), provider: str(r.ai_org), model: str(r.ai_model),
      inputTokens: num(r.req_units, 'req_units', { optional: true, integer: true }),
      outputTokens: num(r.res_units, 'res_units', { optional: true, integer: true }),
      cacheReadTokens: 0, cacheWriteTokens: 0,
      // Portkey exports cost in cents.
      costUsd: r.cost === undefined || r.cost === null ? null : num(r.cost, 'cost') / 100,
      cache: cacheStatus === 'HIT' ? 'hit-exact' : cacheStatus === 'SEMANTIC HIT' ? 'hit-semantic' : cacheStatus === 'MISS' ? 'miss' : 'none',
      stream: String(r.stream_mode).toUpperCase() === 'TRUE' || r.stream_mode === true,
      status: r.response_status_code !== undefined ? num(r.response_status_code, 'response_status_code', { integer: true }) : Number(r.is_success) === 0 ? 500 : 200,
      latencyMs: num(r.response_time, 'response_time', { optional: true }), requests: 1,
      used: ['id', 'trace_id', 'created_at', 'ai_org', 'ai_model', 'req_units', 'res_units', 'total_units', 'cost', 'cost_currency', 'cache_status', 'stream_mode', 'response_status_code', 'is_success', 'response_time'],
    };
  },
  'openai-usage': (r) => {
    if (r.object !== 'organization.costs.result' && r.object !== 'organization.usage.completions.result') {
      throw new RowError(`object ${JSON.stringify(r.object)}: expected organization.usage.completions.result or organization.costs.result`);
    }
    const ts = timestamp(r.start_time, 'start_time (the bucket)');
    if (r.object === 'organization.costs.result') {
      const amount = r.amount as { value?: unknown; currency?: unknown } | undefined;
      if (!amount || typeof amount !== 'object') throw new RowError('amount: expected {"value", "currency"}');
      if (str(amount.currency) && String(amount.currency).toLowerCase() !== 'usd') throw new RowError(`amount.currency ${String(amount.currency)}: only USD is converted`);
      return {
        id: null, ts, meta: {}, tags: [], team: null, user: null, provider: 'openai', model: str(r.line_item),
        inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: num(amount.value, 'amount.value'),
        cache: 'none', stream: false, status: 200, latencyMs: 0, requests: 0,
        used: ['object', 'amount', 'line_item', 'start_time'],
      };
    }
    const input = num(r.input_tokens, 'input_tokens', { integer: true });
    const cached = num(r.input_cached_tokens, 'input_cached_tokens', { optional: true, integer: true });
    if (cached > input) throw new RowError(`input_cached_tokens (${cached}) exceeds input_tokens (${input})`);
    return {
      id: null, ts, meta: {}, tags: [], team: null, user: str(r.user_id), provider: 'openai', model: str(r.model),
      inputTokens: input - cached, outputTokens: num(r.output_tokens, 'output_tokens', { integer: true }), cacheReadTokens: cached,
      cacheWriteTokens: 0, costUsd: null, cache: 'none', stream: false, status: 200, latencyMs: 0,
      requests: num(r.num_model_requests, 'num_model_requests', { optional: true, integer: true }),
      used: ['object', 'start_time', 'user_id', 'model', 'input_tokens', 'input_cached_tokens', 'output_tokens', 'num_model_requests'],
    };
  },
};

/**
 * Converts rows of one source. A row that cannot be read is a problem naming where it is and why (never silently
 * dropped); the others become records. OpenAI usage rows have no cost: they are priced from the catalog at standard
 * rates (flagged `imported_catalog_price`), or left at $0 and flagged `imported_unpriced` when the model is unknown.
 */
export function importRows(source: ImportSource, rows: readonly SourceRow[], opts: ImportOptions): ImportResult {
  const records: ImportedRecord[] = [];
  const problems: ImportProblem[] = [];
  const totals = { rows: 0, costUsd: 0, inputTokens: 0, outputTokens: 0 };
  const kinds = new Set<unknown>();
  for (const { where, value } of rows) {
    let m: Mapped;
    try {
      m = MAPPERS[source](value);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      problems.push({ where, message: err.message });
      continue;
    }
    if (source === 'openai-usage') kinds.add(value.object);
    totals.rows++;
    totals.inputTokens += m.inputTokens + m.cacheReadTokens;
    totals.outputTokens += m.outputTokens;
    if (m.costUsd !== null) totals.costUsd += m.costUsd;
    const flags: string[] = [];
    let costUsd = m.costUsd;
    if (costUsd === null) {
      const price = m.model ? findCatalogPrice(m.model) ?? findCatalogPrice(m.model.replace(OPENAI_SNAPSHOT, '')) : undefined;
      if (price) {
        costUsd = costMicros({ inputTokens: m.inputTokens, outputTokens: m.outputTokens, cacheReadTokens: m.cacheReadTokens, cacheWriteTokens: 0 }, toTokenPrice(price)) / 1e6;
        flags.push('imported_catalog_price');
      } else {
        costUsd = 0;
        flags.push('imported_unpriced');
      }
    }
    const tenant = dimension(opts.tenantKey, m.meta, m.tags) ?? (source === 'openai-usage' ? str(value.project_id) : null) ?? UNATTRIBUTED;
    const feature = dimension(opts.featureKey, m.meta, m.tags) ?? (source === 'openai-usage' ? str(value.api_key_id) : null) ?? DEFAULT_FEATURE;
    const team = dimension(opts.teamKey, m.meta, m.tags) ?? m.team;
    const micros = Math.round(costUsd * 1e6);
    // Everything not mapped to a column, metadata and tags included (as the source wrote them).
    const sourceFields = Object.fromEntries(Object.entries(value).filter(([k]) => !m.used.includes(k)));
    records.push({
      ts: m.ts, request_id: m.id ?? `${source}:${m.ts}:${records.length}`, api: 'chat', tenant, feature, team,
      end_user: m.user ? opts.sha256(`${tenant}\u0000${m.user}`).slice(0, 16) : null,
      provider: m.provider, provider_type: providerType(m.provider), model: m.model, upstream_model: m.model, tier: null,
      route_reason: `imported:${source}`, cache: m.cache, stream: m.stream,
      input_tokens: m.inputTokens, output_tokens: m.outputTokens, cache_read_tokens: m.cacheReadTokens, cache_write_tokens: m.cacheWriteTokens,
      cost_usd: micros / 1e6, cost_micros: micros, baseline_cost_usd: micros / 1e6, baseline_cost_micros: micros,
      cost_basis: 'tokens', usage_estimated: false, usage_flags: flags, usage_problem: null, service_tier: null, batch_id: null, batch_custom_id: null,
      attempts: 1, latency_ms: m.latencyMs, upstream_ms: m.latencyMs, overhead_ms: 0, status: m.status,
      error_type: m.status >= 400 ? 'upstream_error' : null, cache_error: null, quota_action: 'none',
      context_tokens_saved: 0, context_saved_usd: 0, embedding_tokens: 0, cache_score: null, cascade: null,
      source, source_id: m.id, source_requests: m.requests, source_fields: sourceFields,
    });
  }
  if (kinds.size > 1) {
    problems.push({ where: 'input', message: 'holds both Usage API and Costs API results: the same spend would count twice; import one of them' });
  }
  const round = (x: number): number => Math.round(x * 1e6) / 1e6;
  return { records, problems, source: { ...totals, costUsd: round(totals.costUsd) } };
}
