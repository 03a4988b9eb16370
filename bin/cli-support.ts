import { readFileSync } from 'node:fs';
import { splitHalves } from '../lambda/core/cache/evaluate';

/** A wrong flag or argument: the CLI prints it with the usage text and exits 2. */
export class UsageError extends Error {}

/**
 * Reads a JSONL data file for an eval or training command, parses it (a parse error names the line and becomes a
 * usage error), and keeps the requested half: all, even rows or odd rows (the fixed, documented split).
 */
export function readDataFile<T>(file: string | undefined, flag: string, parse: (text: string, source: string) => T[], half: string | undefined): T[] {
  if (!file) throw new UsageError(`--data ${flag} is required`);
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
  const h = half ?? 'all';
  if (h === 'all') return rows;
  if (h !== 'even' && h !== 'odd') throw new UsageError(`--half must be all, even or odd, got ${h}`);
  return splitHalves(rows)[h];
}
