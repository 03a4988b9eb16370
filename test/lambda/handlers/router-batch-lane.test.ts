import { PassThrough, type Writable } from 'node:stream';
import { CreateModelInvocationJobCommand, GetModelInvocationJobCommand } from '@aws-sdk/client-bedrock';
import { ensureBatchTable } from '../../../lambda/adapters/aws-batch-store';
import { ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { ScriptedBedrockBatch } from '../../support/bedrock-batch';
import { LocalDynamo } from '../../support/dynalite';

/**
 * The router's Lambda entry (lambda/handlers/router.ts) as the BatchLane construct deploys it: the batch variables
 * in its environment, the quota and batch tables on dynalite (the SDK pointed there by AWS_ENDPOINT_URL_DYNAMODB),
 * the bucket and Bedrock's job API scripted at the SDK's wire. One module serves the API (`handler`) and, in the
 * poller function, settles the batch (`batchPoller`), as the two functions share one code asset.
 */
jest.setTimeout(120_000);

type Entry = {
  handler: (event: unknown, stream: Writable) => Promise<void>;
  batchPoller: (event: unknown, context?: { getRemainingTimeInMillis(): number }) => Promise<{ skipped: boolean; stoppedEarly: boolean; errors: number }>;
};

const CONFIG = {
  providers: [{ type: 'bedrock', id: 'bedrock', region: 'us-east-1' }],
  models: [{ id: 'nova-lite', provider: 'bedrock', upstreamModel: 'us.amazon.nova-lite-v1:0' }],
  tiers: [{ name: 't', models: ['nova-lite'] }],
  routing: { thresholds: [{ tier: 't', upTo: 1 }], baselineModel: 'nova-lite' },
  tenants: [{ id: 'acme', apiKeys: [{ sha256: '0'.repeat(64) }], limits: { dailyUsd: 5 } }],
  usage: { sink: 'none' },
};

describe('the router entry with the BatchLane bound', () => {
  const dynamo = new LocalDynamo();
  const saved = { ...process.env };
  let bedrock: ScriptedBedrockBatch;
  let entry: Entry;

  beforeAll(async () => {
    await dynamo.start();
    await ensureQuotaTable(dynamo.client, 'quota');
    await ensureBatchTable(dynamo.client, 'lane');
    Object.assign(process.env, {
      LLM_FINOPS_CONFIG: JSON.stringify(CONFIG), LLM_FINOPS_QUOTA_TABLE: 'quota', AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local',
      LLM_FINOPS_BATCH_BUCKET: 'lane-bucket', LLM_FINOPS_BATCH_TABLE: 'lane', LLM_FINOPS_BATCH_ROLE_ARN: 'arn:aws:iam::111122223333:role/lane', LLM_FINOPS_BATCH_RETENTION_DAYS: '30',
    });
    (globalThis as Record<string, unknown>).awslambda = {
      streamifyResponse: (fn: unknown) => fn,
      HttpResponseStream: { from: (stream: Writable, meta: unknown) => (stream.write(`${JSON.stringify(meta)}\n`), stream) },
    };
    bedrock = new ScriptedBedrockBatch();
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      entry = require('../../../lambda/handlers/router') as Entry;
    });
  });

  afterAll(async () => {
    bedrock.restore();
    delete (globalThis as Record<string, unknown>).awslambda;
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await dynamo.stop();
  });

  async function call(httpMethod: string, path: string, body?: string, headers: Record<string, string> = {}, query?: Record<string, string>) {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    await entry.handler({
      httpMethod, path, headers, body: body ?? null, isBase64Encoded: false, queryStringParameters: query ?? null,
      requestContext: { requestId: `r-${Math.random()}`, authorizer: { tenant: 'acme' } },
    }, out);
    const nl = text.indexOf('\n');
    return { meta: JSON.parse(text.slice(0, nl)) as { statusCode: number }, body: text.slice(nl + 1) };
  }

  it('serves the batch API from the lane\'s table and bucket, submits one Bedrock job, and the poller settles it; the hold goes back to 0', async () => {
    bedrock.statuses = ['InProgress', 'Completed'];
    const jsonl = Array.from({ length: 100 }, (_, i) => JSON.stringify({ custom_id: `c${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'nova-lite', max_tokens: 100, messages: [{ role: 'user', content: `Summarise ticket ${i}.` }] } })).join('\n');
    const form = `--llmfinops\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--llmfinops\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n${jsonl}\r\n--llmfinops--\r\n`;
    const up = await call('POST', '/v1/files', form, { 'content-type': 'multipart/form-data; boundary=llmfinops' });
    expect(up.meta.statusCode).toBe(200);
    const fileId = JSON.parse(up.body).id as string;
    expect(bedrock.objects.get(`lane-bucket/files/${fileId}.jsonl`)).toBe(jsonl);
    const created = await call('POST', '/v1/batches', JSON.stringify({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' }), { 'content-type': 'application/json' });
    const batch = JSON.parse(created.body);
    expect(batch).toMatchObject({ status: 'in_progress', request_counts: { total: 100 } });
    expect(bedrock.bedrock.commandCalls(CreateModelInvocationJobCommand).map((c) => c.args[0].input)).toEqual([expect.objectContaining({
      roleArn: 'arn:aws:iam::111122223333:role/lane',
      inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://lane-bucket/jobs/${batch.id}/nova-lite/input.jsonl`, s3InputFormat: 'JSONL' } },
    })]);
    const usage = async () => (JSON.parse((await call('GET', '/v1/usage')).body) as { windows: { window: string; reserved_usd: number; spend_usd: number }[] }).windows.find((w) => w.window === 'day')!;
    expect((await usage()).reserved_usd).toBeGreaterThan(0);
    const context = { getRemainingTimeInMillis: () => 900_000 };
    // The job is still running: the poller reads its state once and settles nothing.
    expect(await entry.batchPoller({ source: 'aws.events' }, context)).toEqual({ skipped: false, stoppedEarly: false, errors: 0 });
    expect(JSON.parse((await call('GET', `/v1/batches/${batch.id}`)).body).status).toBe('in_progress');
    // Bedrock's event that the job ended.
    expect(await entry.batchPoller({ source: 'aws.bedrock', 'detail-type': 'Batch Inference Job State Change' }, context)).toEqual({ skipped: false, stoppedEarly: false, errors: 0 });
    expect(bedrock.bedrock.commandCalls(GetModelInvocationJobCommand).length).toBeGreaterThanOrEqual(2);
    const done = JSON.parse((await call('GET', `/v1/batches/${batch.id}`)).body);
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: 100, completed: 100, failed: 0 } });
    const output = (await call('GET', `/v1/files/${done.output_file_id}/content`)).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(output).toHaveLength(100);
    expect(output[0]).toMatchObject({ custom_id: 'c0', response: { status_code: 200 } });
    // Nova Lite at the batch price: 1,000 in and 100 out at $0.03 / $0.12 per 1M = 42 micro-dollars a line.
    expect(await usage()).toMatchObject({ reserved_usd: 0, spend_usd: 0.0042 });
    // The list pages with the query API Gateway passes apart from the path.
    const page = JSON.parse((await call('GET', '/v1/batches', undefined, {}, { limit: '1' })).body);
    expect(page.data.map((b: { id: string }) => b.id)).toEqual([batch.id]);
  });
});
