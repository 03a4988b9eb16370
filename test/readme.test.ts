import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CommanderError, type Command } from 'commander';
import { buildProgram } from '../bin/llm-finops';

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Shell-like words of one command line: quotes grouped, a trailing # comment dropped. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    if (m[3]?.startsWith('#')) break;
    out.push(m[1] ?? m[2] ?? m[3]);
  }
  return out;
}

const PREFIX = /^(?:\$ )?(?:npx (?:llm-finops|tsx bin\/llm-finops\.ts)|llm-finops) (?=[a-z])/;

/** The README's fenced code blocks (their text) and its prose (everything else). */
function split(): { blocks: string[]; prose: string } {
  const blocks: string[] = [];
  const prose: string[] = [];
  let block: string[] | null = null;
  for (const line of README.split('\n')) {
    if (line.trimStart().startsWith('```')) {
      if (block) blocks.push(block.join('\n'));
      block = block ? null : [];
    } else (block ?? prose).push(line);
  }
  return { blocks, prose: prose.join('\n') };
}

/** Every llm-finops command line in the README's code blocks, continuation lines joined. */
function codeCommands(): { line: string; argv: string[] }[] {
  const out: { line: string; argv: string[] }[] = [];
  for (const block of split().blocks) {
    for (const raw of block.replace(/\\\n\s*/g, ' ').split('\n')) {
      const line = raw.trim();
      const m = PREFIX.exec(line);
      if (m) out.push({ line, argv: words(line.slice(m[0].length)) });
    }
  }
  return out;
}

/** Every inline `llm-finops ...` synopsis outside code blocks. */
function inlineCommands(): string[] {
  return [...split().prose.matchAll(/`llm-finops ([a-z][^`]*)`/g)].map((m) => m[1]);
}

/** The command a word list names (longest path of sub-command names), and the words after it. */
function resolve(program: Command, argv: string[]): { cmd: Command; path: string[] } {
  let cmd = program;
  const path: string[] = [];
  for (const w of argv) {
    const next = cmd.commands.find((c) => c.name() === w);
    if (!next) break;
    cmd = next;
    path.push(w);
  }
  return { cmd, path };
}

describe('the README\'s llm-finops commands', () => {
  const commands = codeCommands();

  it('finds the documented command lines', () => {
    expect(commands.length).toBeGreaterThanOrEqual(15);
  });

  it.each(codeCommands().map((c) => [c.line, c.argv]))('parses as written: %s', async (_line, argv) => {
    // The real command tree with every action replaced by a no-op: options, choices, required flags and conflicts
    // are checked by commander exactly as when a user runs the line.
    const program = buildProgram();
    const quiet = (c: Command): void => {
      c.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
      if (c.commands.length === 0) c.action(() => undefined);
      c.commands.forEach(quiet);
    };
    quiet(program);
    await expect(program.parseAsync(argv as string[], { from: 'user' }).then(() => 'ok', (e: CommanderError) => e.message)).resolves.toBe('ok');
  });

  it.each(inlineCommands().map((c) => [c]))('inline synopsis names a real command and real flags: llm-finops %s', (synopsis) => {
    const program = buildProgram();
    const { cmd, path } = resolve(program, synopsis.split(/\s+/));
    expect(path.length).toBeGreaterThan(0);
    const known = new Set(cmd.options.map((o) => o.long));
    const flags = [...synopsis.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]);
    expect(flags.filter((f) => !known.has(f) && f !== '--help')).toEqual([]);
  });

  it.each([...README.matchAll(/```\n\$ npx llm-finops (crossover [\s\S]*?)\n```/g)].map((m) => [m[1].split('\n')[0].slice(0, 60), m[1]]))('shows the crossover example\'s real output: %s', (_name, text) => {
    const [command, ...shown] = text.replace(/\\\n\s*/g, ' ').split('\n');
    const argv = words(command).map((w) => (w.endsWith('.svg') ? join(tmpdir(), 'readme-crossover.svg') : w));
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), ...argv], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const strip = (lines: string[]) => lines.filter((l) => !l.trim().startsWith('chart:'));
    expect(strip(r.stdout.trimEnd().split('\n'))).toEqual(strip(shown));
  });

  it('shows the replay example\'s real output (the shipped GSM8K trace and config)', () => {
    const shown = split().blocks.find((b) => b.startsWith('200 requests ('));
    expect(shown).toBeDefined();
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'bin', 'llm-finops.ts'), 'replay', '--trace', 'examples/traces/gsm8k-200.jsonl'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, shown!.split('\n').length)).toEqual(shown!.split('\n'));
  });
});
