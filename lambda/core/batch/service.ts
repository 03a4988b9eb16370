import { GatewayError, InvalidRequestError, NotFoundError } from '../errors';
import { featureHeader } from '../usage';
import type { ChatProvider, Clock, IdSource } from '../ports';
import type { Gateway } from '../pipeline/gateway';
import { outputCapFor, QuotaStoreUnavailableError, type AdmitRequest } from '../quota/guard';
import type { BatchHold } from '../quota/batch-hold';
import { utf8Length } from '../tokens';
import { DEFAULT_BATCH_LIMITS, parseBatchInput, type BatchInput, type BatchInputLimits, type BatchInputLine, type BatchLineError } from './input';
import { batchObject, COMPLETION_WINDOWS, fileObject, parseCreate } from './objects';
import { recordIdOf, RecordedAnswers, type BatchJobs, type JobRecord, type JobResult } from './jobs';
import { runBatchLine, unrunLine, type BatchOutputLine } from './runner';
import type { BatchJobRef, BatchRecord, BatchStatus, BatchStore, StoredFile, StoredLineResult } from './store';
import type { ChatRequest } from '../openai/types';
import type { ResolvedModel } from '../config/resolve';

export interface BatchServiceOptions {
  readonly gateway: Gateway;
  readonly store: BatchStore;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly limits?: BatchInputLimits;
  /** The local simulator waits this long after submit before it runs a batch (what a provider's queue would). */
  readonly delayMs?: number;
  /** The hold shrinks to the lines still to run after every this many lines (and the counts are stored). */
  readonly holdEvery?: number;
  /**
   * Provider batch jobs (Bedrock batch inference): every line goes to its model's job, which the runner polls and
   * settles from the job's output. Without it, the simulator sends each line as a live call (flag batch_simulated).
   */
  readonly jobs?: BatchJobs;
  /** A batch on provider jobs has their state read at most this often (default 30 s: the job APIs have low rate quotas). */
  readonly pollEveryMs?: number;
  /** A batch the runner could not advance (retried on the next tick); the batch id is undefined for the listing itself. */
  readonly onError?: (batchId: string | undefined, err: unknown) => void;
  /** Told once per provider job when a poll finds it ended (completed, failed, stopped, expired): the lane's alarms count these. */
  readonly onJobEnded?: (batchId: string, job: BatchJobRef) => void;
}

/** Newest first, then by id, as the Files and Batch APIs list. */
const newestFirst = (a: { readonly createdAt: number; readonly id: string }, b: { readonly createdAt: number; readonly id: string }): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);

/** A batch's hold outlives its window by an hour, so the lines' last settlements land while it still holds. */
const HOLD_GRACE_MS = 3_600_000;
const FINAL: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

/**
 * The OpenAI Batch API (files and batches) on the gateway, per tenant. A batch's input is checked line by line as
 * the live path checks a request, the whole batch is reserved against every quota scope at the batch price before it
 * is accepted, each line runs through the live pipeline as a line of the batch (one usage record each) and settles
 * its part of the hold, and what is left is released when the batch ends, fails, expires or is cancelled. The runner
 * here is the local simulator: it runs the lines after `delayMs`, and picks up a batch a stopped process left.
 */
export class BatchService {
  private readonly limits: BatchInputLimits;
  private readonly running = new Map<string, AbortController>();
  private readonly polledAt = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;

  constructor(private readonly o: BatchServiceOptions) {
    this.limits = o.limits ?? DEFAULT_BATCH_LIMITS;
  }

  private nowSeconds(): number {
    return Math.floor(this.o.clock.now() / 1000);
  }

  private newId(prefix: string): string {
    return `${prefix}${this.o.ids.requestId().replace(/^req_/, '').replace(/[^a-zA-Z0-9]/g, '').slice(-32)}`;
  }

  // ---- Files -------------------------------------------------------------------------------------------------------

