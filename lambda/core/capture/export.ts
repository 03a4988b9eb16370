import type { CaptureExample } from './capture';

/**
 * `llm-finops distill export` (issue 36): captured examples as a fine-tuning tool reads them, with the `/v1/feedback`
 * scores joined by request id. Pure: examples and scores in, lines out, with a count of what was left out and why.
 *
 * - `openai`: `{messages, tools?}`, the chat fine-tuning shape OpenAI's API, Hugging Face TRL and Amazon Nova
 *   reinforcement fine-tuning read (our own `llm_finops` block and answer fields such as `refusal` removed: strict readers
 *   refuse unknown keys).
 * - `bedrock-conversation`: Bedrock's `bedrock-conversation-2024` records (`schemaVersion`, `system: [{text}]`,
 *   `messages: [{role, content: [{text}]}]`), for fine-tuning and distillation of the conversational models (Bedrock
 *   user guide, "Prepare your training datasets", read 2026-12-07): text only, roles alternating from the user.
 * - `prompt-completion`: `{prompt, completion}` for Bedrock's non-conversational models: single-turn exchanges only,
 *   the system prompt before the user's text.
 */
export type ExportFormat = 'openai' | 'bedrock-conversation' | 'prompt-completion';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['openai', 'bedrock-conversation', 'prompt-completion'];

export interface ExportOptions {
  readonly format: ExportFormat;
  /** Feedback scores by request id (the last one given wins). */
  readonly scores?: ReadonlyMap<string, number>;
  /** Leave out examples scored below this. */
  readonly minScore?: number;
  /** Leave out examples nobody scored. */
  readonly scoredOnly?: boolean;
  /** Only these features; all when absent. */
  readonly features?: ReadonlySet<string>;
}

export interface ExportedLine {
  readonly requestId: string;
  readonly feature: string;
  readonly record: Record<string, unknown>;
}

export interface ExportResult {
  readonly lines: readonly ExportedLine[];
  /** Why examples were left out, with how many each. */
  readonly skipped: Readonly<Record<string, number>>;
}

interface Turn { readonly role: string; readonly text: string }

/** A message's text, or undefined when it carries anything else (images, tool calls, tool results). */
function textOf(m: unknown): Turn | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const { role, content, tool_calls: calls } = m as { role?: unknown; content?: unknown; tool_calls?: unknown };
  if (typeof role !== 'string' || !['system', 'developer', 'user', 'assistant'].includes(role) || (Array.isArray(calls) && calls.length)) return undefined;
  if (typeof content === 'string') return { role: role === 'developer' ? 'system' : role, text: content };
  if (!Array.isArray(content) || !content.length) return undefined;
  const texts: string[] = [];
  for (const part of content as { type?: unknown; text?: unknown }[]) {
    if (part?.type !== 'text' || typeof part.text !== 'string') return undefined;
    texts.push(part.text);
  }
  return { role: role === 'developer' ? 'system' : role, text: texts.join('\n') };
}

/** The exchange as text turns: system prompts apart, the rest merged where a role repeats. */
function turnsOf(messages: readonly unknown[]): { system: string[]; turns: Turn[] } | string {
  const system: string[] = [];
  const turns: Turn[] = [];
  for (const m of messages) {
    const t = textOf(m);
    if (!t) return 'not text only (tool calls, tool results or images)';
    if (t.role === 'system') {
      if (turns.length) return 'a system message after the conversation began';
      system.push(t.text);
    } else if (turns.length && turns[turns.length - 1].role === t.role) {
      turns[turns.length - 1] = { role: t.role, text: `${turns[turns.length - 1].text}\n\n${t.text}` };
    } else {
      turns.push(t);
    }
  }
  if (!turns.length || turns[0].role !== 'user') return 'does not begin with a user message';
  if (turns[turns.length - 1].role !== 'assistant' || !turns[turns.length - 1].text.trim()) return 'no answer to learn';
  return { system, turns };
}

/** The keys a chat fine-tuning reader knows on a message; others (an answer's `refusal: null`, `annotations`) go. */
const MESSAGE_KEYS = ['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'weight'];

function openAiMessage(m: unknown): unknown {
  if (!m || typeof m !== 'object') return m;
  return Object.fromEntries(Object.entries(m as Record<string, unknown>).filter(([k]) => MESSAGE_KEYS.includes(k)));
}

function recordOf(e: CaptureExample, format: ExportFormat): Record<string, unknown> | string {
  if (format === 'openai') return { messages: e.messages.map(openAiMessage), ...(e.tools ? { tools: e.tools } : {}) };
  if (e.tools?.length) return 'has tools (only the openai format carries them)';
  const parsed = turnsOf(e.messages);
  if (typeof parsed === 'string') return parsed;
  const { system, turns } = parsed;
  if (format === 'bedrock-conversation') {
    return {
      schemaVersion: 'bedrock-conversation-2024',
      ...(system.length ? { system: system.map((text) => ({ text })) } : {}),
      messages: turns.map((t) => ({ role: t.role, content: [{ text: t.text }] })),
    };
  }
  if (turns.length !== 2) return 'more than one turn (prompt-completion is single-turn)';
  return { prompt: [...system, turns[0].text].join('\n\n'), completion: turns[1].text };
}

/** The examples in `format`, in order, each request once; what was left out, counted by reason. */
export function exportExamples(examples: readonly CaptureExample[], o: ExportOptions): ExportResult {
  const lines: ExportedLine[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => void (skipped[why] = (skipped[why] ?? 0) + 1);
  const seen = new Set<string>();
  for (const e of examples) {
    const id = e.llm_finops?.request_id;
    const feature = e.llm_finops?.feature;
    if (typeof id !== 'string' || typeof feature !== 'string' || !Array.isArray(e.messages)) {
      skip('not a captured example (no messages or llm_finops)');
      continue;
    }
    if (o.features && !o.features.has(feature)) continue;
    if (seen.has(id)) {
      skip('the same request again');
      continue;
    }
    seen.add(id);
    const score = o.scores?.get(id);
    if (score === undefined && o.scoredOnly) {
      skip('not scored');
      continue;
    }
    if (score !== undefined && o.minScore !== undefined && score < o.minScore) {
      skip(`scored under ${o.minScore}`);
      continue;
    }
    const record = recordOf(e, o.format);
    if (typeof record === 'string') skip(record);
    else lines.push({ requestId: id, feature, record });
  }
  return { lines, skipped };
}
