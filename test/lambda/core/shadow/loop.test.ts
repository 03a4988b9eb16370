import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSmallModelLoop, SMALL_ERROR_RATE } from '../../../support/small-model-loop';

/**
 * Issue 36's goal, end to end (test/support/small-model-loop.ts): a month of premium traffic captured and planned,
 * shadow tests of a small model wrong on 12% of requests, then the switch behind its guards. `npm run
 * bench:small-model` runs the same loop at a larger volume and writes bench/results/small-model.json.
 */
describe('the small-model loop, end to end', () => {
  jest.setTimeout(120_000);

  it('plans the two stable features first, measures the error rate in shadow, and the guarded switch keeps quality while cutting cost as planned', async () => {
    const result = await runSmallModelLoop({
      dir: process.env.LOOP_DIR ?? mkdtempSync(join(tmpdir(), 'llm-finops-loop-')),
      month: { tickets: 600, invoices: 400, chat: 400, rare: 20 },
      shadowed: 400,
      switched: 400,
      switchedShadowRate: 0.1,
      minRequests: 300,
      minExamples: 300,
    });
    expect(result.ranking.slice(0, 2).sort()).toEqual(['invoices', 'tickets']);
    expect(result.blockers.chat).toEqual([expect.stringMatching(/^answer lengths vary too much/)]);
    expect(result.blockers.tickets).toEqual([]);
    expect(result.blockers.rare).toEqual(expect.arrayContaining([expect.stringMatching(/premium requests a month, under 300/)]));
    for (const f of ['tickets', 'invoices'] as const) {
      const o = result.features[f];
      // The shadow report measures the scripted error rate within 2 points.
      expect(Math.abs(o.shadow.measuredErrorRate - o.shadow.scriptedErrorRate)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(o.shadow.scriptedErrorRate - SMALL_ERROR_RATE)).toBeLessThan(0.05);
      // The guard escalates the malformed half of the errors: quality at least the shadow agreement.
      expect(o.switched.quality).toBeGreaterThanOrEqual(o.shadow.fullAgreement);
      expect(o.switched.escalated).toBeGreaterThan(0);
      expect(o.switched.switchedBack).toBe(0);
      // The feature's cost falls by the planned share less what the escalations cost, never below the floor.
      expect(o.switched.costCut).toBeLessThanOrEqual(o.planned.savingShare);
      expect(o.switched.costCut).toBeGreaterThanOrEqual(o.switched.costCutFloor);
      // Keeping the guard costs about its shadow rate: each shadow call is a premium call.
      expect(Math.abs(o.switched.netCostCut - (o.switched.costCut - 0.1))).toBeLessThanOrEqual(0.03);
    }
  });
});
