import { ProviderBatchJobs, type BatchJobUpstream, type JobRecord, type JobResult, type JobState } from '../core/batch/jobs';
import type { ResolvedConfig, ResolvedModel } from '../core/config/resolve';
import type { ProviderConfig } from '../core/config/schema';
import { messageToCompletion, readAnthropicUsage } from '../core/formats/anthropic-upstream';
import { ANTHROPIC_VERSION, anthropicUpstreamBody } from './anthropic-provider';
import { fetchBatchJson } from './batch-api-http';
import { nativeResponse } from './upstream-http';

type AnthropicConfig = Extract<ProviderConfig, { type: 'anthropic' }>;

/** Whether a provider's server has Anthropic's Message Batches API: `batchApi`, by default api.anthropic.com only. */
export function servesMessageBatches(p: AnthropicConfig): boolean {
  return p.batchApi ?? new URL(p.baseUrl).hostname === 'api.anthropic.com';
}

/**
 * Anthropic's Message Batches as the lane's provider jobs, for every `anthropic` provider that serves them
 * (`batchApi`): one batch per model (`POST /v1/messages/batches`, each request the Messages body the gateway would
 * have sent live, `custom_id` the record id), polled (`GET /v1/messages/batches/{id}`), its results read once from
 * `results_url` when it has ended; cancel is `POST .../cancel`.
 */
export class AnthropicBatchJobs extends ProviderBatchJobs {
  constructor(config: ResolvedConfig, keyOf: (p: AnthropicConfig) => string | undefined, fetchImpl: typeof fetch = fetch) {
    super(config.raw.providers.flatMap((p) => (p.type === 'anthropic' && servesMessageBatches(p) ? [[p.id, new AnthropicBatchUpstream(p, keyOf(p), fetchImpl)] as const] : [])));
  }
}

class AnthropicBatchUpstream implements BatchJobUpstream {
  /** A Message Batch takes 1 to 100,000 requests (and 256 MB; Anthropic's Message Batches reference, read 2026-12-07). */
  readonly minRecords = 1;
  readonly maxRecords = 100_000;
  private readonly base: string;

  constructor(private readonly p: AnthropicConfig, private readonly key: string | undefined, private readonly fetchImpl: typeof fetch) {
    this.base = p.baseUrl.replace(/\/+$/, '');
  }

  private headers(json: boolean): Record<string, string> {
    return {
      ...(this.p.headers ?? {}), 'anthropic-version': ANTHROPIC_VERSION, ...(json ? { 'content-type': 'application/json' } : {}), ...(this.key ? { 'x-api-key': this.key } : {}),
    };
  }

  private async call(method: string, path: string, body?: string): Promise<MessageBatch> {
    const batch = (await fetchBatchJson(this.fetchImpl, this.p.id, `${this.base}${path}`, method, path, this.headers(body !== undefined), body)) as MessageBatch;
    if (typeof batch?.id !== 'string' || typeof batch.processing_status !== 'string') throw new Error(`${this.p.id} ${method} ${path}: the answer is not a Message Batch`);
    return batch;
  }

  async submit(_batchId: string, model: ResolvedModel, records: readonly JobRecord[]): Promise<string> {
    const requests = records.map((r) => {
      // The live body, less what a batch request may not carry.
      const { stream: _s, ...params } = anthropicUpstreamBody(r.call, false);
      return { custom_id: r.recordId, params: { ...params, model: model.config.upstreamModel } };
    });
    return (await this.call('POST', '/v1/messages/batches', JSON.stringify({ requests }))).id;
  }

  async state(jobId: string): Promise<{ state: JobState; message?: string }> {
    return stateOf(await this.call('GET', `/v1/messages/batches/${encodeURIComponent(jobId)}`));
  }

  async stop(jobId: string): Promise<void> {
    await this.call('POST', `/v1/messages/batches/${encodeURIComponent(jobId)}/cancel`);
  }

