import {
  BedrockClient,
  CreateModelInvocationJobCommand,
  GetModelInvocationJobCommand,
  StopModelInvocationJobCommand,
  type ModelInvocationJobStatus,
} from '@aws-sdk/client-bedrock';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { BatchJobs, BatchJobUpstream, JobRecord, JobResult, JobState } from '../core/batch/jobs';
import type { ResolvedModel } from '../core/config/resolve';
import { fromConverseOutput, toConverseInput } from './bedrock-provider';

export interface BedrockBatchJobsOptions {
  /** The bucket Bedrock reads the input from and writes the output to (the BatchLane's). */
  readonly bucket: string;
  /** Key prefix for the lane's objects, e.g. `batches/`. */
  readonly prefix?: string;
  /** The service role Bedrock assumes to read and write the bucket (the BatchLane's). */
  readonly roleArn: string;
  /**
   * Fewest records a job takes: the Bedrock quota "Minimum number of records per batch inference job" (per model;
   * 100 by default, read 2026-12-06 from the Bedrock quotas page). An account that raised or lowered it says so here.
   */
  readonly minRecords?: number;
  /** Most records a job takes: the quota "Records per batch inference job" (50,000 by default, per model). */
  readonly maxRecords?: number;
  /** Hours before Bedrock expires a job (24 to 168; the OpenAI-shaped window is 24 h). */
  readonly timeoutHours?: number;
  readonly bedrock?: BedrockClient;
  readonly s3?: S3Client;
  readonly now?: () => number;
}

/** Bedrock's job states, as the lane's. */
const STATES: Readonly<Record<ModelInvocationJobStatus, JobState>> = {
  Submitted: 'running', Validating: 'running', Scheduled: 'running', InProgress: 'running', Stopping: 'running',
  Completed: 'completed', PartiallyCompleted: 'completed', Failed: 'failed', Stopped: 'stopped', Expired: 'expired',
};

/** Job names and request tokens: letters, digits and hyphens only (the API's patterns), at most 63 characters. */
function safeName(text: string): string {
  return text.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
}

/**
 * Bedrock batch inference as the lane's provider jobs: one Converse-shaped job per model (modelInvocationType
 * Converse, so each record's `modelInput` is the Converse request the gateway would have sent live and each
 * `modelOutput` a Converse response the live path already reads). The input JSONL goes to
 * `s3://bucket/prefix<batch>/<model>/input.jsonl`, the output under `.../output/<job id>/`.
 */
export class BedrockBatchJobs implements BatchJobs, BatchJobUpstream {
  readonly minRecords: number;
  readonly maxRecords: number;
  private readonly bedrock: BedrockClient;
  private readonly s3: S3Client;
  private readonly prefix: string;

  constructor(private readonly o: BedrockBatchJobsOptions) {
    this.minRecords = o.minRecords ?? 100;
    this.maxRecords = o.maxRecords ?? 50_000;
    this.bedrock = o.bedrock ?? new BedrockClient({});
    this.s3 = o.s3 ?? new S3Client({});
    this.prefix = o.prefix ?? '';
  }

  upstreamFor(model: ResolvedModel): BatchJobUpstream | undefined {
    return model.provider.type === 'bedrock' && model.config.kind !== 'embedding' ? this : undefined;
  }

  async submit(batchId: string, model: ResolvedModel, records: readonly JobRecord[]): Promise<string> {
    const base = `${this.prefix}${batchId}/${safeName(model.id)}/`;
    const body = records.map((r) => {
      // The model is the job's; a service tier does not apply to batch (it is billed at the batch price).
      const { modelId: _m, serviceTier: _t, ...modelInput } = toConverseInput(r.call);
      return JSON.stringify({ recordId: r.recordId, modelInput });
    }).join('\n') + '\n';
    await this.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: `${base}input.jsonl`, Body: body, ContentType: 'application/jsonl' }));
    const out = await this.bedrock.send(new CreateModelInvocationJobCommand({
      jobName: safeName(`llm-finops-${batchId}-${model.id}`),
      clientRequestToken: safeName(`${batchId}-${model.id}`),
      roleArn: this.o.roleArn,
      modelId: model.config.upstreamModel,
      modelInvocationType: 'Converse',
      inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://${this.o.bucket}/${base}input.jsonl`, s3InputFormat: 'JSONL' } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${this.o.bucket}/${base}output/` } },
      timeoutDurationInHours: this.o.timeoutHours ?? 24,
    }));
    if (!out.jobArn) throw new Error('CreateModelInvocationJob answered without a jobArn');
    return out.jobArn;
  }

  async state(jobArn: string): Promise<{ state: JobState; message?: string }> {
    const out = await this.bedrock.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));
    const state = out.status ? STATES[out.status] : undefined;
    if (!state) throw new Error(`GetModelInvocationJob answered an unknown status ${JSON.stringify(out.status ?? null)} for ${jobArn}`);
    return { state, ...(out.message ? { message: out.message } : {}) };
  }

  async stop(jobArn: string): Promise<void> {
    await this.bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: jobArn }));
  }

  /**
   * Reads the job's output files (`<input>.jsonl.out` under `<output uri><job id>/`), each line checked like an
   * upstream answer: a record whose modelOutput is not a Converse response gets the error `invalid_result` (502), an
   * error line keeps Bedrock's code; a line that is not JSON or names no record is skipped, so its record counts as
   * unanswered (the batch's error file says so, nothing is charged). Never a crash or a guess.
   */
  async results(jobArn: string, model: ResolvedModel): Promise<ReadonlyMap<string, JobResult>> {
    const job = await this.bedrock.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));
    const uri = job.outputDataConfig?.s3OutputDataConfig?.s3Uri;
    const m = uri ? /^s3:\/\/([^/]+)\/(.*)$/.exec(uri) : null;
    if (!m) throw new Error(`job ${jobArn} names no S3 output`);
    const [, bucket, path] = m;
    const dir = `${path.endsWith('/') || !path ? path : `${path}/`}${jobArn.split('/').pop()}/`;
    const out = new Map<string, JobResult>();
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: dir, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (!o.Key?.endsWith('.jsonl.out')) continue;
        const obj = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
        const text = obj.Body ? await obj.Body.transformToString('utf8') : '';
        for (const line of text.split('\n')) if (line.trim()) this.readLine(line, model, out);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private readLine(line: string, model: ResolvedModel, out: Map<string, JobResult>): void {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return;
    }
    const rec = v as { recordId?: unknown; modelOutput?: unknown; error?: { errorCode?: unknown; errorMessage?: unknown } };
    if (typeof rec.recordId !== 'string' || out.has(rec.recordId)) return;
    if (rec.error && typeof rec.error === 'object') {
      const status = typeof rec.error.errorCode === 'number' ? rec.error.errorCode : undefined;
      out.set(rec.recordId, { error: { code: `bedrock_${status ?? 'error'}`, message: String(rec.error.errorMessage ?? 'the record failed'), status } });
      return;
    }
    const mo = rec.modelOutput as { output?: { message?: { content?: unknown } } } | undefined;
    if (!mo || typeof mo !== 'object' || !Array.isArray(mo.output?.message?.content)) {
      out.set(rec.recordId, { error: { code: 'invalid_result', message: 'the job\'s output for this record is not a Converse response', status: 502 } });
      return;
    }
    out.set(rec.recordId, { ok: fromConverseOutput(mo as never, model.id, `chatcmpl-${rec.recordId}`, (this.o.now ?? Date.now)()) });
  }
}
