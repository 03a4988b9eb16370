import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryQuotaStore } from '../../lambda/adapters/memory-quota-store';
import { MemoryAlertSink, MemoryUsageSink } from '../../lambda/adapters/usage-sinks';
import { resolveConfig } from '../../lambda/core/config/resolve';
import { Gateway } from '../../lambda/core/pipeline';
import { FakeClock, ScriptedProvider, SeqIds, sha256, usage } from '../support/fakes';
import { testConfig } from '../support/config';

const ROOT = join(__dirname, '..', '..');
/** Screenshots are kept here for a person to look at after the run (git-ignored). */
const OUTPUT = join(ROOT, 'test-output');

function findChromium(): string {
  for (const bin of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error('No Chromium found: this test needs a browser and never passes without one. `.ci/run` installs Debian\'s chromium package; locally run `apt-get install -y chromium`.');
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function runChromium(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [...FLAGS, `--user-data-dir=${mkdtempSync(join(tmpdir(), 'chromium-'))}`, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr });
    });
    p.on('error', reject);
  });
}

/** A usage log made by the real pipeline: three tenants over five days. */
async function usageLog(file: string): Promise<void> {
  const clock = new FakeClock(Date.UTC(2026, 10, 20, 9));
  const provider = new ScriptedProvider();
  const records = new MemoryUsageSink();
  const config = resolveConfig(testConfig('http://127.0.0.1:1/v1', {
    tenants: ['acme', 'globex', 'initech'].map((id) => ({ id, apiKeys: [] })),
    cache: { exact: { enabled: true } },
  }));
  const gw = new Gateway({ config, providers: new Map([['up', provider]]), quota: new MemoryQuotaStore(), usage: records, alerts: new MemoryAlertSink(), clock, ids: new SeqIds(), sha256 });
  for (let day = 0; day < 5; day++) {
    for (let i = 0; i < 12; i++) {
      const tenant = ['acme', 'globex', 'initech'][i % 3];
      provider.script(i % 4 === 0 ? 'up-big' : 'up-small-a', { ok: 'answer', usage: usage(200 * (i + 1), 50 * (day + 1)) });
      const body = JSON.stringify({ model: i % 4 === 0 ? 'big' : 'small-a', messages: [{ role: 'user', content: `question ${i % 6}` }], temperature: 0 });
      await gw.chat({ tenantId: tenant, feature: ['chat', 'search'][i % 2], body, bodyBytes: body.length });
      clock.advance(3_600_000);
    }
    clock.advance(12 * 3_600_000);
  }
  writeFileSync(file, records.records.map((r) => JSON.stringify(r)).join('\n'));
}

describe('llm-finops report in headless Chromium', () => {
  it('renders every chart and the costliest-requests table with no console errors', async () => {
    const chromium = findChromium();
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-report-'));
    const log = join(dir, 'usage.jsonl');
    const html = join(dir, 'report.html');
    await usageLog(log);
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), 'report', '--usage', log, '--html', html]);
    const dom = await runChromium(chromium, ['--enable-logging=stderr', '--v=0', '--dump-dom', `file://${html}`]);
    expect(dom.stdout).toContain('<h1>LLM spend report</h1>');
    const chart = (id: string) => new RegExp(`<svg id="${id}"[\\s\\S]*?</svg>`).exec(dom.stdout)?.[0] ?? '';
    expect(chart('spend-by-day').match(/<rect /g)).toHaveLength(5);
    expect(chart('spend-by-tenant').match(/class="bar"/g)).toHaveLength(3);
    expect(chart('spend-by-feature').match(/class="bar"/g)).toHaveLength(6);
    expect(chart('spend-by-model').match(/class="bar"/g)).toHaveLength(2);
    expect(/<table id="costliest">[\s\S]*?<\/table>/.exec(dom.stdout)![0].match(/<tr>/g)).toHaveLength(11);
    expect(dom.stderr).not.toMatch(/CONSOLE[^\n]*(error|Uncaught)|Uncaught /i);
    mkdirSync(OUTPUT, { recursive: true });
    const png = join(OUTPUT, 'report.png');
    await runChromium(chromium, ['--window-size=1100,1600', `--screenshot=${png}`, `file://${html}`]);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  });
});