  /** `POST /v1/files`: keeps a batch input file (purpose `batch`); the lines are checked when a batch names it. */
  async uploadFile(tenantId: string, f: { readonly purpose: string | undefined; readonly filename: string; readonly content: string }): Promise<Record<string, unknown>> {
    if (f.purpose !== 'batch') {
      throw new InvalidRequestError(`purpose must be 'batch' (this gateway keeps batch input files only), got ${JSON.stringify(f.purpose ?? null)}.`, 'purpose', 'invalid_purpose');
    }
    const bytes = utf8Length(f.content);
    if (bytes === 0) throw new InvalidRequestError('The file is empty.', 'file', 'empty_file');
    if (bytes > this.limits.maxFileBytes) throw new GatewayError(`The file is ${bytes} bytes; a batch input file takes at most ${this.limits.maxFileBytes}.`, 413, 'invalid_request_error', 'file_too_large', 'file');
    const file: StoredFile = { id: this.newId('file-'), tenantId, purpose: 'batch', filename: f.filename, bytes, createdAt: this.nowSeconds() };
    await this.o.store.putFile(file, f.content);
    return fileObject(file);
  }

  async listFiles(tenantId: string, purpose?: string): Promise<Record<string, unknown>> {
    const files = (await this.o.store.listFiles(tenantId)).filter((f) => !purpose || f.purpose === purpose).sort(newestFirst);
    return { object: 'list', data: files.map(fileObject), has_more: false };
  }

  async getFile(tenantId: string, id: string): Promise<Record<string, unknown>> {
    return fileObject(await this.ownFile(tenantId, id));
  }

  /** `GET /v1/files/{id}/content`: the file as it was uploaded or written (JSONL). */
  async fileContent(tenantId: string, id: string): Promise<string> {
    await this.ownFile(tenantId, id);
    const text = await this.o.store.readFile(id);
    if (text === undefined) throw new NotFoundError(`No such file: '${id}'.`, 'file_id');
    return text;
  }

  async deleteFile(tenantId: string, id: string): Promise<Record<string, unknown>> {
    await this.ownFile(tenantId, id);
    const active = (await this.o.store.activeBatches()).some((b) => b.inputFileId === id);
    if (active) throw new GatewayError(`File '${id}' is the input of a batch still running; cancel the batch first.`, 409, 'invalid_request_error', 'file_in_use', 'file_id');
    await this.o.store.deleteFile(id);
    return { id, object: 'file', deleted: true };
  }

  private async ownFile(tenantId: string, id: string): Promise<StoredFile> {
    const f = await this.o.store.getFile(id);
    // Another tenant's file is answered exactly as a missing one: ids are not secrets, but their existence is.
    if (!f || f.tenantId !== tenantId) throw new NotFoundError(`No such file: '${id}'.`, 'file_id');
    return f;
  }

  // ---- Batches -----------------------------------------------------------------------------------------------------

  /**
   * `POST /v1/batches`. A file with any bad line is stored as a `failed` batch with every problem by line (OpenAI's
   * behaviour: the create call succeeds, the batch says why it failed), nothing reserved. A batch whose hold does not
   * fit a quota is refused outright (429 naming the scope) and not stored.
   */
  async createBatch(who: { readonly tenantId: string; readonly apiKeyId?: string; readonly feature?: string }, body: string): Promise<Record<string, unknown>> {
    const req = parseCreate(body);
    const feature = featureHeader(who.feature);
    const file = await this.ownFile(who.tenantId, req.inputFileId);
    if (file.purpose !== 'batch') throw new InvalidRequestError(`File '${file.id}' is a batch's output, not an input file (purpose batch).`, 'input_file_id', 'invalid_input_file');
    const text = (await this.o.store.readFile(file.id)) ?? '';
    const id = this.newId('batch_');
    const now = this.nowSeconds();
    const base: BatchRecord = {
      id, tenantId: who.tenantId, apiKeyId: who.apiKeyId, feature, endpoint: req.endpoint, inputFileId: file.id,
      completionWindow: req.completionWindow, status: 'validating', metadata: req.metadata, createdAt: now, inProgressAt: null,
      expiresAt: now + COMPLETION_WINDOWS[req.completionWindow], finalizingAt: null, completedAt: null, failedAt: null, expiredAt: null,
      cancellingAt: null, cancelledAt: null, outputFileId: null, errorFileId: null, requestCounts: { total: 0, completed: 0, failed: 0 },
      errors: null, hold: null, runAfterMs: this.o.clock.now() + (this.o.delayMs ?? 0),
    };
    const checked = await this.checkLines(base, text, file.bytes);
    const planned = checked.ok && this.o.jobs ? this.planJobs(checked.lines, checked.admissions, checked.requests) : undefined;
    const problems = !checked.ok ? { data: checked.errors, more: checked.more } : planned && 'errors' in planned ? { data: planned.errors, more: 0 } : undefined;
    if (problems || !checked.ok) {
      const failed: BatchRecord = { ...base, status: 'failed', failedAt: now, errors: problems ?? null };
      await this.o.store.putBatch(failed);
      return batchObject(failed);
    }
    // All or nothing against every scope's limit; a refusal (429) names the scope, and nothing is stored.
    let hold: BatchHold;
    try {
      hold = await this.o.gateway.batchHolds.hold(`${id}.hold.${this.o.ids.requestId()}`, checked.admissions, base.expiresAt * 1000 + HOLD_GRACE_MS);
    } catch (err) {
      // A batch can wait: with the quota store unreachable it is refused (503), whatever quota.onStoreError says.
      if (err instanceof GatewayError) throw err;
      throw new QuotaStoreUnavailableError({ cause: err });
    }
    let accepted: BatchRecord = { ...base, hold, requestCounts: { total: checked.lines.length, completed: 0, failed: 0 } };
    try {
      if (planned && 'groups' in planned) {
        const jobs = await this.submitJobs(base.id, planned.groups);
        accepted = { ...accepted, jobs, status: 'in_progress', inProgressAt: now };
      }
      await this.o.store.putBatch(accepted);
    } catch (err) {
      await this.o.gateway.batchHolds.release(hold).catch(() => undefined);
      throw err;
    }
    return batchObject(accepted);
  }

