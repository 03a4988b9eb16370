// npm run bench:small-model -> bench/results/small-model.json
// Issue 36's loop end to end at a month's volume (test/support/small-model-loop.ts): a month of premium traffic captured
// and planned by `distill plan`, shadow tests of a small model wrong on a known share (`distill report`), then both
// features switched behind their guards with the shadow policy reversed. Counts and ratios only: nothing here is timed.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSmallModelLoop, SMALL_ERROR_RATE } from '../test/support/small-model-loop';

async function main(): Promise<void> {
  const options = {
    month: { tickets: 3000, invoices: 2000, chat: 1500, rare: 40 },
    shadowed: 1000,
    switched: 2000,
    switchedShadowRate: 0.02,
    // The CLI's defaults.
    minRequests: 1000,
    minExamples: 500,
  };
  const dir = mkdtempSync(join(tmpdir(), 'llm-finops-small-model-'));
  const result = await runSmallModelLoop({ dir, ...options });
  const out = { date: new Date().toISOString().slice(0, 10), smallErrorRate: SMALL_ERROR_RATE, options, ...result };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', 'small-model.json'), `${JSON.stringify(out, null, 2)}\n`);
  for (const [f, o] of Object.entries(result.features)) {
    process.stdout.write(`${f}: rank ${o.planned.rank}, planned ${(o.planned.savingShare * 100).toFixed(1)}% cheaper; shadow error ${(o.shadow.measuredErrorRate * 100).toFixed(1)}% ` +
      `(scripted ${(o.shadow.scriptedErrorRate * 100).toFixed(1)}%); switched: quality ${(o.switched.quality * 100).toFixed(1)}% (agreement ${((o.shadow.fullAgreement) * 100).toFixed(1)}%), ` +
      `${o.switched.escalated} of ${o.switched.requests} escalated, cost cut ${(o.switched.costCut * 100).toFixed(1)}% (floor ${(o.switched.costCutFloor * 100).toFixed(1)}%), ` +
      `${(o.switched.netCostCut * 100).toFixed(1)}% with the ${options.switchedShadowRate * 100}% shadow calls\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
