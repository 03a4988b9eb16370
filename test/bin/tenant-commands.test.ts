import { APIGatewayClient, ConflictException, CreateApiKeyCommand, CreateUsagePlanKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import { runCli } from '../../bin/llm-finops';
import { usageIdentifierFor } from '../../lambda/contract';
import { LocalDynamo } from '../support/dynalite';

describe('llm-finops tenants create --usage-plan-id', () => {
  const dynamo = new LocalDynamo();
  const apigw = mockClient(APIGatewayClient);
  let out = '';
  beforeAll(() => dynamo.start());
  afterAll(() => dynamo.stop());
  beforeEach(() => {
    apigw.reset();
    out = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());
  const store = () => ['--store', 'dynamodb', '--dynamodb-endpoint', dynamo.endpoint, '--dynamodb-table', 'tenants-cli'];

  it('registers the tenant\'s meter key in the usage plan and prints the secret key once', async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [] });
    apigw.on(CreateApiKeyCommand).resolves({ id: 'k-123' });
    apigw.on(CreateUsagePlanKeyCommand).resolves({});
    expect(await runCli(['tenants', 'create', '--tenant', 'initrode', '--usage-plan-id', 'plan-9', '--usage-scope', 'c8a1f0d2e4', ...store()])).toBe(0);
    expect(apigw.commandCalls(CreateApiKeyCommand)[0].args[0].input).toEqual({
      name: 'llm-finops-initrode', value: 'llm-finops-usage-c8a1f0d2e4-initrode', enabled: true, description: 'usage identifier of run-time tenant initrode',
    });
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand)[0].args[0].input).toEqual({ usagePlanId: 'plan-9', keyId: 'k-123', keyType: 'API_KEY' });
    expect(out).toMatch(/added to usage plan plan-9[\s\S]*\nsk-llmf-[\w-]{43}\n/);
  });

  it('reuses an existing meter key and tolerates it already being in the plan', async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'k-old', value: usageIdentifierFor('umbrella', 'c8a1f0d2e4') }] });
    apigw.on(CreateUsagePlanKeyCommand).rejects(new ConflictException({ message: 'already', $metadata: {} }));
    expect(await runCli(['tenants', 'create', '--tenant', 'umbrella', '--usage-plan-id', 'plan-9', '--usage-scope', 'c8a1f0d2e4', ...store()])).toBe(0);
    expect(apigw.commandCalls(CreateApiKeyCommand)).toHaveLength(0);
    expect(apigw.commandCalls(CreateUsagePlanKeyCommand)[0].args[0].input.keyId).toBe('k-old');
  });

  it('refuses --usage-plan-id without --usage-scope before creating anything (the meter key would not match the gateway\'s)', async () => {
    let err = '';
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    expect(await runCli(['tenants', 'create', '--tenant', 'globex', '--usage-plan-id', 'plan-9', ...store()])).toBe(2);
    expect(err).toContain("error: --usage-plan-id needs --usage-scope (the gateway's UsageScope output)");
    expect(apigw.commandCalls(CreateApiKeyCommand)).toHaveLength(0);
    expect(await runCli(['tenants', 'list', '--json', ...store()])).toBe(0);
    expect(JSON.parse(out).map((t: { id: string }) => t.id)).not.toContain('globex');
  });

  it('records capture consent at creation, gives and withdraws it, and refuses an unknown tenant', async () => {
    expect(await runCli(['tenants', 'create', '--tenant', 'soylent', '--capture-consent', ...store()])).toBe(0);
    expect(await runCli(['tenants', 'create', '--tenant', 'tyrell', ...store()])).toBe(0);
    out = '';
    expect(await runCli(['tenants', 'list', ...store()])).toBe(0);
    expect(out).toMatch(/soylent .* capture=consented /);
    expect(out).toMatch(/tyrell .* capture=no /);
    out = '';
    expect(await runCli(['tenants', 'capture-consent', '--tenant', 'soylent', '--off', ...store()])).toBe(0);
    expect(await runCli(['tenants', 'capture-consent', '--tenant', 'tyrell', '--on', ...store()])).toBe(0);
    expect(out).toBe('tenant soylent: capture consent withdrawn.\ntenant tyrell: capture consent given.\n');
    out = '';
    expect(await runCli(['tenants', 'list', '--json', ...store()])).toBe(0);
    const listed = JSON.parse(out) as { id: string; captureConsent?: boolean }[];
    expect(listed.filter((t) => ['soylent', 'tyrell'].includes(t.id)).map((t) => [t.id, t.captureConsent === true])).toEqual([['soylent', false], ['tyrell', true]]);
    expect(await runCli(['tenants', 'capture-consent', '--tenant', 'nobody', '--on', ...store()])).toBe(2);
    expect(await runCli(['tenants', 'capture-consent', '--tenant', 'tyrell', ...store()])).toBe(2);
  });
});
