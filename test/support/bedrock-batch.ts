import {
  BedrockClient,
  CreateModelInvocationJobCommand,
  GetModelInvocationJobCommand,
  StopModelInvocationJobCommand,
  type CreateModelInvocationJobCommandInput,
  type ModelInvocationJobStatus,
} from '@aws-sdk/client-bedrock';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';

/**
 * What the scripted job answers for one record: a Converse answer, an error line, a modelOutput that is no Converse
 * response (`garbage`), a torn line that is not JSON (`torn`: it names no record), or nothing.
 */
export type RecordOutcome = { readonly answer: string; readonly inputTokens: number; readonly outputTokens: number } | 'error' | 'garbage' | 'torn' | 'missing';

/**
 * Bedrock batch inference scripted at the SDK's wire (aws-sdk-client-mock on the Bedrock control-plane and S3
 * clients): S3 keeps objects in memory; CreateModelInvocationJob reads the input JSONL the caller put; each
 * GetModelInvocationJob moves the job along its `statuses`, and when it reaches Completed, PartiallyCompleted or
 * Stopped the output file `<output uri><job id>/input.jsonl.out` is written as Bedrock writes it (one line per
 * processed record, in input order; `error` lines for failed records). StopModelInvocationJob makes the next state
 * Stopped with the records processed so far (`processedOnStop`).
 */
export class ScriptedBedrockBatch {
  readonly s3 = mockClient(S3Client);
  readonly bedrock = mockClient(BedrockClient);
  readonly objects = new Map<string, string>();
  readonly blobs = new Map<string, Buffer>();
  readonly jobs: { arn: string; input: CreateModelInvocationJobCommandInput; statuses: ModelInvocationJobStatus[]; stopped: boolean }[] = [];
  /** The statuses each new job goes through, one per GetModelInvocationJob; the last one stays. */
  statuses: ModelInvocationJobStatus[] = ['InProgress', 'Completed'];
  /** Records a stopped job had processed before it stopped. */
  processedOnStop = 0;
  /** The next this many GetObject calls fail as S3's InternalError (500) does. */
  failReads = 0;
  outcome: (recordId: string, index: number) => RecordOutcome = (id) => ({ answer: `answer ${id}`, inputTokens: 1000, outputTokens: 100 });

  constructor() {
    this.s3.on(PutObjectCommand).callsFake((i) => {
      // Binary bodies (a gzipped result) are kept as bytes, text as text.
      if (i.Body instanceof Uint8Array) this.blobs.set(`${i.Bucket}/${i.Key}`, Buffer.from(i.Body));
      else this.objects.set(`${i.Bucket}/${i.Key}`, String(i.Body));
      return {};
    });
    this.s3.on(DeleteObjectCommand).callsFake((i) => {
      // S3 answers a delete of a missing key with success too.
      this.objects.delete(`${i.Bucket}/${i.Key}`);
      this.blobs.delete(`${i.Bucket}/${i.Key}`);
      return {};
    });
    this.s3.on(GetObjectCommand).callsFake((i) => {
      if (this.failReads > 0) {
        this.failReads--;
        throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } });
      }
      const blob = this.blobs.get(`${i.Bucket}/${i.Key}`);
      if (blob) return { Body: { transformToByteArray: async () => new Uint8Array(blob), transformToString: async () => blob.toString('utf8') } };
      const text = this.objects.get(`${i.Bucket}/${i.Key}`);
      if (text === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      return { Body: { transformToString: async () => text, transformToByteArray: async () => new Uint8Array(Buffer.from(text)) } };
    });
    this.s3.on(ListObjectsV2Command).callsFake((i) => ({
      Contents: [...this.objects.keys()].filter((k) => k.startsWith(`${i.Bucket}/${i.Prefix ?? ''}`)).map((k) => ({ Key: k.slice(`${i.Bucket}/`.length) })),
      IsTruncated: false,
    }));
    this.bedrock.on(CreateModelInvocationJobCommand).callsFake((input: CreateModelInvocationJobCommandInput) => {
      const arn = `arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/job${this.jobs.length + 1}`;
      this.jobs.push({ arn, input, statuses: [...this.statuses], stopped: false });
      return { jobArn: arn };
    });
    this.bedrock.on(GetModelInvocationJobCommand).callsFake((i) => {
      const job = this.jobs.find((j) => j.arn === i.jobIdentifier);
      if (!job) throw Object.assign(new Error('job not found'), { name: 'ResourceNotFoundException' });
      const status = job.stopped ? 'Stopped' : job.statuses.length > 1 ? job.statuses.shift()! : job.statuses[0];
      if (['Completed', 'PartiallyCompleted', 'Stopped'].includes(status)) this.writeOutput(job, status === 'Stopped' ? this.processedOnStop : Infinity);
      return { jobArn: job.arn, status, outputDataConfig: job.input.outputDataConfig, ...(status === 'Stopped' ? { message: 'Stopped by the user' } : {}) };
    });
    this.bedrock.on(StopModelInvocationJobCommand).callsFake((i) => {
      const job = this.jobs.find((j) => j.arn === i.jobIdentifier);
      if (job) job.stopped = true;
      return {};
    });
  }

  /** The input JSONL the job was created on, parsed. */
  inputOf(job: number): { recordId: string; modelInput: Record<string, unknown> }[] {
    const uri = this.jobs[job].input.inputDataConfig!.s3InputDataConfig!.s3Uri!.replace(/^s3:\/\//, '');
    return this.objects.get(uri)!.trim().split('\n').map((l) => JSON.parse(l));
  }

  private writeOutput(job: ScriptedBedrockBatch['jobs'][number], processed: number): void {
    const out = job.input.outputDataConfig!.s3OutputDataConfig!.s3Uri!.replace(/^s3:\/\//, '');
    const key = `${out}${job.arn.split('/').pop()}/input.jsonl.out`;
    if (this.objects.has(key)) return;
    const lines = this.inputOf(this.jobs.indexOf(job)).slice(0, processed).flatMap((r, i) => {
      const o = this.outcome(r.recordId, i);
      if (o === 'missing') return [];
      if (o === 'torn') return ['{"recordId": "trunc'];
      if (o === 'garbage') return [JSON.stringify({ recordId: r.recordId, modelInput: r.modelInput, modelOutput: { results: [{ outputText: 'not a Converse answer' }] } })];
      if (o === 'error') return [JSON.stringify({ recordId: r.recordId, modelInput: r.modelInput, error: { errorCode: 400, errorMessage: 'Malformed input request' } })];
      return [JSON.stringify({
        recordId: r.recordId, modelInput: r.modelInput,
        modelOutput: {
          output: { message: { role: 'assistant', content: [{ text: o.answer }] } }, stopReason: 'end_turn',
          usage: { inputTokens: o.inputTokens, outputTokens: o.outputTokens, totalTokens: o.inputTokens + o.outputTokens }, metrics: { latencyMs: 500 },
        },
      })];
    });
    this.objects.set(key, lines.join('\n') + '\n');
  }

  restore(): void {
    this.s3.restore();
    this.bedrock.restore();
  }
}
