import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PassThrough, type Writable } from 'node:stream';
import { join } from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { DynamoDbQuotaStore, ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { LocalDynamo } from '../../support/dynalite';
import { FakeUpstream } from '../../support/upstream';
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

  it('keeps quotas in the DynamoDB table named in its environment (child process, SDK pointed at dynalite)', async () => {
    const dynamo = new LocalDynamo();
    await dynamo.start();
    try {
      await ensureQuotaTable(dynamo.client, 'bundle-quota');
      upstream.setDefault('up-small-b', { kind: 'ok', content: 'from dynamo run', promptTokens: 1000, completionTokens: 500 });
      const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [join(__dirname, '..', '..', 'support', 'invoke-bundle.js'), 'router', 'bufferedHandler', JSON.stringify(event({ model: 'small-b', messages: [{ role: 'user', content: 'dynamo' }] }))], {
          env: {
            ...process.env,
            LLM_FINOPS_QUOTA_TABLE: 'bundle-quota',
            AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: 'local',
            AWS_SECRET_ACCESS_KEY: 'local',
          },
        });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (status) => resolve({ status, stdout, stderr }));
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

/** The kill-switch bundle the BudgetGuard deploys, in a child process with the SDK pointed at dynalite. */
describe('budget-action bundle', () => {
  const run = (env: Record<string, string>, event: unknown) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [join(__dirname, '..', '..', 'support', 'invoke-bundle.js'), 'budget-action', 'handler', JSON.stringify(event)], {
      env: { ...process.env, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
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
  const invoke = (env: Record<string, string>, authorization: string) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const event = { type: 'REQUEST', methodArn: 'arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/v1/chat/completions', headers: { Authorization: authorization } };
      const p = spawn(process.execPath, [join(__dirname, '..', '..', 'support', 'invoke-bundle.js'), 'authorizer', 'handler', JSON.stringify(event)], { env: { ...process.env, ...env } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });

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
