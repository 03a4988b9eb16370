import type { ResolvedModel } from '../config/resolve';
import { ProviderError, type ChatProvider, type ProviderCall, type ProviderResponse, type ProviderStreamEvent } from '../ports';

/** Where a provider's batch job stands. */
export type JobState = 'running' | 'completed' | 'failed' | 'stopped' | 'expired';

/** One request of a job: the id the provider's output names it by, and the call the gateway would have made live. */
export interface JobRecord {
  readonly recordId: string;
  readonly call: ProviderCall;
}

/** One record's outcome as the provider's output file has it: an answer, or the error it reports for that record. */
export type JobResult = { readonly ok: ProviderResponse } | { readonly error: { readonly code: string; readonly message: string; readonly status?: number } };

/**
 * A provider's batch API (Bedrock batch inference: CreateModelInvocationJob over S3), one job per model. The gateway
 * submits the lines it checked and held, polls the job's state, and reads its output once per job: no call per line.
 */
export interface BatchJobUpstream {
  /** Fewest and most records one job takes (the provider's quotas, per model), checked before anything is held. */
  readonly minRecords: number;
  readonly maxRecords: number;
  /** Writes the records where the provider reads them and starts the job; the provider's job id. */
  submit(batchId: string, model: ResolvedModel, records: readonly JobRecord[]): Promise<string>;
  state(jobId: string): Promise<{ readonly state: JobState; readonly message?: string }>;
  /** Every record the job answered or refused, by record id (a record with no line in the output is absent). */
  results(jobId: string, model: ResolvedModel): Promise<ReadonlyMap<string, JobResult>>;
  stop(jobId: string): Promise<void>;
}

/** Which models the gateway can send as provider batch jobs. */
export interface BatchJobs {
  upstreamFor(model: ResolvedModel): BatchJobUpstream | undefined;
}

/**
 * A provider's batch API per configured provider that has one (OpenAI's Batch API, Anthropic's Message Batches):
 * a model's upstream is its provider's; embedding models never go as jobs.
 */
export class ProviderBatchJobs implements BatchJobs {
  private readonly upstreams: ReadonlyMap<string, BatchJobUpstream>;

  constructor(upstreams: Iterable<readonly [providerId: string, upstream: BatchJobUpstream]>) {
    this.upstreams = new Map(upstreams);
  }

  upstreamFor(model: ResolvedModel): BatchJobUpstream | undefined {
    return model.config.kind === 'embedding' ? undefined : this.upstreams.get(model.provider.id);
  }
}

/** Several providers' batch APIs as one: a model's upstream is the first that takes it. */
export function anyOfJobs(...all: readonly BatchJobs[]): BatchJobs {
  return { upstreamFor: (model) => all.map((j) => j.upstreamFor(model)).find((u) => u !== undefined) };
}

/** A record id Bedrock accepts (alphanumeric) that maps back to the input line: L and 10 digits. */
export function recordIdOf(line: number): string {
  return `L${String(line).padStart(10, '0')}`;
}

/**
 * A ChatProvider that answers with what a batch job already returned, so each line settles through the same pipeline
 * as a live request (pricing at the batch rate, the record, the hold) without calling anyone. The runner sets the
 * line's result before the line runs; a call for another model (a route that moved since submit) is refused.
 */
export class RecordedAnswers implements ChatProvider {
  private current: { readonly modelId: string; readonly result: JobResult } | undefined;

  answerNext(modelId: string, result: JobResult): void {
    this.current = { modelId, result };
  }

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const c = this.current;
    this.current = undefined;
    if (!c || c.modelId !== call.model.id) {
      throw new ProviderError(`the batch job answered for '${c?.modelId ?? 'no model'}', not '${call.model.id}'`, 'client', 400);
    }
    if ('error' in c.result) throw new ProviderError(`${c.result.error.code}: ${c.result.error.message}`, 'client', c.result.error.status ?? 400);
    // A provider's own answer (Anthropic's Message) stands as the line's answer only for a line sent in its format.
    if (c.result.ok.native && !call.native) {
      const { native: _n, ...chat } = c.result.ok;
      return chat;
    }
    return c.result.ok;
  }

  // eslint-disable-next-line require-yield
  async *stream(): AsyncGenerator<ProviderStreamEvent> {
    throw new ProviderError('a batch line never streams', 'client', 400);
  }
}
