import { PassThrough, type Writable } from 'node:stream';
import { join } from 'node:path';
import { FakeUpstream } from '../../support/upstream';
import { testConfig } from '../../support/config';

/**
 * Loads the esbuild bundle that the construct deploys (assets/lambda/router/index.js, built by `npm ci`) the way
 * the Lambda Node.js runtime does: with the `awslambda` global and the config in the environment.
 */
describe('router bundle', () => {
  const upstream = new FakeUpstream();
  beforeAll(() => upstream.start());
  afterAll(() => {
    delete (globalThis as Record<string, unknown>).awslambda;
    delete process.env.LLM_FINOPS_CONFIG;
    return upstream.stop();
  });

  it('starts from its environment and answers a streamed request through the runtime globals', async () => {
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
    process.env.LLM_FINOPS_CONFIG = JSON.stringify(testConfig(upstream.baseUrl, { usage: { sink: 'none' } }));
    let mod: { handler: (e: unknown, s: Writable) => Promise<void>; bufferedHandler: unknown } | undefined;
    jest.isolateModules(() => {
      // The deployed artefact is plain CommonJS; require it exactly as the runtime does.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(join(__dirname, '..', '..', '..', 'assets', 'lambda', 'router', 'index.js'));
    });
    expect(typeof mod!.bufferedHandler).toBe('function');
    upstream.setDefault('up-small-a', { kind: 'ok', content: 'from the bundle', promptTokens: 4, completionTokens: 3 });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await mod!.handler({
      httpMethod: 'POST',
      path: '/v1/chat/completions',
      headers: {},
      body: JSON.stringify({ model: 'small-a', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } }),
      isBase64Encoded: false,
      requestContext: { requestId: 'r1', authorizer: { tenant: 'acme' } },
    }, out);
    const text = Buffer.concat(chunks).toString();
    expect(text.startsWith('{"statusCode":200')).toBe(true);
    expect(text).toContain('"llm_finops":{"cost_usd":0.00001');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});
