import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { createAuthorizerHandler } from '../../../lambda/handlers/shared/authorizer-handler';
import { resolveConfig } from '../../../lambda/core/config/resolve';
import { tenantKeyHashes } from '../../../lambda/core/config/key-hashes';
import { ConfigError } from '../../../lambda/core/config/errors';
import { sha256 } from '../../support/fakes';
import { KEYS, testConfig } from '../../support/config';
import { MemoryTenantDirectory } from '../../../lambda/adapters/memory-tenant-directory';

const handler = createAuthorizerHandler(tenantKeyHashes(testConfig('http://127.0.0.1:1/v1')), sha256);
const event = (authorization?: string): APIGatewayRequestAuthorizerEvent => ({
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/v1/chat/completions',
  headers: authorization ? { Authorization: authorization } : {},
} as unknown as APIGatewayRequestAuthorizerEvent);

describe('authorizer handler', () => {
  it('maps a known Bearer key to its tenant, for every route of the stage, with the usage identifier', async () => {
    expect(await handler(event(`Bearer ${KEYS.acme}`))).toEqual({
      principalId: 'acme',
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/*/*' }] },
      context: { tenant: 'acme' },
      usageIdentifierKey: 'llm-finops-usage-acme',
    });
  });

  it('maps an x-api-key (Anthropic clients, Claude Code) to its tenant, and refuses an unknown one', async () => {
    const withKey = (key: string) => ({ ...event(), methodArn: 'arn:aws:execute-api:eu-west-1:111122223333:abc123/prod/POST/v1/messages', headers: { 'X-Api-Key': key } }) as unknown as APIGatewayRequestAuthorizerEvent;
    expect(await handler(withKey(KEYS.acme))).toMatchObject({ principalId: 'acme', context: { tenant: 'acme' }, usageIdentifierKey: 'llm-finops-usage-acme' });
    await expect(handler(withKey('sk-unknown'))).rejects.toThrow('Unauthorized');
  });

  it.each([undefined, 'Bearer sk-unknown', 'Basic Zm9vOmJhcg==', `bearer  ${KEYS.globex}x`])('refuses %s with Unauthorized', async (auth) => {
    await expect(handler(event(auth))).rejects.toThrow('Unauthorized');
  });

  it.each([
    ['no methodArn', { type: 'REQUEST', headers: { Authorization: `Bearer ${KEYS.acme}` } }],
    ['a methodArn without a stage', { type: 'REQUEST', methodArn: 'arn:aws:execute-api', headers: { Authorization: `Bearer ${KEYS.acme}` } }],
    ['headers as an array', { type: 'REQUEST', methodArn: 'arn:aws:execute-api:eu-west-1:1:abc/prod/GET/x', headers: ['Authorization'] }],
    ['a non-string header', { type: 'REQUEST', methodArn: 'arn:aws:execute-api:eu-west-1:1:abc/prod/GET/x', headers: { Authorization: 42 } }],
    ['null', null],
  ])('refuses a malformed event (%s) with a plain Unauthorized, never a 500', async (_what, e) => {
    await expect(handler(e as unknown as APIGatewayRequestAuthorizerEvent)).rejects.toThrow(/^Unauthorized$/);
  });

  it("returns the usage identifier in the gateway's scope when the construct sets one", async () => {
    const scoped = createAuthorizerHandler(tenantKeyHashes(testConfig('http://127.0.0.1:1/v1')), sha256, undefined, 'a1b2c3d4e5');
    expect((await scoped(event(`Bearer ${KEYS.acme}`))).usageIdentifierKey).toBe('llm-finops-usage-a1b2c3d4e5-acme');
  });

  it('falls back to the tenant directory for run-time tenants, and stops a revoked key', async () => {
    const tenants = new MemoryTenantDirectory();
    await tenants.createTenant({ id: 'hooli', team: null, allowedTiers: null, allowedModels: null, keyHashes: [sha256('sk-llmf-h')], createdAt: 'now' });
    const withDir = createAuthorizerHandler(tenantKeyHashes(testConfig('http://127.0.0.1:1/v1')), sha256, tenants);
    expect(await withDir(event('Bearer sk-llmf-h'))).toMatchObject({ principalId: 'hooli', usageIdentifierKey: 'llm-finops-usage-hooli' });
    expect(await withDir(event(`Bearer ${KEYS.acme}`))).toMatchObject({ principalId: 'acme' });
    await tenants.revokeKey('hooli', sha256('sk-llmf-h'));
    await expect(withDir(event('Bearer sk-llmf-h'))).rejects.toThrow('Unauthorized');
  });
});

describe('tenantKeyHashes (the authorizer\'s zod-free config reader)', () => {
  it('reads the same key hashes as the full resolution', () => {
    const config = testConfig('http://127.0.0.1:1/v1');
    expect(tenantKeyHashes(config)).toEqual(resolveConfig(config).keyHashes);
  });

  it('refuses what the schema refuses for these fields, naming each', () => {
    const h = 'a'.repeat(64);
    expect(() => tenantKeyHashes({ tenants: [{ id: 'a', apiKeys: [{ sha256: h }] }, { id: 'b', apiKeys: [{ sha256: h }, { sha256: 'XYZ' }] }, { apiKeys: [] }] })).toThrow(
      new ConfigError(["tenants[1].apiKeys[0]: key hash already belongs to tenant 'a'", 'tenants[1].apiKeys[1].sha256: lowercase hex SHA-256 of the key', 'tenants[2].id: expected a non-empty string']),
    );
    expect(tenantKeyHashes({})).toEqual(new Map());
  });
});
