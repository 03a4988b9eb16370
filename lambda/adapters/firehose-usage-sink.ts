import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { UsageSink } from '../core/ports';
import { firehoseClient } from './lazy';
import { awsClientConfig } from './aws-client-config';
import type { UsageRecord } from '../core/usage';

/** Firehose's limits for one PutRecordBatch call. */
const MAX_RECORDS = 500;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const MAX_RECORD_BYTES = 1000 * 1024;

/**
 * Usage records to Amazon Data Firehose (direct put), which batches them into Parquet on S3 for Athena. `write`
 * only buffers: nothing happens on the response's path. `flush` (after the response has ended) sends the buffer with
 * PutRecordBatch, 500 records or 4 MiB per call, retries the records Firehose refused once, and reports what still
 * failed without throwing: the record is also in the function's log (the Powertools line), so it is never lost.
 * Feedback lines stay in the log only. The SDK client is loaded with the first flush (after the first response), not
 * at cold start.
 */
export class FirehoseUsageSink implements UsageSink {
  private buffer: UsageRecord[] = [];

  /** `client` is made on the first flush when not given. */
  constructor(
    private client: FirehoseClient | undefined,
    private readonly streamName: string,
    private readonly onError: (message: string, requestIds: readonly string[]) => void = (message, requestIds) =>
      process.stderr.write(`${JSON.stringify({ _type: 'llm_usage_delivery_failed', stream: streamName, error: message, request_ids: requestIds })}\n`),
  ) {}

  write(record: UsageRecord): void {
    this.buffer.push(record);
  }

  feedback(): void {}

  async flush(): Promise<void> {
    const records = this.buffer;
    this.buffer = [];
    if (!records.length) return;
    const encoder = new TextEncoder();
    const items = records.map((r) => ({ id: r.request_id, data: encoder.encode(`${JSON.stringify(r)}\n`) }));
    const tooBig = items.filter((i) => i.data.byteLength > MAX_RECORD_BYTES);
    if (tooBig.length) this.onError(`record over Firehose's 1,000 KiB limit`, tooBig.map((i) => i.id));
    const batches: (typeof items)[] = [];
    let batch: typeof items = [];
    let bytes = 0;
    for (const item of items.filter((i) => i.data.byteLength <= MAX_RECORD_BYTES)) {
      if (batch.length === MAX_RECORDS || bytes + item.data.byteLength > MAX_BATCH_BYTES) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(item);
      bytes += item.data.byteLength;
    }
    if (batch.length) batches.push(batch);
    await Promise.all(batches.map((b) => this.send(b, true)));
  }

  private async send(batch: ReadonlyArray<{ id: string; data: Uint8Array }>, retry: boolean): Promise<void> {
    try {
      // Loaded inside the try: even a failure to load the client only reaches onError (the records are in the log).
      const { FirehoseClient: Client, PutRecordBatchCommand } = firehoseClient();
      this.client ??= new Client(awsClientConfig('delivery'));
      const out = await this.client.send(new PutRecordBatchCommand({ DeliveryStreamName: this.streamName, Records: batch.map((b) => ({ Data: b.data })) }));
      if (!out.FailedPutCount) return;
      // Responses line up with the request: an entry with an ErrorCode is a record Firehose did not take.
      const failed = batch.filter((_, i) => out.RequestResponses?.[i]?.ErrorCode);
      const codes = [...new Set((out.RequestResponses ?? []).map((r) => r.ErrorCode).filter(Boolean))].join(', ');
      if (retry) {
        // Usually ServiceUnavailableException (throughput): a short pause, then once more.
        await new Promise((r) => setTimeout(r, 100));
        await this.send(failed, false);
      }
      else this.onError(`Firehose refused ${failed.length} record(s): ${codes}`, failed.map((f) => f.id));
    } catch (err) {
      this.onError(`PutRecordBatch failed: ${(err as Error).name}: ${(err as Error).message}`, batch.map((b) => b.id));
    }
  }
}
