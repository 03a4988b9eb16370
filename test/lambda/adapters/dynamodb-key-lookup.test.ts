import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureQuotaTable } from '../../../lambda/adapters/dynamodb-quota-store';
import { DynamoDbKeyLookup } from '../../../lambda/adapters/dynamodb-key-lookup';
import { DynamoDbTenantDirectory } from '../../../lambda/adapters/dynamodb-tenant-directory';
import { LocalDynamo } from '../../support/dynalite';

const creds = () => ({ accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret', sessionToken: 'session-token' });

describe('DynamoDbKeyLookup (the authorizer\'s GetItem without the SDK client), against dynalite', () => {
  const dynamo = new LocalDynamo();
  beforeAll(async () => {
    await dynamo.start();
    await ensureQuotaTable(dynamo.client, 'quota');
    await new DynamoDbTenantDirectory(dynamo.client, 'quota').createTenant({ id: 'hooli', team: null, allowedTiers: null, allowedModels: null, keyHashes: ['a'.repeat(64)], createdAt: 'now' });
  });
  afterAll(() => dynamo.stop());

  it('reads the tenant the SDK-based directory wrote for a key hash, and nothing for an unknown one', async () => {
    const lookup = new DynamoDbKeyLookup({ tableName: 'quota', region: 'us-east-1', endpoint: dynamo.endpoint, credentials: creds });
    expect(await lookup.tenantForKey('a'.repeat(64))).toBe('hooli');
    expect(await lookup.tenantForKey('b'.repeat(64))).toBeUndefined();
  });

  it('throws DynamoDB\'s error type, as the SDK client did (API Gateway answers 500 to a failing authorizer, never Allow)', async () => {
    const lookup = new DynamoDbKeyLookup({ tableName: 'missing', region: 'us-east-1', endpoint: dynamo.endpoint, credentials: creds });
    await expect(lookup.tenantForKey('a'.repeat(64))).rejects.toThrow(/HTTP 400 ResourceNotFoundException/);
  });

  it('signs GetItem with SigV4 for dynamodb in the region, with the session token', async () => {
    const seen: { url: string; headers: Record<string, string>; body: string }[] = [];
    const recording = (async (url: URL, init: RequestInit) => {
      seen.push({ url: String(url), headers: init.headers as Record<string, string>, body: String(init.body) });
      return new Response('{}');
    }) as unknown as typeof fetch;
    await new DynamoDbKeyLookup({ tableName: 'quota', region: 'eu-west-1', credentials: creds, fetch: recording }).tenantForKey('c'.repeat(64));
    const [r] = seen;
    expect(r.url).toBe('https://dynamodb.eu-west-1.amazonaws.com/');
    expect(r.headers).toMatchObject({ 'x-amz-target': 'DynamoDB_20120810.GetItem', 'content-type': 'application/x-amz-json-1.0', 'x-amz-security-token': 'session-token' });
    expect(r.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/\d{8}\/eu-west-1\/dynamodb\/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-target[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
    expect(JSON.parse(r.body)).toEqual({ TableName: 'quota', Key: { pk: { S: `key#${'c'.repeat(64)}` } }, ConsistentRead: true, ProjectionExpression: 'tenant' });
  });

  it('refuses to run without credentials rather than sending an unsigned request', async () => {
    const env = { ...process.env };
    delete env.AWS_ACCESS_KEY_ID;
    delete env.AWS_SECRET_ACCESS_KEY;
    const script = `const { DynamoDbKeyLookup } = require(${JSON.stringify(join(__dirname, '../../../lambda/adapters/dynamodb-key-lookup'))});
      new DynamoDbKeyLookup({ tableName: 'q', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' }).tenantForKey('x').then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env, encoding: 'utf8', cwd: join(__dirname, '../../..') });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('no AWS credentials in the environment');
  });
});
