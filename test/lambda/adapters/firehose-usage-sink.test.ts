import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { mockClient } from 'aws-sdk-client-mock';
import { FirehoseUsageSink } from '../../../lambda/adapters/firehose-usage-sink';
import { MemoryUsageSink, TeeUsageSink } from '../../../lambda/adapters/usage-sinks';
import { usageRecord } from '../../support/attribution-data';

const decode = (d: Uint8Array | undefined) => new TextDecoder().decode(d);

describe('FirehoseUsageSink', () => {
  const firehose = mockClient(FirehoseClient);
  beforeEach(() => firehose.reset());
  const sink = (errors: unknown[] = []) => new FirehoseUsageSink(new FirehoseClient({ region: 'us-east-1' }), 'llm-usage', (m, ids) => errors.push({ m, ids }));

  it('buffers on write (nothing on the response path) and sends one newline-terminated JSON record per request on flush', async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, Encrypted: true, RequestResponses: [{ RecordId: 'a' }, { RecordId: 'b' }] });
    const s = sink();
    const a = usageRecord({ request_id: 'r1', tenant: 'acme', cost_micros: 1200 });
    const b = usageRecord({ request_id: 'r2', tenant: 'globex' });
    s.write(a);
    s.write(b);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
    await s.flush();
    const calls = firehose.commandCalls(PutRecordBatchCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input.DeliveryStreamName).toBe('llm-usage');
    expect(input.Records!.map((r) => decode(r.Data))).toEqual([`${JSON.stringify(a)}\n`, `${JSON.stringify(b)}\n`]);
    await s.flush();
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(1);
  });

  it('splits at 500 records per call', async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    const s = sink();
    for (let i = 0; i < 1201; i++) s.write(usageRecord({ request_id: `r${i}` }));
    await s.flush();
    expect(firehose.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input.Records!.length)).toEqual([500, 500, 201]);
  });

  it('retries only the records Firehose refused, once, then reports what still failed by request id', async () => {
    firehose.on(PutRecordBatchCommand)
      .resolvesOnce({ FailedPutCount: 1, RequestResponses: [{ RecordId: 'a' }, { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' }, { RecordId: 'c' }] })
      .resolvesOnce({ FailedPutCount: 1, RequestResponses: [{ ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' }] });
    const errors: unknown[] = [];
    const s = sink(errors);
    for (const id of ['r1', 'r2', 'r3']) s.write(usageRecord({ request_id: id }));
    await s.flush();
    const calls = firehose.commandCalls(PutRecordBatchCommand);
    expect(calls).toHaveLength(2);
    expect(JSON.parse(decode(calls[1].args[0].input.Records![0].Data)).request_id).toBe('r2');
    expect(errors).toEqual([{ m: 'Firehose refused 1 record(s): ServiceUnavailableException', ids: ['r2'] }]);
  });

  it('never throws: a failed call is reported with its request ids', async () => {
    firehose.on(PutRecordBatchCommand).rejects(Object.assign(new Error('Stream llm-usage not found'), { name: 'ResourceNotFoundException' }));
    const errors: unknown[] = [];
    const s = sink(errors);
    s.write(usageRecord({ request_id: 'r9' }));
    await expect(s.flush()).resolves.toBeUndefined();
    expect(errors).toEqual([{ m: 'PutRecordBatch failed: ResourceNotFoundException: Stream llm-usage not found', ids: ['r9'] }]);
  });

  it('tees with the log sink: both get the record, flush reaches Firehose', async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [{}] });
    const memory = new MemoryUsageSink();
    const tee = new TeeUsageSink([memory, sink()]);
    tee.write(usageRecord({ request_id: 'r1' }));
    await tee.flush();
    expect(memory.records).toHaveLength(1);
    expect(firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(1);
  });
});
