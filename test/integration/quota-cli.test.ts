import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { LocalDynamo } from '../support/dynalite';
import { FakeUpstream } from '../support/upstream';
import { KEYS, testConfig } from '../support/config';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const CLI = join(ROOT, 'bin', 'llm-finops.ts');

describe('llm-finops local --store dynamodb, operated with llm-finops quota (integration)', () => {
  const dynamo = new LocalDynamo();
  const upstream = new FakeUpstream();
  let proc: ChildProcess;
  let client: OpenAI;
  let dir: string;
  let configPath: string;
  const store = () => ['--store', 'dynamodb', '--dynamodb-endpoint', dynamo.endpoint, '--dynamodb-table', 'cli-quota'];
  // Asynchronous on purpose: dynalite runs in this process, so a blocking spawnSync would deadlock it.
  const run = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [TSX, CLI, ...args], { env: { ...process.env, AWS_ACCESS_KEY_ID: '' } });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const quota = (...args: string[]) => run(['quota', ...args, ...store()]);

  beforeAll(async () => {
    await dynamo.start();
    await upstream.start();
    dir = mkdtempSync(join(tmpdir(), 'llm-finops-quota-cli-'));
    configPath = join(dir, 'gateway.json');
    writeFileSync(configPath, JSON.stringify(testConfig(upstream.baseUrl, {
      quota: { premiumTiers: ['large'], controlsCacheSeconds: 0 },
      cache: { exact: { enabled: false } },
    })));
    proc = spawn(process.execPath, [TSX, CLI, 'local', '--config', configPath, '--port', '0', ...store()], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_ACCESS_KEY_ID: '' } });
    const baseURL = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      proc.stderr!.on('data', (d) => (err += d));
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+\/v1)/.exec(out);
        if (m) resolve(m[1]);
      });
      proc.once('exit', (code) => reject(new Error(`local exited ${code}: ${err}`)));
    });
    client = new OpenAI({ apiKey: KEYS.acme, baseURL, maxRetries: 0 });
  });

  afterAll(async () => {
    proc?.kill('SIGTERM');
    await upstream.stop();
    await dynamo.stop();
  });

  const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: `hello ${Math.random()}` }], max_tokens: 50 }).withResponse();

  it('blocks premium tiers when an operator turns the kill switch on, and serves them again when it is off', async () => {
    expect((await ask('large')).response.status).toBe(200);
    const on = await quota('kill-switch', '--on', 'block', '--reason', 'November budget spent');
    expect(on.stdout).toContain('kill switch for global: block');
    await expect(ask('large')).rejects.toMatchObject({ status: 429, error: { code: 'budget_kill_switch' } });
    expect((await ask('small')).response.status).toBe(200);
    await quota('kill-switch', '--off');
    expect((await ask('large')).response.status).toBe(200);
  });

  it('applies stored limits at once and reports them in /v1/usage', async () => {
    const set = await quota('limits', '--tenant', 'acme', '--set', 'dailyUsd=0.000001');
    expect(set.status).toBe(0);
    await expect(ask('small-a')).rejects.toMatchObject({ status: 429, error: { code: 'quota_exceeded' } });
    const usage = (await client.get('/usage')) as { windows: { window: string; limit_usd: number; spend_usd: number }[] };
    expect(usage.windows.find((w) => w.window === 'day')).toMatchObject({ limit_usd: 0.000001 });
    await quota('limits', '--tenant', 'acme', '--clear');
    expect((await ask('small-a')).response.status).toBe(200);
  });

  it('onboards a run-time tenant with llm-finops tenants: its key works at once, rotates, and takes limits', async () => {
    const tenants = (...args: string[]) => run(['tenants', ...args, ...store()]);
    const created = await tenants('create', '--tenant', 'hooli', '--team', 'search', '--tiers', 'small');
    expect(created.status).toBe(0);
    const key = /\n(sk-llmf-[\w-]{43})\n/.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    const hooli = new OpenAI({ apiKey: key!, baseURL: client.baseURL, maxRetries: 0 });
    const chat = (c: OpenAI, model = 'small-a') => c.chat.completions.create({ model, messages: [{ role: 'user', content: `hi ${Math.random()}` }], max_tokens: 20 }).withResponse();
    expect((await chat(hooli)).response.headers.get('x-llm-model')).toBe('small-a');
    await expect(chat(hooli, 'big')).rejects.toMatchObject({ status: 403 });
    expect((await tenants('create', '--tenant', 'hooli')).stderr).toContain("tenant 'hooli' already exists; use rotate-key");

    const listed = JSON.parse((await tenants('list', '--json')).stdout);
    expect(listed).toEqual([expect.objectContaining({ id: 'hooli', team: 'search', allowedTiers: ['small'], allowedModels: null, keys: 1 })]);

    const rotated = await tenants('rotate-key', '--tenant', 'hooli');
    const newKey = /\n(sk-llmf-[\w-]{43})\n/.exec(rotated.stdout)?.[1];
    expect(rotated.stdout).toContain('1 old key(s) revoked');
    await expect(chat(hooli)).rejects.toMatchObject({ status: 401 });
    const rotatedClient = new OpenAI({ apiKey: newKey!, baseURL: client.baseURL, maxRetries: 0 });
    expect((await chat(rotatedClient)).response.status).toBe(200);

    expect((await tenants('set-limits', '--tenant', 'hooli', '--set', 'dailyUsd=0.000001')).status).toBe(0);
    await expect(chat(rotatedClient)).rejects.toMatchObject({ status: 429, error: { code: 'quota_exceeded' } });
    expect((await run(['tenants', 'list', '--store', 'memory'])).stderr).toContain('use --store dynamodb');
    expect((await tenants('create', '--tenant', 'bad id')).status).toBe(2);
  });

  it('gives a tenant its own policies at run time (quota policies, tenants create --policies) and shows every window (quota show)', async () => {
    const file = join(dir, 'policies.json');
    writeFileSync(file, JSON.stringify([
      { id: 'per-session', per: 'session', limits: [{ window: 'total', requests: 1 }] },
      { id: 'hourly', per: 'tenant', limits: [{ window: 'hour', usd: 100 }] },
    ]));
    const set = await quota('policies', '--tenant', 'acme', '--set', file);
    expect(set.stdout).toBe('2 policies stored for tenant acme: acme/per-session, acme/hourly\n');
    const inSession = (id: string) => client.chat.completions.create({ model: 'small-a', messages: [{ role: 'user', content: `s ${Math.random()}` }], max_tokens: 20 }, { headers: { 'x-llm-session-id': id } });
    await inSession('cli-s1');
    await expect(inSession('cli-s1')).rejects.toMatchObject({ status: 429, error: { message: expect.stringContaining("policy 'acme/per-session' (session 'cli-s1')") } });

    const show = await quota('show', '--tenant', 'acme', '--config', configPath);
    expect(show.status).toBe(0);
    expect(show.stdout).toMatch(/^tenant acme \(team platform\)\n {2}day {4}\d{4}-\d{2}-\d{2} +resets \S+ {2}usd [\d.]+ used \+ 0 reserved \/ 10 /m);
    expect(show.stdout).toMatch(/\npolicies:\n {2}acme\/hourly \(tenant acme\) hour \S+: usd [\d.]+ used \+ 0 reserved \/ 100 \(left [\d.]+\), resets \S+\n$/);
    const json = JSON.parse((await quota('show', '--tenant', 'acme', '--config', configPath, '--json')).stdout);
    expect(json).toMatchObject({ object: 'usage', tenant: 'acme', policies: [expect.objectContaining({ policy: 'acme/hourly', per: 'tenant', window: 'hour', unit: 'usd', limit: 100 })] });

    // Printed back as stored (defaults filled in), then cleared.
    expect(JSON.parse((await quota('policies', '--tenant', 'acme')).stdout).map((p: { id: string }) => p.id)).toEqual(['per-session', 'hourly']);
    expect((await quota('policies', '--tenant', 'acme', '--clear')).stdout).toContain("policies of tenant acme cleared");
    expect((await inSession('cli-s1')).choices).toHaveLength(1);

    // A run-time tenant created with its limits and policies in one step; a bad file is refused before anything is written.
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ id: 'Bad', limits: [{ window: 'fortnight', usd: -1 }] }]));
    const refused = await run(['tenants', 'create', '--tenant', 'initech', '--policies', bad, ...store()]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`${bad}: 0.id: lower-case letters, digits and -, up to 63; 0.limits.0.window:`);
    const created = await run(['tenants', 'create', '--tenant', 'initech', '--limits', 'dailyUsd=5', '--policies', file, ...store()]);
    expect(created.status).toBe(0);
    expect(JSON.parse((await quota('policies', '--tenant', 'initech')).stdout)).toHaveLength(2);
  });

  it('rejects bad quota commands with usage errors', async () => {
    expect((await quota('limits', '--set', 'dailyDollars=5')).stderr).toContain("unknown limit 'dailyDollars'");
    expect((await quota('kill-switch', '--on', 'explode')).status).toBe(2);
    expect((await run(['quota', 'sweep', '--store', 'memory'])).stderr).toContain('use --store dynamodb');
  });
});
