import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../bin/llm-finops';
import { captureOutput } from '../support/output';

describe('llm-finops crossover: any capacity, the API side in dollars, data transfer', () => {
  const output = captureOutput();
  const json = async (...args: string[]) => {
    expect(await runCli(['crossover', ...args, '--json'])).toBe(0);
    return JSON.parse(output.out);
  };

  it("reproduces the seed's example: $15,000 a month of API against a $12,000 cluster with capacity to spare", async () => {
    expect(await json('--api-usd-per-month', '15000', '--capacity-usd-per-month', '12000')).toMatchObject({
      mode: 'monthly', self_hosted_usd_per_month: 12000, saving_usd_per_month: 3000, break_even_api_usd_per_month: 12000, cheaper: 'self-hosted',
    });
    output.clear();
    // With MLOps ($2,000) and 5,000 GB of responses leaving the VPC at $0.09: 12,000 + 2,000 + 450 = 14,450.
    expect(await json('--api-usd-per-month', '15000', '--capacity-usd-per-month', '12000', '--ops-usd-per-month', '2000', '--transfer-gb-per-month', '5000')).toMatchObject({
      self_hosted_usd_per_month: 14450, transfer_usd_per_month: 450, saving_usd_per_month: 550, cheaper: 'self-hosted',
    });
  });

  it('prices any instance by the hour and with your own discount (p5.48xlarge, 8 x H100)', async () => {
    // 2 instances x $55.04/h x 730 h x (1 - 0.45) = $44,197.12 a month (110.08 x 730 = 80,358.40; x 0.55).
    expect(await json('--api-usd-per-month', '40000', '--instance', 'p5.48xlarge', '--instance-usd-per-hour', '55.04', '--instances', '2', '--discount', '0.45')).toMatchObject({
      capacity_usd_per_month: 44197.12, cheaper: 'api', assumptions: { discount: 0.45, discountSource: 'your discount', priceSource: 'your price' },
    });
  });

  it('prices the GPU presets from the catalog, marked unverified (p5.48xlarge, p4d.24xlarge, trn1.32xlarge, inf2.48xlarge)', async () => {
    // One p5.48xlarge on demand: 730 h x $55.04 = $40,179.20 a month, well above the seed's $15,000 of API.
    expect(await json('--api-usd-per-month', '15000', '--instance', 'p5.48xlarge')).toMatchObject({
      capacity_usd_per_month: 40179.2, cheaper: 'api', assumptions: { priceSource: 'https://aws.amazon.com/ec2/pricing/on-demand/@2026-12-01 (unverified)' },
    });
    for (const [instance, monthly] of [['p4d.24xlarge', 16030.8], ['trn1.32xlarge', 15695], ['inf2.48xlarge', 9475.4], ['ml.p5.48xlarge', 50224]] as const) {
      output.clear();
      expect((await json('--api-usd-per-month', '15000', '--instance', instance)).capacity_usd_per_month).toBe(monthly);
    }
  });

  it('prices every other way to buy the capacity as its own option and curve: commitment terms and committed throughput (hand-computed)', async () => {
    // $2,000 for 1B tokens = $2 per 1M; one $1/h instance at 1,000 tok/s fully used serves 2,628M tokens a month.
    // The other terms: 730 h x $1 x 0.7 = $511 (1yr), x 0.5 = $365 (3yr). Committed throughput at $2 a unit-hour and
    // 60,000 tokens a minute (1,000/s): one unit, $1,460 a month, breaking even at 1,460 / $2 per 1M = 730M tokens.
    const svg = join(mkdtempSync(join(tmpdir(), 'crossover-')), 'c.svg');
    const r = await json('--api-usd-per-month', '2000', '--tokens-per-month', '1000000000', '--instance-usd-per-hour', '1', '--throughput', '1000', '--utilisation', '1',
      '--pt-usd-per-unit-hour', '2', '--pt-tokens-per-minute', '60000', '--svg', svg);
    expect(r.options).toEqual([
      { label: 'instance at $1/h, 1yr savings plan (assumed 30% off)', usd_per_month: 511, units: 1, break_even_tokens_per_month: 255_500_000 },
      { label: 'instance at $1/h, 3yr savings plan (assumed 50% off)', usd_per_month: 365, units: 1, break_even_tokens_per_month: 182_500_000 },
      { label: 'committed throughput: $2/unit-hour, 60,000 tokens/min per unit', usd_per_month: 1460, units: 1, break_even_tokens_per_month: 730_000_000 },
    ]);
    const chart = readFileSync(svg, 'utf8');
    expect(chart.match(/class="option-curve"/g)).toHaveLength(3);
    expect(chart).toContain('committed throughput: $2/unit-hour');
    output.clear();
    expect(await runCli(['crossover', '--api-usd-per-month', '1', '--tokens-per-month', '5', '--instance-usd-per-hour', '1', '--pt-usd-per-unit-hour', '2'])).toBe(2);
    expect(output.err).toContain('committed throughput needs both --pt-usd-per-unit-hour and --pt-tokens-per-minute');
  });

  it('turns the API dollars into a token price and charges transfer per token (hand-computed break-even)', async () => {
    // $2,000 for 1B tokens = $2 per 1M; one $1/h instance at 1,000 tok/s fully used serves 2,628M tokens for $730;
    // 500 GB at $1 = $500 at 1B tokens = $0.50 per 1M. Break-even: 730 / (2 - 0.5) = 486,666,667 tokens.
    const r = await json('--api-usd-per-month', '2000', '--tokens-per-month', '1000000000', '--instance-usd-per-hour', '1', '--throughput', '1000', '--utilisation', '1',
      '--transfer-gb-per-month', '500', '--transfer-usd-per-gb', '1');
    expect(r.break_even_tokens_per_month).toBe(486_666_667);
    expect(r).toMatchObject({ api_usd_per_month: 2000, self_hosted_usd_per_month: 1230, transfer_usd_per_month: 500, cheaper: 'self-hosted' });
  });

  it.each([
    [['--capacity-usd-per-month', '1'], 'give the API side: --model ID (catalog prices) or --api-usd-per-month USD'],
    [['--api-usd-per-month', '1'], 'give the capacity: --instance TYPE, --instance-usd-per-hour USD or --capacity-usd-per-month USD'],
    [['--api-usd-per-month', '1', '--capacity-usd-per-month', '1', '--svg', 'x.svg'], '--svg needs a token volume'],
    [['--api-usd-per-month', '1', '--capacity-usd-per-month', '1', '--tokens-per-month', '5'], '--capacity-usd-per-month compares at your volume only'],
    [['--model', 'gpt-5.4-mini', '--instance', 'p6.48xlarge', '--tokens-per-month', '5'], "no catalog price for instance 'p6.48xlarge': give --instance-usd-per-hour"],
    [['--model', 'gpt-5.4-mini', '--api-usd-per-month', '5', '--instance', 'ml.g5.xlarge'], "option '--api-usd-per-month <usd>' cannot be used with option '--model <id>'"],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    expect(await runCli(['crossover', ...args])).toBe(2);
    expect(output.err).toContain(message);
  });
});
