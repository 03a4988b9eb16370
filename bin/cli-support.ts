import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { splitHalves } from '../lambda/core/cache/evaluate';
import { jsonObjectLines } from '../lambda/core/jsonl';

/** A wrong flag or argument found by a command: the CLI prints it with that command's usage and exits 2. */
export class UsageError extends Error {}

/**
 * Reads a JSONL data file for an eval or training command, parses it (a parse error names the line and becomes a
 * usage error), and keeps the requested half: all, even rows or odd rows (the fixed, documented split).
 */
export function readDataFile<T>(file: string, parse: (text: string, source: string) => T[], half: Half = 'all'): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let rows: T[];
  try {
    rows = parse(text, file);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return half === 'all' ? rows : splitHalves(rows)[half];
}

/**
 * The JSON values of a JSONL file with their 1-based line numbers, blank lines skipped. An unreadable file or a line
 * that is not JSON is a usage error naming the file and line.
 */
export function readJsonLines(file: string): { line: number; value: Record<string, unknown> }[] {
  return readParsed(file, (text) => jsonObjectLines(text, file));
}

/** A file read and parsed: an unreadable file, or a parser's error (which names what is wrong), is a usage error. */
export function readParsed<T>(file: string, parse: (text: string) => T): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parse(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Every item of a paginated AWS list call: `fetch` gets the previous page's token and returns its items and the next. */
export async function pages<T>(fetch: (token: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await fetch(token);
    out.push(...page.items);
    token = page.next;
  } while (token);
  return out;
}

export const HALVES = ['all', 'even', 'odd'] as const;
export type Half = (typeof HALVES)[number];

// Option-argument parsers: commander calls them while parsing, and an InvalidArgumentError becomes
// "error: option '--x <n>' argument 'v' is invalid. <message>" with the command's usage, exit 2.

/** A finite number within [min, max] (bounds inclusive unless `open` says which end is open). */
export function numberIn(min: number, max: number, open: { min?: boolean; max?: boolean } = {}) {
  return (v: string): number => {
    const n = Number(v);
    const ok = v.trim() !== '' && Number.isFinite(n) && (open.min ? n > min : n >= min) && (open.max ? n < max : n <= max);
    if (!ok) throw new InvalidArgumentError(`expected a number in ${open.min ? '(' : '['}${min}, ${max === Infinity ? '∞' : max}${open.max || max === Infinity ? ')' : ']'}.`);
    return n;
  };
}

/** A whole number within [min, max]. */
export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number${max === Number.MAX_SAFE_INTEGER ? ` >= ${min}` : ` in [${min}, ${max}]`}.`);
    return n;
  };
}

/** A comma-separated list, trimmed, without empty items (an empty list is an error). */
export function commaList(v: string): string[] {
  const items = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (!items.length) throw new InvalidArgumentError('expected a comma-separated list.');
  return items;
}

/** For a repeatable option: each occurrence appends. */
export function collect(v: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), v];
}

let exitCode = 0;

/** The exit code the last action asked for (0 if none), reset for the next run. */
export function takeExitCode(): number {
  const code = exitCode;
  exitCode = 0;
  return code;
}

/**
 * Wraps a command's action: it receives the parsed options (and positional arguments), may return an exit code, and
 * a UsageError it throws is reported like commander's own parse errors (message, the command's usage, exit 2).
 */
export function action<O>(run: (opts: O, args: string[], cmd: Command) => Promise<number | void> | number | void) {
  return async (...params: unknown[]): Promise<void> => {
    const cmd = params[params.length - 1] as Command;
    const args = params.slice(0, -2).flat().filter((a): a is string => typeof a === 'string');
    try {
      const code = await run(cmd.opts() as O, args, cmd);
      if (typeof code === 'number') exitCode = code;
    } catch (err) {
      if (err instanceof UsageError) cmd.error(`error: ${err.message}`, { exitCode: 2, code: 'llm-finops.usage' });
      throw err;
    }
  };
}

/** The version in the package.json nearest above this file (the repository's, or the installed package's). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.version && pkg.name?.includes('llm-finops')) return pkg.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/**
 * A file the CLI ships (`examples/...`): the path in the nearest folder above this file that has it, which is the
 * repository in development and the installed CLI package when bundled (scripts/bundle-cli.mjs copies them).
 */
export function packagedFile(relative: string, whenMissing: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, relative);
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) throw new UsageError(`no ${relative} next to the CLI: ${whenMissing}`);
  }
}