  /** Every line as the live path would check it (body, model, tier, max_tokens), errors by line; a GatewayError of one line is that line's problem. */
  private async checkLines(b: BatchRecord, text: string, bytes: number): Promise<
    { ok: true; lines: readonly BatchInputLine[]; admissions: AdmitRequest[]; requests: (ChatRequest | undefined)[] } | { ok: false; errors: readonly BatchLineError[]; more: number }
  > {
    const parsed = parseBatchInput(text, bytes, b.endpoint, this.limits, () => undefined);
    if (!parsed.ok) return parsed;
    const errors: BatchLineError[] = [];
    let more = 0;
    const admissions: AdmitRequest[] = [];
    const requests: (ChatRequest | undefined)[] = [];
    for (const line of parsed.lines) {
      try {
        const checked = await this.o.gateway.batchLineAdmission(
          { tenantId: b.tenantId, apiKeyId: b.apiKeyId, feature: b.feature, body: line.body, bodyBytes: line.bodyBytes },
          b.endpoint, `${b.id}.line.${line.line}`,
        );
        admissions.push(checked.admit);
        requests.push(checked.request);
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        const e = { code: err.code, line: line.line, message: `Line ${line.line}: ${err.message}`, param: err.param ? `body.${err.param}` : 'body' };
        if (errors.length < 100) errors.push(e);
        else more++;
      }
    }
    return errors.length ? { ok: false, errors, more } : { ok: true, lines: parsed.lines, admissions, requests };
  }

  /**
   * Each line's provider job (one per model), checked before anything is held: the model must have a batch API here
   * (Bedrock batch inference, for a bedrock provider), each job must reach the provider's minimum record count and
   * stay within its maximum, and embeddings lines are not sent as jobs.
   */
  private planJobs(lines: readonly BatchInputLine[], admissions: readonly AdmitRequest[], requests: readonly (ChatRequest | undefined)[]):
    { groups: { model: ResolvedModel; records: JobRecord[]; lines: number[] }[] } | { errors: BatchLineError[] } {
    const errors: BatchLineError[] = [];
    const groups = new Map<string, { model: ResolvedModel; records: JobRecord[]; lines: number[] }>();
    const cap = this.o.gateway.config.raw.quota.outputTokenCap;
    const never = new AbortController().signal;
    lines.forEach((line, i) => {
      const model = admissions[i].route.chain[0];
      const request = requests[i];
      if (!request || !this.o.jobs!.upstreamFor(model)) {
        if (errors.length < 100) {
          errors.push({ code: 'model_not_batchable', line: line.line, message: `Line ${line.line}: model '${model.id}' (${model.provider.type}) has no batch API on this gateway: batch jobs run on Bedrock models, for chat, Responses and Messages requests.`, param: 'body.model' });
        }
        return;
      }
      const g = groups.get(model.id) ?? { model, records: [], lines: [] };
      g.records.push({ recordId: recordIdOf(line.line), call: { model, request: { ...request, model: model.id }, maxTokens: outputCapFor(model, admissions[i].maxTokens, cap), signal: never } });
      g.lines.push(line.line);
      groups.set(model.id, g);
    });
    for (const g of groups.values()) {
      const up = this.o.jobs!.upstreamFor(g.model)!;
      if (g.records.length < up.minRecords || g.records.length > up.maxRecords) {
        const few = g.records.length < up.minRecords;
        errors.push({
          code: few ? 'batch_too_small' : 'batch_too_large', line: null, param: 'input_file_id',
          message: `${g.records.length} lines go to model '${g.model.id}', whose batch jobs take ${few ? `at least ${up.minRecords}` : `at most ${up.maxRecords}`} records (the provider's quota). ${few ? 'Add lines, or send these requests live.' : 'Split the file.'}`,
        });
      }
    }
    return errors.length ? { errors } : { groups: [...groups.values()] };
  }

