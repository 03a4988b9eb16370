/**
 * Documents inside a prompt, marked `<document ...>...</document>` or `<chunk ...>...</chunk>` (attributes such as
 * id="7" are kept as written). Text outside the markers is the question and instructions, left as it is.
 */
export type Segment =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'doc'; readonly open: string; readonly body: string; readonly close: string };

const MARKER = /<(document|chunk)(\s[^>]*)?>([\s\S]*?)<\/\1\s*>/gi;

export function splitDocuments(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(MARKER)) {
    if (m.index! > last) out.push({ kind: 'text', text: text.slice(last, m.index) });
    out.push({ kind: 'doc', open: `<${m[1]}${m[2] ?? ''}>`, body: m[3], close: `</${m[1]}>` });
    last = m.index! + m[0].length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}

export function joinSegments(segments: readonly Segment[]): string {
  return segments.map((s) => (s.kind === 'text' ? s.text : `${s.open}${s.body}${s.close}`)).join('');
}

/** The prompt text without its documents: what the documents are ranked against. */
export function questionOf(segments: readonly Segment[]): string {
  return segments.filter((s) => s.kind === 'text').map((s) => (s as { text: string }).text).join(' ').trim();
}
