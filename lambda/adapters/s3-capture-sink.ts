import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { CaptureExample, CaptureSink } from '../core/capture/capture';
import { awsClientConfig } from './aws-client-config';
import { safe } from './directory-capture-sink';
import { s3Client } from './lazy';

/** The key prefix of captured examples in the capture bucket (CaptureStore grants the router PutObject under it only). */
export const CAPTURE_PREFIX = 'capture/';

/**
 * Captured exchanges in the CaptureStore's bucket (the Lambda): S3 objects cannot be appended to, so each batch the
 * capture writes becomes one object per feature and day, `capture/<feature>/<yyyy-mm-dd>T<hhmmss>Z-<uuid>.jsonl`, the
 * same folder per feature as the local sink (so `aws s3 sync s3://<bucket>/capture capture` gives what
 * `llm-finops distill plan --capture capture` reads). Encryption is the bucket's default (its KMS key); the bucket's
 * lifecycle deletes them. The S3 client is made with the first batch, never at cold start.
 */
export class S3CaptureSink implements CaptureSink {
  private client: S3Client | undefined;

  constructor(private readonly bucket: string, client?: S3Client, private readonly newId: () => string = randomUUID) {
    this.client = client;
  }

  async write(examples: readonly CaptureExample[]): Promise<void> {
    // One object per feature and day of the batch, named by its first example's time.
    const byObject = new Map<string, { prefix: string; lines: string[] }>();
    for (const e of examples) {
      const ts = e.llm_finops.ts;
      const group = `${safe(e.llm_finops.feature)}/${ts.slice(0, 10)}`;
      let o = byObject.get(group);
      if (!o) byObject.set(group, (o = { prefix: `${CAPTURE_PREFIX}${group}T${ts.slice(11, 19).replace(/:/g, '')}Z`, lines: [] }));
      o.lines.push(JSON.stringify(e));
    }
    const { PutObjectCommand, S3Client: Client } = s3Client();
    this.client ??= new Client(awsClientConfig('delivery'));
    const client = this.client;
    await Promise.all([...byObject.values()].map(({ prefix, lines }) => client.send(new PutObjectCommand({
      Bucket: this.bucket, Key: `${prefix}-${this.newId()}.jsonl`, Body: `${lines.join('\n')}\n`, ContentType: 'application/jsonl',
    }))));
  }
}
