import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Command } from 'commander';
import { buildProgram, runCli } from '../../bin/llm-finops';
import { progressBar } from '../../bin/progress';
import { captureOutput } from '../support/output';

/** Every command path in the tree: ['local'], ['quota', 'limits'], ... */
function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

describe('llm-finops command tree', () => {
  const output = captureOutput();

  const all = paths(buildProgram());

  it('has the commands the README documents', () => {
    expect(all.map((p) => p.join(' '))).toEqual(expect.arrayContaining([
      'local', 'config validate', 'hash-key', 'quota limits', 'quota kill-switch', 'quota sweep', 'tenants create', 'tenants list',
      'tenants rotate-key', 'tenants set-limits', 'report', 'estimate', 'crossover', 'replay', 'cache eval', 'cache train-verifier',
      'router train', 'router eval', 'router outcomes', 'feedback', 'context eval', 'prices check',
    ]));
  });

  it.each(all.map((p) => [p.join(' '), p]))('%s --help prints its usage and exits 0', async (_name, path) => {
    expect(await runCli([...(path as string[]), '--help'])).toBe(0);
    expect(output.out).toContain(`Usage: llm-finops ${(path as string[]).join(' ')}`);
    expect(output.err).toBe('');
  });

  it('prints the version', async () => {
    expect(await runCli(['--version'])).toBe(0);
    expect(output.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [['frobnicate'], "error: unknown command 'frobnicate'", 'Usage: llm-finops [options] [command]'],
    [['crosover'], '(Did you mean crossover?)', 'Usage: llm-finops [options] [command]'],
    [['cache'], '', 'Usage: llm-finops cache [options] [command]'],
    [['estimate', '--jsn'], "error: unknown option '--jsn'\n(Did you mean --json?)", 'Usage: llm-finops estimate [options]'],
    [['local'], "error: required option '--config <file>' not specified", 'Usage: llm-finops local [options]'],
    [['local', '--config', 'x.json', '--port', '70000'], "argument '70000' is invalid. expected a whole number in [0, 65535].", 'Usage: llm-finops local'],
    [['hash-key', 'a', 'b'], 'error: too many arguments for \'hash-key\'', 'Usage: llm-finops hash-key [options] <key>'],
    [['cache', 'eval', '--data', 'p.jsonl', '--sweep', '--threshold', '0.9'], "error: option '--threshold <t>' cannot be used with option '--sweep'", 'Usage: llm-finops cache eval'],
    [['crossover', '--model', 'gpt-5.4-mini', '--instance', 'ml.inf2.xlarge'], 'error: give one of --tokens-per-month N or --usage FILE', 'Usage: llm-finops crossover'],
    [['quota', 'kill-switch', '--on', 'explode'], "argument 'explode' is invalid. Allowed choices are block, downgrade.", 'Usage: llm-finops quota kill-switch'],
  ])('%j is a usage error: exit 2 with the message and that command\'s usage', async (argv, message, usage) => {
    expect(await runCli(argv)).toBe(2);
    expect(output.err).toContain(message);
    expect(output.err).toContain(usage);
    expect(output.out).toBe('');
  });

  it('names the real line of a bad JSONL row, blank lines included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-tree-'));
    writeFileSync(join(dir, 'rows.jsonl'), '\n\n{"question": 1}\n');
    expect(await runCli(['context', 'eval', '--data', join(dir, 'rows.jsonl')])).toBe(2);
    expect(output.err).toContain(`${join(dir, 'rows.jsonl')}:3: expected {question, chunks: [...], answer_chunk_ids: [...]}`);
    output.clear();
    writeFileSync(join(dir, 'trace.jsonl'), '{"messages": []}\n\nnot json\n');
    expect(await runCli(['replay', '--trace', join(dir, 'trace.jsonl')])).toBe(2);
    expect(output.err).toContain(`${join(dir, 'trace.jsonl')}:3: not JSON`);
  });

  it('exits 1, without the usage, when a command fails on valid arguments (an invalid config)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cli-tree-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ providers: [], models: [], tiers: [], routing: { thresholds: [] } }));
    expect(await runCli(['config', 'validate', '--config', file])).toBe(1);
    expect(output.err).toMatch(/invalid gateway config/i);
    expect(output.err).not.toContain('Usage:');
  });
});

describe('progress bars', () => {
  const tty = (): PassThrough & { isTTY: boolean; columns: number; text: string } => {
    const s = Object.assign(new PassThrough(), { isTTY: true, columns: 100, text: '' });
    s.on('data', (d) => (s.text += String(d)));
    return s;
  };
  const saved = process.env.CI;
  beforeEach(() => delete process.env.CI);
  afterAll(() => (saved === undefined ? delete process.env.CI : (process.env.CI = saved)));

  it('draws on a terminal and stays silent for --json or a pipe', () => {
    const term = tty();
    const bar = progressBar('replay', 10, { stream: term as unknown as NodeJS.WriteStream });
    bar.update(10);
    bar.stop();
    expect(term.text).toContain('replay');
    expect(term.text).toContain('10/10');

    const json = tty();
    progressBar('replay', 10, { json: true, stream: json as unknown as NodeJS.WriteStream }).update(5);
    expect(json.text).toBe('');

    const pipe = Object.assign(tty(), { isTTY: false });
    const quiet = progressBar('replay', 10, { stream: pipe as unknown as NodeJS.WriteStream });
    quiet.update(5);
    quiet.stop();
    expect(pipe.text).toBe('');
  });
});
