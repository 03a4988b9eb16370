import { execFileSync, spawn } from 'node:child_process';
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

/**
 * Renders the page in headless Chromium from npm (@sparticuz/chromium + puppeteer-core, in test/support/render-page.mjs):
 * no system browser and nothing downloaded, so `npm ci && npm test` passes on a machine with nothing installed by hand.
 * If the browser cannot start, the test fails with its error: it never skips.
 */
function render(html: string, png: string): Promise<{ html: string; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'test', 'support', 'render-page.mjs'), html, png]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`headless Chromium (@sparticuz/chromium) failed, exit ${code}: ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout));
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
    const dir = mkdtempSync(join(tmpdir(), 'llm-finops-report-'));
    const log = join(dir, 'usage.jsonl');
    const html = join(dir, 'report.html');
    await usageLog(log);
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), 'report', '--usage', log, '--html', html]);
    mkdirSync(OUTPUT, { recursive: true });
    const png = join(OUTPUT, 'report.png');
    const dom = await render(html, png);
    expect(dom.html).toContain('<h1>LLM spend report</h1>');
    const chart = (id: string) => new RegExp(`<svg id="${id}"[\\s\\S]*?</svg>`).exec(dom.html)?.[0] ?? '';
    expect(chart('spend-by-day').match(/<rect /g)).toHaveLength(5);
    expect(chart('spend-by-tenant').match(/class="bar"/g)).toHaveLength(3);
    expect(chart('spend-by-feature').match(/class="bar"/g)).toHaveLength(6);
    expect(chart('spend-by-model').match(/class="bar"/g)).toHaveLength(2);
    expect(/<table id="costliest">[\s\S]*?<\/table>/.exec(dom.html)![0].match(/<tr>/g)).toHaveLength(11);
    expect(dom.errors).toEqual([]);
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
  }, 120_000);
});
