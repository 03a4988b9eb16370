import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { QUOTA_TABLE } from '../contract';
import type { TenantDirectory } from '../core/ports';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface DynamoDbKeyLookupOptions {
  readonly tableName: string;
  readonly region: string;
  /** https://dynamodb.<region>.amazonaws.com by default; a local engine in tests. */
  readonly endpoint?: string;
  /** The function's role credentials, which Lambda puts in the environment; read per call (they rotate). */
  readonly credentials?: () => Credentials;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/** SHA-256 for the signer on node:crypto (the checksum interface @smithy/signature-v4 expects). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

function toBuffer(d: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

function envCredentials(): Credentials {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new Error('DynamoDbKeyLookup: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
  return { accessKeyId, secretAccessKey, sessionToken: process.env.AWS_SESSION_TOKEN || undefined };
}

/**
 * The authorizer's one DynamoDB call, a consistent GetItem of `key#<sha256>` in the quota table (the item
 * DynamoDbTenantDirectory writes), over DynamoDB's JSON protocol signed with SigV4 by @smithy/signature-v4 (the signer
 * the AWS SDK itself uses), without the SDK's client stack: the authorizer bundle drops from ~333 KB to a few tens.
 * Credentials come from the Lambda environment. A DynamoDB error is thrown with its type, as the SDK client would.
 */
export class DynamoDbKeyLookup implements Pick<TenantDirectory, 'tenantForKey'> {
  private readonly signer: SignatureV4;
  private readonly url: URL;

  constructor(private readonly opts: DynamoDbKeyLookupOptions) {
    const creds = opts.credentials ?? envCredentials;
    this.signer = new SignatureV4({ service: 'dynamodb', region: opts.region, sha256: NodeSha256, credentials: async () => creds() });
    this.url = new URL(opts.endpoint ?? `https://dynamodb.${opts.region}.amazonaws.com`);
  }

  async tenantForKey(keyHash: string): Promise<string | undefined> {
    const body = JSON.stringify({ TableName: this.opts.tableName, Key: { [QUOTA_TABLE.partitionKey]: { S: `${QUOTA_TABLE.keyItemPrefix}${keyHash}` } }, ConsistentRead: true, ProjectionExpression: 'tenant' });
    const signed = await this.signer.sign({
      method: 'POST', protocol: this.url.protocol, hostname: this.url.hostname, port: this.url.port ? Number(this.url.port) : undefined, path: '/',
      headers: { host: this.url.host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.GetItem' },
      body,
    });
    const res = await (this.opts.fetch ?? fetch)(this.url, {
      method: 'POST', headers: signed.headers as Record<string, string>, body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2_000),
    });
    const text = await res.text();
    let parsed: { Item?: { tenant?: { S?: unknown } }; __type?: string; message?: string; Message?: string };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`DynamoDB GetItem: HTTP ${res.status}, a body that is not JSON`);
    }
    if (!res.ok) throw new Error(`DynamoDB GetItem: HTTP ${res.status} ${String(parsed.__type ?? '').split('#').pop()}: ${parsed.message ?? parsed.Message ?? ''}`.trim());
    const tenant = parsed.Item?.tenant?.S;
    return typeof tenant === 'string' ? tenant : undefined;
  }
}