  /** Starts one job per model; if one cannot start, the ones started are stopped and the error is the create's. */
  private async submitJobs(batchId: string, groups: readonly { model: ResolvedModel; records: JobRecord[]; lines: number[] }[]): Promise<BatchJobRef[]> {
    const started: { ref: BatchJobRef; stop: () => Promise<void> }[] = [];
    try {
      for (const g of groups) {
        const up = this.o.jobs!.upstreamFor(g.model)!;
        const jobId = await up.submit(batchId, g.model, g.records);
        started.push({ ref: { model: g.model.id, jobId, lines: g.lines, state: 'running' }, stop: () => up.stop(jobId) });
      }
    } catch (err) {
      await Promise.all(started.map((s) => s.stop().catch(() => undefined)));
      if (err instanceof GatewayError) throw err;
      throw new GatewayError(`The provider refused the batch job: ${err instanceof Error ? err.message : String(err)}`, 502, 'server_error', 'batch_job_refused', null, { cause: err });
    }
    return started.map((s) => s.ref);
  }

  async getBatch(tenantId: string, id: string): Promise<Record<string, unknown>> {
    return batchObject(await this.ownBatch(tenantId, id));
  }

  /** Every batch of the tenant as the Batch API answers it, newest first (the Message Batches API pages these itself). */
  async batchesOf(tenantId: string): Promise<Record<string, unknown>[]> {
    return (await this.o.store.listBatches(tenantId)).sort(newestFirst).map(batchObject);
  }

  /** `GET /v1/batches`: newest first, `after` a batch id, `limit` 1-100 (default 20), as OpenAI pages them. */
  async listBatches(tenantId: string, query: { readonly after?: string; readonly limit?: string }): Promise<Record<string, unknown>> {
    const limit = query.limit === undefined ? 20 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new InvalidRequestError(`limit must be an integer from 1 to 100, got ${JSON.stringify(query.limit)}.`, 'limit');
    const all = (await this.o.store.listBatches(tenantId)).sort(newestFirst);
    let from = 0;
    if (query.after) {
      const at = all.findIndex((b) => b.id === query.after);
      if (at < 0) throw new NotFoundError(`No such batch: '${query.after}'.`, 'after');
      from = at + 1;
    }
    const page = all.slice(from, from + limit);
    return { object: 'list', data: page.map(batchObject), first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null, has_more: from + limit < all.length };
  }

  /**
   * `POST /v1/batches/{id}/cancel`: a batch not yet started ends `cancelled` at once, its hold released; a running one
   * goes `cancelling`, stops before its next line, and ends `cancelled` with the lines it ran in its output.
   */
  async cancelBatch(tenantId: string, id: string): Promise<Record<string, unknown>> {
    const b = await this.ownBatch(tenantId, id);
    if (FINAL.has(b.status) || b.status === 'cancelling') {
      if (b.status === 'cancelled' || b.status === 'cancelling') return batchObject(b);
      throw new GatewayError(`Batch '${id}' is ${b.status}; only a batch that has not ended can be cancelled.`, 409, 'invalid_request_error', 'batch_not_cancellable', null);
    }
    const cancelling: BatchRecord = { ...b, status: 'cancelling', cancellingAt: this.nowSeconds() };
    await this.o.store.putBatch(cancelling);
    // Provider jobs: the poller stops them and settles the records they had processed (the provider bills those).
    if (b.jobs) return batchObject(cancelling);
    const run = this.running.get(id);
    if (run) {
      run.abort();
      return batchObject(cancelling);
    }
    // Not running in this process: finished here (what was not run goes to the error file).
    return batchObject(await this.finish(cancelling, 'cancelled'));
  }