  /**
   * Each result line checked like an upstream answer: `succeeded` with a Message is an answer (usage read as a live
   * Message's); `errored` keeps the error's type and message; `canceled` and `expired` never reached the model and are
   * left out (unanswered, not billed), as are lines that are not JSON or name no record.
   */
  async results(jobId: string, model: ResolvedModel): Promise<ReadonlyMap<string, JobResult>> {
    const b = await this.call('GET', `/v1/messages/batches/${encodeURIComponent(jobId)}`);
    if (!b.results_url) throw new Error(`${this.p.id} Message Batch ${jobId} has no results_url (processing_status ${b.processing_status})`);
    const url = new URL(b.results_url, `${this.base}/`);
    const res = await this.fetchImpl(url, { headers: this.headers(false) });
    if (!res.ok) throw new Error(`${this.p.id} GET ${url.pathname}: ${res.status}`);
    const out = new Map<string, JobResult>();
    for (const line of (await res.text()).split('\n')) if (line.trim()) readLine(`${this.p.id}/${model.id}`, model.id, line, out);
    return out;
  }
}

interface MessageBatch {
  readonly id: string;
  readonly processing_status: string;
  readonly request_counts?: { readonly processing?: number; readonly succeeded?: number; readonly errored?: number; readonly canceled?: number; readonly expired?: number };
  readonly cancel_initiated_at?: string | null;
  readonly results_url?: string | null;
}

/** in_progress and canceling are running; an ended batch is stopped if it was cancelled, expired if nothing in it ran. */
function stateOf(b: MessageBatch): { state: JobState; message?: string } {
  if (b.processing_status === 'in_progress' || b.processing_status === 'canceling') return { state: 'running' };
  if (b.processing_status !== 'ended') throw new Error(`Message Batch ${b.id}: unknown processing_status ${JSON.stringify(b.processing_status)}`);
  const c = b.request_counts ?? {};
  if (b.cancel_initiated_at) return { state: 'stopped', message: `cancelled; ${c.succeeded ?? 0} succeeded, ${c.canceled ?? 0} canceled` };
  if (!c.succeeded && !c.errored && (c.expired ?? 0) > 0) return { state: 'expired', message: `${c.expired} requests expired` };
  return { state: 'completed' };
}

/** The HTTP status each Anthropic error type stands for (its Errors reference). */
const ERROR_STATUS: Readonly<Record<string, number>> = {
  invalid_request_error: 400, authentication_error: 401, billing_error: 402, permission_error: 403, not_found_error: 404,
  request_too_large: 413, rate_limit_error: 429, api_error: 500, overloaded_error: 529,
};

function readLine(what: string, modelId: string, line: string, out: Map<string, JobResult>): void {
  let v: { custom_id?: unknown; result?: { type?: unknown; message?: unknown; error?: { error?: { type?: unknown; message?: unknown } } } };
  try {
    v = JSON.parse(line);
  } catch {
    return;
  }
  if (typeof v?.custom_id !== 'string' || out.has(v.custom_id)) return;
  const r = v.result;
  if (r?.type === 'succeeded' && r.message && typeof r.message === 'object') {
    try {
      // The Message as a live answer: its chat view and usage; the Message itself for a line sent to /v1/messages.
      out.set(v.custom_id, { ok: nativeResponse(what, 200, r.message as Record<string, unknown>, 'messages', true, { view: (m) => messageToCompletion(m, modelId, 0), usage: readAnthropicUsage }) });
    } catch (err) {
      out.set(v.custom_id, { error: { code: 'invalid_result', message: (err as Error).message } });
    }
    return;
  }
  if (r?.type === 'errored') {
    const e = r.error?.error;
    const code = typeof e?.type === 'string' ? e.type : 'errored';
    out.set(v.custom_id, { error: { code, message: typeof e?.message === 'string' ? e.message : 'the batch request failed', status: ERROR_STATUS[code] ?? 500 } });
  }
  // canceled, expired: never ran, not billed: left out.
}
