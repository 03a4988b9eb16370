import { ProviderBatchJobs, type BatchJobUpstream, type JobRecord, type JobResult, type JobState } from '../core/batch/jobs';
import type { ResolvedConfig, ResolvedModel } from '../core/config/resolve';
import type { ProviderConfig } from '../core/config/schema';
import type { ChatCompletion } from '../core/openai/types';
import { readOpenAiUsage } from '../core/openai/usage';
import { fetchBatchJson } from './batch-api-http';
import { defaultOutputCapParam, openAiUpstreamBody } from './openai-compatible-provider';

type OpenAiConfig = Extract<ProviderConfig, { type: 'openai-compatible' }>;

/** OpenAI's batch statuses, as the lane's (validating, in_progress, finalizing and cancelling are still running). */
const STATES: Readonly<Record<string, JobState>> = {
  validating: 'running', in_progress: 'running', finalizing: 'running', cancelling: 'running',
  completed: 'completed', failed: 'failed', expired: 'expired', cancelled: 'stopped',
};

/** Whether a provider's server has OpenAI's Files and Batch APIs: `batchApi`, by default api.openai.com only. */
export function servesBatchApi(p: OpenAiConfig): boolean {
  return p.batchApi ?? new URL(p.baseUrl).hostname === 'api.openai.com';
}

/**
 * OpenAI's Batch API as the lane's provider jobs, for every openai-compatible provider that serves it (`batchApi`):
 * the lines go up as one input file (`POST /files`, purpose batch) per model, each with the chat body the gateway
 * would have sent live, run as one batch (`POST /batches`, 24 h), polled (`GET /batches/{id}`), and read back from
 * its output and error files once it ends.
 */
export class OpenAiBatchJobs extends ProviderBatchJobs {
  constructor(config: ResolvedConfig, keyOf: (p: OpenAiConfig) => string | undefined, fetchImpl: typeof fetch = fetch) {
    super(config.raw.providers.flatMap((p) => (p.type === 'openai-compatible' && servesBatchApi(p) ? [[p.id, new OpenAiBatchUpstream(p, keyOf(p), fetchImpl)] as const] : [])));
  }
}

class OpenAiBatchUpstream implements BatchJobUpstream {
  /** OpenAI takes a batch of one request; a file holds up to 50,000 (its Batch API reference, read 2026-12-06). */
  readonly minRecords = 1;
  readonly maxRecords = 50_000;
  private readonly base: string;

  constructor(private readonly p: OpenAiConfig, private readonly key: string | undefined, private readonly fetchImpl: typeof fetch) {
    this.base = p.baseUrl.replace(/\/+$/, '');
  }

  private headers(json: boolean): Record<string, string> {
    return { ...(this.p.headers ?? {}), ...(json ? { 'content-type': 'application/json' } : {}), ...(this.key ? { authorization: `Bearer ${this.key}` } : {}) };
  }

  private async call<T>(method: string, path: string, body?: string | FormData, json = true): Promise<T> {
    return (await fetchBatchJson(this.fetchImpl, this.p.id, `${this.base}${path}`, method, path, this.headers(json && body !== undefined), body)) as T;
  }

  private async content(fileId: string): Promise<string> {
    const res = await this.fetchImpl(`${this.base}/files/${encodeURIComponent(fileId)}/content`, { headers: this.headers(false) });
    if (!res.ok) throw new Error(`${this.p.id} GET /files/${fileId}/content: ${res.status}`);
    return res.text();
  }

  async submit(batchId: string, model: ResolvedModel, records: readonly JobRecord[]): Promise<string> {
    const cap = defaultOutputCapParam(this.p);
    const jsonl = records.map((r) => JSON.stringify({
      custom_id: r.recordId, method: 'POST', url: '/v1/chat/completions', body: openAiUpstreamBody(r.call, false, model.config.upstreamModel, cap),
    })).join('\n') + '\n';
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', new Blob([jsonl], { type: 'application/jsonl' }), `${batchId}-${model.id}.jsonl`);
    const file = await this.call<{ id?: unknown }>('POST', '/files', form, false);
    if (typeof file.id !== 'string') throw new Error(`${this.p.id} POST /files answered without an id`);
    const batch = await this.call<{ id?: unknown }>('POST', '/batches', JSON.stringify({
      input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { llm_finops_batch: batchId, model: model.id },
    }));
    if (typeof batch.id !== 'string') throw new Error(`${this.p.id} POST /batches answered without an id`);
    return batch.id;
  }

  async state(jobId: string): Promise<{ state: JobState; message?: string }> {
    const b = await this.call<{ status?: unknown; errors?: { data?: { message?: unknown }[] } | null }>('GET', `/batches/${encodeURIComponent(jobId)}`);
    const state = typeof b.status === 'string' ? STATES[b.status] : undefined;
    if (!state) throw new Error(`${this.p.id} batch ${jobId}: unknown status ${JSON.stringify(b.status ?? null)}`);
    const message = b.errors?.data?.[0]?.message;
    return { state, ...(typeof message === 'string' ? { message } : {}) };
  }

  async stop(jobId: string): Promise<void> {
    await this.call('POST', `/batches/${encodeURIComponent(jobId)}/cancel`);
  }

  /**
   * The output and error files, each line checked like an upstream answer: a 200 whose body is a chat completion is
   * an answer (its usage read as a live answer's is); any other status keeps the body's error; a line with no response
   * (cancelled or expired before it ran), not JSON, or naming no record is skipped: its record counts as unanswered.
   */
  async results(jobId: string): Promise<ReadonlyMap<string, JobResult>> {
    const b = await this.call<{ output_file_id?: unknown; error_file_id?: unknown }>('GET', `/batches/${encodeURIComponent(jobId)}`);
    const out = new Map<string, JobResult>();
    for (const id of [b.output_file_id, b.error_file_id]) {
      if (typeof id !== 'string' || !id) continue;
      for (const line of (await this.content(id)).split('\n')) if (line.trim()) readLine(line, out);
    }
    return out;
  }
}

function readLine(line: string, out: Map<string, JobResult>): void {
  let v: { custom_id?: unknown; response?: { status_code?: unknown; body?: unknown } | null; error?: { code?: unknown; message?: unknown } | null };
  try {
    v = JSON.parse(line);
  } catch {
    return;
  }
  if (typeof v?.custom_id !== 'string' || out.has(v.custom_id)) return;
  // No response: the request never reached the model (the batch expired or was cancelled first): not run, not billed.
  if (!v.response) return;
  const status = typeof v.response?.status_code === 'number' ? v.response.status_code : undefined;
  const body = v.response?.body as (ChatCompletion & { error?: { code?: unknown; message?: unknown } }) | undefined;
  if (status === 200 && body && Array.isArray(body.choices)) {
    const reading = readOpenAiUsage(body.usage);
    out.set(v.custom_id, { ok: { completion: body, usage: reading.usage, usageProblem: reading.problem } });
    return;
  }
  const err = body?.error ?? v.error ?? undefined;
  const code = typeof err?.code === 'string' ? err.code : status ? `status_${status}` : 'invalid_result';
  out.set(v.custom_id, { error: { code, message: typeof err?.message === 'string' ? err.message : 'the batch returned no answer for this record', status } });
}