  /** The batch's input file, read and split again (it was checked at create; the structure check is all that runs). */
  private async inputOf(b: BatchRecord): Promise<BatchInput> {
    const text = (await this.o.store.readFile(b.inputFileId)) ?? '';
    return parseBatchInput(text, utf8Length(text), b.endpoint, this.limits, () => undefined);
  }

  private async ownBatch(tenantId: string, id: string): Promise<BatchRecord> {
    const b = await this.o.store.getBatch(id);
    if (!b || b.tenantId !== tenantId) throw new NotFoundError(`No such batch: '${id}'.`, 'batch_id');
    return b;
  }

  // ---- The local simulator -----------------------------------------------------------------------------------------

  /** Polls for due batches every `everyMs` (unref'd: it never keeps a process alive). */
  start(everyMs = 500): void {
    this.stopped = false;
    this.timer ??= setInterval(() => void this.runDue().catch((err: unknown) => this.o.onError?.(undefined, err)), everyMs);
    this.timer.unref?.();
  }

  /** Stops polling and cancels nothing: a batch in flight stops before its next line and resumes when a runner starts again. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.running.values()) c.abort('stopping');
    await this.ticking;
  }

  /** Runs every batch that is due, one after another; resolves when they have ended (or the runner stopped). */
  runDue(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        for (const b of await this.o.store.activeBatches()) {
          // Stopped (the process shuts down, or a poller nears its time limit): the batches left wait for the next run.
          if (this.stopped) break;
          const now = this.o.clock.now();
          if (b.status === 'validating' && b.runAfterMs > now) continue;
          if (b.jobs && b.status !== 'cancelling' && now - (this.polledAt.get(b.id) ?? -Infinity) < (this.o.pollEveryMs ?? 30_000)) continue;
          if (b.jobs) this.polledAt.set(b.id, now);
          // One batch's failure (a store or provider error) is reported and retried on the next tick; the others run.
          await this.run(b).catch((err: unknown) => this.o.onError?.(b.id, err));
        }
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  private async run(start: BatchRecord): Promise<void> {
    const control = new AbortController();
    this.running.set(start.id, control);
    try {
      let b = start;
      if (b.jobs) return await this.poll(b, control.signal);
      if (b.status === 'cancelling') return void (await this.finish(b, 'cancelled'));
      const parsed = await this.inputOf(b);
      if (!parsed.ok) return void (await this.finish({ ...b, errors: { data: parsed.errors, more: parsed.more } }, 'failed'));
      const done = await this.progressOf(b.id);
      if (b.status === 'validating') {
        b = { ...b, status: 'in_progress', inProgressAt: this.nowSeconds() };
        await this.o.store.putBatch(b);
      }
      let expired = false;
      b = await this.settleEach(b, parsed.lines, done, async (line, current) => {
        if (current.status === 'cancelling') control.abort();
        if (control.signal.aborted) return undefined;
        if (this.o.clock.now() >= current.expiresAt * 1000) {
          expired = true;
          return undefined;
        }
        const { ok, result } = await runBatchLine(this.o.gateway, line, {
          batchId: current.id, endpoint: current.endpoint, tenantId: current.tenantId, apiKeyId: current.apiKeyId, feature: current.feature, held: current.hold !== null, simulated: true,
        });
        return { line: line.line, ok, result };
      });
      if (expired) return void (await this.finish(b, 'expired'));
      if (control.signal.reason === 'stopping') return;
      const latest = (await this.o.store.getBatch(b.id)) ?? b;
      await this.finish({ ...latest, hold: b.hold }, latest.status === 'cancelling' || control.signal.aborted ? 'cancelled' : 'completed');
    } finally {
      this.running.delete(start.id);
    }
  }

  /**
   * A batch on provider jobs: each job's state is read (one call per job, none per line); a cancel stops the jobs
   * still running. Once every job has ended, its output is read once and each line settled through the pipeline with
   * the job's answer in place of a live call: priced at the batch rate, one record each, the hold shrinking as it goes.
   */
  private async poll(start: BatchRecord, stopping: AbortSignal): Promise<void> {
    const upstream = (j: BatchJobRef) => {
      const model = this.o.gateway.config.models.get(j.model);
      const up = model && this.o.jobs?.upstreamFor(model);
      if (!model || !up) throw new Error(`batch ${start.id}: model '${j.model}' of job ${j.jobId} has no batch API in this gateway's config`);
      return { model, up };
    };
    if (start.status === 'cancelling') {
      await Promise.all(start.jobs!.filter((j) => j.state === 'running').map((j) => upstream(j).up.stop(j.jobId).catch(() => undefined)));
    }
    const jobs = await Promise.all(start.jobs!.map(async (j) => (j.state === 'running' ? { ...j, ...(await upstream(j).up.state(j.jobId)) } : j)));
    start.jobs!.forEach((was, i) => void (was.state === 'running' && jobs[i].state !== 'running' && this.o.onJobEnded?.(start.id, jobs[i])));
    const latest = (await this.o.store.getBatch(start.id)) ?? start;
    if (jobs.some((j) => j.state === 'running')) {
      await this.o.store.putBatch({ ...latest, jobs });
      return;
    }
    let b: BatchRecord = { ...latest, jobs, hold: start.hold, status: latest.status === 'validating' ? 'in_progress' : latest.status };
    const parsed = await this.inputOf(b);
    const lines = parsed.ok ? parsed.lines : [];
    const recorded = new RecordedAnswers();
    const ids = new Set([...this.o.gateway.config.models.values()].map((m) => m.provider.id));
    const settling = this.o.gateway.withProviders(new Map<string, ChatProvider>([...ids].map((id) => [id, recorded])));
    const jobOf = new Map<number, BatchJobRef>();
    for (const j of jobs) for (const l of j.lines) jobOf.set(l, j);
    const results = new Map<string, ReadonlyMap<string, JobResult>>();
    for (const j of jobs) {
      const { model, up } = upstream(j);
      try {
        results.set(j.jobId, await up.results(j.jobId, model));
      } catch (err) {
        // The provider billed what its output holds: settling without it would record nothing for paid lines. Retried
        // at the next poll, until the batch's window and an hour have passed; then what could not be read is unanswered.
        if (this.o.clock.now() < b.expiresAt * 1000 + HOLD_GRACE_MS) {
          await this.o.store.putBatch({ ...b, jobs: jobs.map((x) => ({ ...x })) });
          throw err;
        }
        results.set(j.jobId, new Map());
      }
    }
    b = await this.settleEach(b, lines, await this.progressOf(b.id), async (line, current) => {
      // Stopped (the process is shutting down): the lines settled so far are kept; the next runner settles the rest.
      if (stopping.aborted) return undefined;
      const j = jobOf.get(line.line);
      const r = j && results.get(j.jobId)?.get(recordIdOf(line.line));
      if (!j || !r) {
        const code = j?.state === 'expired' ? 'batch_expired' : j?.state === 'stopped' ? 'batch_cancelled' : 'batch_job_failed';
        const why = `The batch job ${j?.jobId ?? ''} ended ${j?.state ?? 'missing'}${j?.message ? ` (${j.message})` : ''} without an answer for this line.`;
        return { line: line.line, ok: false, result: unrunLine(current.id, line, code, why) };
      }
      recorded.answerNext(j.model, r);
      const run = await runBatchLine(settling, line, {
        batchId: current.id, endpoint: current.endpoint, tenantId: current.tenantId, apiKeyId: current.apiKeyId, feature: current.feature, held: current.hold !== null,
      });
      return { line: line.line, ...run };
    });
    if (stopping.aborted) return;
    const allExpired = jobs.every((j) => j.state === 'expired');
    await this.finish(b, b.status === 'cancelling' ? 'cancelled' : allExpired ? 'expired' : 'completed');
  }

  /**
   * Settles each line not yet done with `next` (undefined: stop here), keeping its result the moment it is settled,
   * letting the server's requests (a cancel among them) in between lines even when nothing waited on I/O, and every
   * `holdEvery` lines shrinking the hold and storing the counts (checkpoint). Returns the batch as last stored.
   */
  private async settleEach(
    start: BatchRecord, lines: readonly BatchInputLine[], done: Progress, next: (line: BatchInputLine, current: BatchRecord) => Promise<StoredLineResult | undefined>,
  ): Promise<BatchRecord> {
    let b = start;
    let since = 0;
    for (const line of lines) {
      if (done.has(line.line)) continue;
      const kept = await next(line, b);
      if (!kept) break;
      await this.o.store.appendResult(b.id, kept);
      done.add(kept.line, kept.ok);
      await new Promise<void>((ok) => setImmediate(ok));
      if (++since >= (this.o.holdEvery ?? 100)) {
        since = 0;
        b = await this.checkpoint(b, lines, done);
      }
    }
    return b;
  }

  /** Shrinks the hold to the lines still to run and stores it with the counts; reads back a cancel made elsewhere. */
  private async checkpoint(b: BatchRecord, lines: readonly BatchInputLine[], done: Progress): Promise<BatchRecord> {
    let hold: BatchHold | null = b.hold;
    if (hold) {
      const remaining = lines.flatMap((l, i) => (done.has(l.line) ? [] : [i]));
      hold = await this.o.gateway.batchHolds.shrink(hold, remaining, `${b.id}.hold.${this.o.ids.requestId()}`);
    }
    const stored = await this.o.store.getBatch(b.id);
    const next: BatchRecord = { ...(stored ?? b), hold, requestCounts: { total: b.requestCounts.total, completed: done.completed, failed: done.failed } };
    await this.o.store.putBatch(next);
    return next;
  }

  /** The lines a batch has settled so far, read once when a runner (re)starts it, then counted as it goes. */
  private async progressOf(id: string): Promise<Progress> {
    const p = new Progress();
    for (const r of await this.o.store.readResults(id)) p.add(r.line, r.ok);
    return p;
  }

  /**
   * Ends a batch: the output and error files written (lines not run go to the error file, as cancelled or expired),
   * the hold released, the final status stored. Lines already settled keep their records; the rest cost nothing.
   */
  private async finish(b: BatchRecord, status: 'completed' | 'cancelled' | 'expired' | 'failed'): Promise<BatchRecord> {
    const now = this.nowSeconds();
    if (b.hold) await this.o.gateway.batchHolds.release(b.hold);
    let out: BatchRecord = { ...b, hold: null };
    if (status !== 'failed') {
      const parsed = await this.inputOf(b);
      const lines = parsed.ok ? parsed.lines : [];
      const results = new Map<number, StoredLineResult>((await this.o.store.readResults(b.id)).map((r) => [r.line, r]));
      const output: BatchOutputLine[] = [];
      const errors: BatchOutputLine[] = [];
      for (const line of lines) {
        const r = results.get(line.line);
        if (r) (r.ok ? output : errors).push(r.result);
        else errors.push(unrunLine(b.id, line, status === 'expired' ? 'batch_expired' : 'batch_cancelled'));
      }
      out = {
        ...out, finalizingAt: now,
        outputFileId: output.length ? await this.writeOutput(b, output, 'output') : null,
        errorFileId: errors.length ? await this.writeOutput(b, errors, 'errors') : null,
        requestCounts: { total: lines.length, completed: output.length, failed: errors.length },
      };
    }
    const at = { completed: 'completedAt', cancelled: 'cancelledAt', expired: 'expiredAt', failed: 'failedAt' } as const;
    out = { ...out, status, [at[status]]: now };
    await this.o.store.putBatch(out);
    return out;
  }

  private async writeOutput(b: BatchRecord, lines: readonly BatchOutputLine[], kind: 'output' | 'errors'): Promise<string> {
    const content = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    const file: StoredFile = { id: this.newId('file-'), tenantId: b.tenantId, purpose: 'batch_output', filename: `${b.id}_${kind}.jsonl`, bytes: utf8Length(content), createdAt: this.nowSeconds() };
    await this.o.store.putFile(file, content);
    return file.id;
  }
}

/** Which input lines have a kept result, and how many answered (output file) or failed (error file). */
class Progress {
  private readonly lines = new Set<number>();
  completed = 0;
  failed = 0;

  has(line: number): boolean {
    return this.lines.has(line);
  }

  add(line: number, ok: boolean): void {
    if (this.lines.has(line)) return;
    this.lines.add(line);
    if (ok) this.completed++;
    else this.failed++;
  }
}
