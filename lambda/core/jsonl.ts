/**
 * The non-blank lines of a JSONL text as JSON objects with their 1-based line numbers (blank lines count). Throws
 * naming `source:line` for the first line that is not JSON, or not a JSON object.
 */
export function jsonObjectLines(text: string, source: string): { line: number; value: Record<string, unknown> }[] {
  const out: { line: number; value: Record<string, unknown> }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new Error(`${source}:${i + 1}: not JSON`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${source}:${i + 1}: expected a JSON object`);
    out.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  return out;
}
