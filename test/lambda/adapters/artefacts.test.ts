import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { keyFromSecret, loadArtefacts, loadFileArtefacts } from '../../../lambda/adapters/artefacts';
import { buildGateway } from '../../../lambda/adapters/wiring';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { trainRouter } from '../../../lambda/core/routing/learned';
import { testConfig } from '../../support/config';

const rows = Array.from({ length: 30 }, (_, i) => ({ prompt: `q ${i} ${i % 2 ? 'sum 3 and 4 and 5' : 'hello'}`, outcomes: { s: 1, w: i % 2 ? 0 : 1 } }));
const routerJson = JSON.stringify(trainRouter(rows, 's', 'w'));
/** The part of the SDK's streaming body the adapter uses. */
const body = (text: string) => ({ transformToString: async () => text }) as never;
const config = (learned: unknown) => resolveConfig(testConfig('http://127.0.0.1:1/v1', { routing: { ...testConfig('x').routing, learned } as never }));

describe('loadArtefacts', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  it('reads a trained router from S3 with one GetObject', async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(routerJson) });
    const a = await loadArtefacts(config({ s3Uri: 's3://acme-ml/routers/r.json' }), { s3: new S3Client({ region: 'us-east-1' }) });
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([{ Bucket: 'acme-ml', Key: 'routers/r.json' }]);
    expect(a.router?.model.strong).toBe('s');
    expect(a.verifier).toBeUndefined();
  });

  it('stops start-up naming the field and the object when it cannot be read or parsed', async () => {
    s3.on(GetObjectCommand).rejectsOnce(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }))
      .resolvesOnce({ Body: body('{"format":"other"}') });
    const cfg = config({ s3Uri: 's3://acme-ml/missing.json' });
    await expect(loadArtefacts(cfg, { s3: new S3Client({ region: 'us-east-1' }) })).rejects.toThrow('routing.learned: cannot load s3://acme-ml/missing.json: The specified key does not exist.');
    await expect(loadArtefacts(cfg, { s3: new S3Client({ region: 'us-east-1' }) })).rejects.toThrow('routing.learned: cannot load s3://acme-ml/missing.json: not a trained router');
  });

  it('reads files relative to the base directory, and refuses S3 in the synchronous loader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-art-'));
    writeFileSync(join(dir, 'router.json'), routerJson);
    expect(loadFileArtefacts(config({ path: 'router.json' }), dir).router).toBeDefined();
    expect(() => loadFileArtefacts(config({ path: 'nope.json' }), dir)).toThrow(`routing.learned: cannot load ${join(dir, 'nope.json')}`);
    expect(() => loadFileArtefacts(config({ s3Uri: 's3://my-bucket/k' }), dir)).toThrow('load it with loadArtefacts()');
  });
});

describe('provider keys from Secrets Manager', () => {
  const sm = mockClient(SecretsManagerClient);
  beforeEach(() => sm.reset());
  const withSecret = (secret: string) => {
    const base = testConfig('http://127.0.0.1:1/v1');
    return resolveConfig({ ...base, providers: [{ ...base.providers[0], apiKeySecret: secret }] });
  };

  it('reads each key once, plain or as {"apiKey"}, and the provider gets it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"apiKey":"sk-from-secret"}' });
    const cfg = withSecret('llm/openai');
    const a = await loadArtefacts(cfg, { secrets: new SecretsManagerClient({ region: 'us-east-1' }) });
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([{ SecretId: 'llm/openai' }]);
    expect(a.providerKeys).toEqual(new Map([['up', 'sk-from-secret']]));
    expect(() => buildGateway(cfg, { env: {}, artefacts: a })).not.toThrow();
    expect(() => buildGateway(cfg, { env: {} })).toThrow("providers 'up'.apiKeySecret: Secrets Manager keys are read by loadArtefacts()");
  });

  it('stops start-up naming the provider and the secret when it cannot be read', async () => {
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }));
    await expect(loadArtefacts(withSecret('llm/missing'), { secrets: new SecretsManagerClient({ region: 'us-east-1' }) }))
      .rejects.toThrow("providers 'up'.apiKeySecret: cannot read llm/missing: Secrets Manager can't find the specified secret.");
  });

  it('accepts a plain key and refuses an empty or keyless JSON secret', () => {
    expect(keyFromSecret(' sk-plain\n')).toBe('sk-plain');
    expect(() => keyFromSecret('{"key":"x"}')).toThrow('no "apiKey" string');
    expect(() => keyFromSecret('  ')).toThrow('secret is empty');
  });

  it('is a config error to give both an environment variable and a secret', () => {
    const base = testConfig('http://127.0.0.1:1/v1');
    expect(() => resolveConfig({ ...base, providers: [{ ...base.providers[0], apiKeyEnv: 'K', apiKeySecret: 'llm/k' }] })).toThrow('providers[0]: give apiKeyEnv or apiKeySecret, not both');
  });
});
