import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { S3CaptureSink } from '../../../lambda/adapters/s3-capture-sink';
import { MemoryUsageSink } from '../../../lambda/adapters/usage-sinks';
import { buildGateway } from '../../../lambda/adapters/wiring';
import type { CaptureExample } from '../../../lambda/core/capture/capture';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { ENV_CAPTURE_BUCKET } from '../../../lambda/contract';
import { FakeUpstream } from '../../support/upstream';

const example = (feature: string, ts: string, answer: string): CaptureExample => ({
  messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: answer }],
  llm_finops: { ts, request_id: `r-${answer}`, tenant: 'acme', feature, model: 'big', upstream_model: 'up-big', scrubbed: {} },
});

describe('S3CaptureSink (the CaptureStore bucket)', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  it('writes one JSONL object per feature and day of a batch, under capture/<feature>/, named by its first example\'s time', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
    let n = 0;
    const sink = new S3CaptureSink('llm-capture-bucket', new S3Client({ region: 'us-east-1' }), () => `id${++n}`);
    await sink.write([
      example('tickets', '2026-12-07T09:15:02.120Z', 'billing'),
      example('invoices/eu', '2026-12-07T09:15:03.000Z', '{"total": 1}'),
      example('tickets', '2026-12-07T09:15:04.500Z', 'bug'),
      example('tickets', '2026-12-08T00:00:01.000Z', 'other'),
    ]);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => [p.Bucket, p.Key, p.ContentType])).toEqual([
      ['llm-capture-bucket', 'capture/tickets/2026-12-07T091502Z-id1.jsonl', 'application/jsonl'],
      ['llm-capture-bucket', 'capture/invoices_eu/2026-12-07T091503Z-id2.jsonl', 'application/jsonl'],
      ['llm-capture-bucket', 'capture/tickets/2026-12-08T000001Z-id3.jsonl', 'application/jsonl'],
    ]);
    const lines = String(puts[0].Body).trimEnd().split('\n').map((l) => JSON.parse(l) as CaptureExample);
    expect(lines.map((l) => [l.llm_finops.request_id, (l.messages[1] as { content: string }).content])).toEqual([['r-billing', 'billing'], ['r-bug', 'bug']]);
    // No encryption headers: the bucket's default (its KMS key) applies, and the role may only put under capture/.
    expect(puts[0]).not.toHaveProperty('ServerSideEncryption');
  });

  it('is what the Lambda\'s wiring uses when the CaptureStore set its bucket, with no capture.path', async () => {
    const upstream = new FakeUpstream();
    await upstream.start();
    try {
      s3.on(PutObjectCommand).resolves({ ETag: '"e"' });
      upstream.setDefault('up-big', { kind: 'ok', content: 'billing', promptTokens: 30, completionTokens: 1 });
      const config = resolveConfig({
        providers: [{ id: 'up', type: 'openai-compatible', baseUrl: upstream.baseUrl }],
        models: [{ id: 'big', provider: 'up', upstreamModel: 'up-big', price: { inputPerMTok: 3, outputPerMTok: 15 } }],
        tiers: [{ name: 'large', models: ['big'] }],
        routing: { thresholds: [{ upTo: 1, tier: 'large' }], baselineModel: 'big' },
        tenants: [{ id: 'acme', apiKeys: [], captureConsent: true }],
        capture: { features: [{ feature: 'tickets', sampleRate: 1 }] },
      });
      const warnings: string[] = [];
      const gateway = buildGateway(config, { env: { [ENV_CAPTURE_BUCKET]: 'llm-capture-bucket', AWS_REGION: 'us-east-1' }, usage: new MemoryUsageSink(), warn: (m) => warnings.push(m) });
      const body = JSON.stringify({ messages: [{ role: 'user', content: 'I was charged twice, my card is 4111 1111 1111 1111' }] });
      expect((await gateway.chat({ tenantId: 'acme', feature: 'tickets', body, bodyBytes: body.length })).status).toBe(200);
      await gateway.flush();
      expect(warnings).toEqual([]);
      const [put] = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
      expect(put.Key).toMatch(/^capture\/tickets\/\d{4}-\d\d-\d\dT\d{6}Z-[0-9a-f-]{36}\.jsonl$/);
      const line = JSON.parse(String(put.Body)) as CaptureExample;
      expect(line.messages).toEqual([{ role: 'user', content: 'I was charged twice, my card is [CARD]' }, { role: 'assistant', content: 'billing' }]);
      expect(line.llm_finops).toMatchObject({ tenant: 'acme', feature: 'tickets', model: 'big', scrubbed: { CARD: 1 } });
    } finally {
      await upstream.stop();
    }
  });
});
