import { tmpdir } from 'node:os';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CommanderError, type Command } from 'commander';
import ts from 'typescript';
import { buildProgram } from '../bin/llm-finops';
import { validateGatewayConfig } from '../lib/bundles';

const ROOT = join(__dirname, '..');
/** The README and every page under docs/: what a newcomer reads. */
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const TEXT = new Map(PAGES.map((p) => [p, readFileSync(join(ROOT, p), 'utf8')]));
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const CLI = join(ROOT, 'bin', 'llm-finops.ts');

interface Block { page: string; line: number; lang: string; text: string }

/** A page's fenced code blocks (with their language and first line) and its prose (everything else). */
function split(page: string): { blocks: Block[]; prose: string } {
  const blocks: Block[] = [];
  const prose: string[] = [];
  let open: Block | null = null;
  const body: string[] = [];
  TEXT.get(page)!.split('\n').forEach((line, i) => {
    const fence = /^\s*```(\S*)/.exec(line);
    if (fence && !open) {
      open = { page, line: i + 2, lang: fence[1], text: '' };
      body.length = 0;
    } else if (fence && open) {
      open.text = body.join('\n');
      blocks.push(open);
      open = null;
    } else (open ? body : prose).push(line);
  });
  return { blocks, prose: prose.join('\n') };
}
const ALL_BLOCKS = PAGES.flatMap((p) => split(p).blocks);

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

/** Every llm-finops command line in the pages' code blocks, continuation lines joined. */
function codeCommands(): { where: string; line: string; argv: string[] }[] {
  const out: { where: string; line: string; argv: string[] }[] = [];
  for (const block of ALL_BLOCKS) {
    for (const raw of block.text.replace(/\\\n\s*/g, ' ').split('\n')) {
      const line = raw.trim();
      const m = PREFIX.exec(line);
      if (m) out.push({ where: `${block.page}:${block.line}`, line, argv: words(line.slice(m[0].length)) });
    }
  }
  return out;
}

/** Every inline `llm-finops ...` synopsis outside code blocks. */
function inlineCommands(): string[] {
  return PAGES.flatMap((p) => [...split(p).prose.matchAll(/`llm-finops ([a-z][^`]*)`/g)].map((m) => m[1]));
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

/** GitHub's heading anchors of a page: lower case, punctuation other than '-' and '_' dropped, spaces to '-', repeats numbered. */
function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of split(page).prose.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** Every Markdown link in a page's prose: [text](target). */
function links(page: string): string[] {
  return [...split(page).prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

describe('the documentation', () => {
  it('is a short README that links every page under docs/', () => {
    const readme = TEXT.get('README.md')!;
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    const linked = new Set(links('README.md').map((l) => l.split('#')[0]));
    expect(PAGES.filter((p) => p.startsWith('docs/') && !linked.has(p))).toEqual([]);
    // The Quickstart's two commands, exactly.
    const quick = readme.slice(readme.indexOf('## Quickstart'), readme.indexOf('\n## ', readme.indexOf('## Quickstart') + 1));
    expect([...quick.matchAll(/```sh\n([^\n]*)\n```/g)].map((m) => m[1])).toEqual(['npm ci && npm start', 'npm ci && npm test']);
  });

  it.each(PAGES.map((p) => [p]))('%s: every relative link reaches a file, and every anchor a heading', (page) => {
    const broken: string[] = [];
    for (const target of links(page)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path, anchor] = target.split('#');
      const file = path ? join(ROOT, dirname(page), path) : join(ROOT, page);
      if (!existsSync(file)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined) {
        const rel = relative(ROOT, file);
        if (!statSync(file).isFile() || !TEXT.has(rel)) broken.push(`${target}: anchors are checked on the README and docs/ pages only`);
        else if (!anchors(rel).has(anchor)) broken.push(`${target}: no heading '${anchor}' in ${rel}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(PAGES.map((p) => [p]))('%s: says "not yet" only of work an open issue names', (page) => {
    const claims = TEXT.get(page)!.split('\n').filter((l) => /\bnot (?:\w+ )?yet\b|\bno [\w -]{1,40} (?:lane|support) yet\b/i.test(l));
    expect(claims.filter((l) => !/issues? \d+/.test(l))).toEqual([]);
  });

  it.each(ALL_BLOCKS.filter((b) => b.lang === 'ts').map((b) => [`${b.page}:${b.line}`, b]))('TypeScript at %s parses', (_where, block) => {
    const source = ts.createSourceFile('block.ts', (block as Block).text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
    const problems = (source as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics;
    expect(problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '))).toEqual([]);
  });

  it.each(ALL_BLOCKS.filter((b) => b.lang === 'json').map((b) => [`${b.page}:${b.line}`, b]))('JSON at %s parses, and a config part of it passes the router\'s validation', (_where, block) => {
    const text = (block as Block).text;
    // A config excerpt is written as its members ("cache": {...}); read it as the object they belong to.
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text);
    } catch {
      value = JSON.parse(`{${text}}`);
    }
    const platform = JSON.parse(readFileSync(join(ROOT, 'examples', 'platform', 'gateway.json'), 'utf8'));
    const configKeys = Object.keys(value).filter((k) => k in platform || ['cache', 'context', 'quota', 'routing', 'tenants', 'promptCache', 'usage', 'shadow', 'capture'].includes(k));
    if (configKeys.length === Object.keys(value).length && configKeys.length > 0) {
      // Excerpts name tenant 'acme' as the docs' example tenant.
      const merged = { ...platform, tenants: [{ id: 'acme', apiKeys: [] }] };
      for (const k of configKeys) merged[k] = typeof value[k] === 'object' && !Array.isArray(value[k]) && platform[k] ? { ...platform[k], ...(value[k] as object) } : value[k];
      expect(validateGatewayConfig(merged)).toEqual([]);
    }
  });

  it('runs the README\'s example: it synthesises the platform from the example config', () => {
    const readme = TEXT.get('README.md')!;
    const example = readme.slice(readme.indexOf('## Example'));
    const code = /```ts\n([\s\S]*?)\n```/.exec(example)![1]
      .replace(`from 'cdk-llm-finops'`, `from ${JSON.stringify(join(ROOT, 'lib'))}`)
      .replace(`'gateway.json'`, JSON.stringify(join(ROOT, 'examples', 'platform', 'gateway.json')));
    const dir = mkdtempSync(join(tmpdir(), 'readme-example-'));
    writeFileSync(join(dir, 'app.ts'), `${code}\nprocess.stdout.write(String(Object.keys(app.synth().getStackByName('Llm').template.Resources).length));\n`);
    const r = spawnSync(process.execPath, [TSX, join(dir, 'app.ts')], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(Number(r.stdout)).toBeGreaterThan(100);
  });
});

describe('the llm-finops commands in the documentation', () => {
  const commands = codeCommands();

  it('finds the documented command lines', () => {
    expect(commands.length).toBeGreaterThanOrEqual(15);
  });

  it.each(commands.map((c) => [c.where, c.line, c.argv]))('parses as written (%s): %s', async (_where, _line, argv) => {
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

  const crossovers = PAGES.flatMap((p) => [...TEXT.get(p)!.matchAll(/```\n\$ npx llm-finops (crossover [\s\S]*?)\n```/g)].map((m) => m[1]));
  it('finds the crossover examples', () => expect(crossovers.length).toBeGreaterThan(0));

  it.each(crossovers.map((text) => [text.split('\n')[0].slice(0, 60), text]))('shows the crossover example\'s real output: %s', (_name, text) => {
    const [command, ...shown] = text.replace(/\\\n\s*/g, ' ').split('\n');
    const argv = words(command).map((w) => (w.endsWith('.svg') ? join(tmpdir(), 'readme-crossover.svg') : w));
    const r = spawnSync(process.execPath, [TSX, CLI, ...argv], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const strip = (lines: string[]) => lines.filter((l) => !l.trim().startsWith('chart:'));
    expect(strip(r.stdout.trimEnd().split('\n'))).toEqual(strip(shown));
  });

  it('shows the replay example\'s real output (the shipped GSM8K trace and config)', () => {
    const shown = ALL_BLOCKS.find((b) => b.text.startsWith('200 requests ('))?.text;
    expect(shown).toBeDefined();
    const r = spawnSync(process.execPath, [TSX, CLI, 'replay', '--trace', 'examples/traces/gsm8k-200.jsonl'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').slice(0, shown!.split('\n').length)).toEqual(shown!.split('\n'));
  });
});
