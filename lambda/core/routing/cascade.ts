/**
 * Cascade mode (FrugalGPT / AutoMix style): a cascade tier calls its cheapest model first and escalates to the next
 * one when a cheap check rejects the answer. The checks look only at the answer and the request: nothing here calls a
 * model. Pure.
 */
import type { ChatCompletion, ChatRequest } from '../openai/types';

export type CascadeCheck = 'empty' | 'refusal' | 'truncated' | 'json' | 'logprob' | 'labels';

export const CASCADE_CHECKS: readonly CascadeCheck[] = ['empty', 'refusal', 'truncated', 'json', 'logprob', 'labels'];

export interface CascadeSettings {
  readonly checks: readonly CascadeCheck[];
  /** Mean token log-probability below which the answer is rejected (only when the provider returns logprobs). */
  readonly minMeanLogprob: number;
  /** labels check: the answer must be one of these (a classifier's label set), after case, spacing and a trailing full stop. */
  readonly labels?: readonly string[];
  /** json check: a JSON Schema every answer must satisfy, whether or not the request asked for JSON (an extractor's output). */
  readonly schema?: Readonly<Record<string, unknown>>;
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: CascadeCheck; readonly detail: string };

const REFUSAL = new RegExp(
  [
    "^\\s*(i'?m|i am) (sorry|afraid),? (but )?i (can(no|')t|cannot|am unable|'m unable|won'?t)",
    "^\\s*i (can(no|')t|cannot|am unable to|'m unable to|won'?t) (help|assist|provide|comply|do that|answer|fulfil)",
    '^\\s*as an ai( language model)?,? i (can(no|\u2019|\')t|cannot|am not able|don\'?t have)',
    "^\\s*(sorry|unfortunately),? (but )?i (can(no|')t|cannot|am unable)",
  ].join('|'),
  'i',
);

/**
 * A classifier's answer as a label: case, spacing and trailing punctuation do not count ("Billing." is billing). The
 * labels check and the shadow tests' exact scorer compare labels this way.
 */
export function normaliseLabel(s: string): string {
  return s.trim().toLowerCase().replace(/\s+/g, ' ').replace(/[.!?;:,]+$/, '');
}

/** Whether the request asks for JSON (`response_format` json_object or json_schema), and the schema if given. */
function wantedJson(req: ChatRequest): { schema: unknown } | undefined {
  const rf = req.response_format as { type?: string; json_schema?: { schema?: unknown } } | undefined;
  if (!rf || typeof rf !== 'object') return undefined;
  if (rf.type === 'json_object') return { schema: undefined };
  if (rf.type === 'json_schema') return { schema: rf.json_schema?.schema };
  return undefined;
}

/**
 * A small JSON Schema check covering what structured-output schemas use: type (incl. integer and unions), required,
 * properties, additionalProperties false, items, enum, const. Returns the first violation's path, or null.
 */
export function schemaViolation(value: unknown, schema: unknown, path = '$'): string | null {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as {
    type?: string | string[]; required?: string[]; properties?: Record<string, unknown>; additionalProperties?: unknown;
    items?: unknown; enum?: unknown[]; const?: unknown; anyOf?: unknown[];
  };
  if (Array.isArray(s.anyOf)) {
    if (!s.anyOf.some((alt) => schemaViolation(value, alt, path) === null)) return `${path}: matches none of anyOf`;
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return `${path}: not one of the enum values`;
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) return `${path}: not the const value`;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const ok = types.some((t) => t === actual || (t === 'integer' && typeof value === 'number' && Number.isInteger(value)) || (t === 'number' && actual === 'number'));
    if (!ok) return `${path}: expected ${types.join(' or ')}, got ${actual}`;
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of s.required ?? []) if (!(key in obj)) return `${path}.${key}: required`;
    for (const [key, sub] of Object.entries(s.properties ?? {})) {
      if (key in obj) {
        const v = schemaViolation(obj[key], sub, `${path}.${key}`);
        if (v) return v;
      }
    }
    if (s.additionalProperties === false) {
      const extra = Object.keys(obj).find((k) => !(k in (s.properties ?? {})));
      if (extra) return `${path}.${extra}: not allowed`;
    }
  }
  if (Array.isArray(value) && s.items) {
    for (let i = 0; i < value.length; i++) {
      const v = schemaViolation(value[i], s.items, `${path}[${i}]`);
      if (v) return v;
    }
  }
  return null;
}

function meanLogprob(choice: unknown): number | undefined {
  const content = (choice as { logprobs?: { content?: { logprob?: unknown }[] } }).logprobs?.content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  let sum = 0;
  for (const t of content) {
    if (typeof t.logprob !== 'number') return undefined;
    sum += t.logprob;
  }
  return sum / content.length;
}

/** Judges a cheap model's answer; the first failing check names the reason to escalate. */
export function checkAnswer(req: ChatRequest, completion: ChatCompletion, settings: CascadeSettings): Verdict {
  const on = new Set(settings.checks);
  const choice = completion.choices[0];
  const text = choice?.message?.content ?? '';
  const hasTools = (choice?.message?.tool_calls?.length ?? 0) > 0;
  // OpenAI reports a refusal in its own field with empty content: name it a refusal, not an empty answer.
  const refusalField = (choice?.message as { refusal?: unknown } | undefined)?.refusal;
  if (on.has('refusal') && ((typeof refusalField === 'string' && refusalField.length > 0) || REFUSAL.test(text))) {
    return { ok: false, reason: 'refusal', detail: (typeof refusalField === 'string' && refusalField) || text.slice(0, 80) };
  }
  if (on.has('empty') && !hasTools && text.trim() === '') return { ok: false, reason: 'empty', detail: 'no content' };
  if (on.has('truncated') && choice?.finish_reason === 'length') return { ok: false, reason: 'truncated', detail: 'finish_reason length' };
  if (on.has('labels') && settings.labels?.length && !hasTools) {
    const label = normaliseLabel(text);
    if (!settings.labels.some((l) => normaliseLabel(l) === label)) return { ok: false, reason: 'labels', detail: `not one of ${settings.labels.join(', ')}: ${text.slice(0, 40)}` };
  }
  const json = wantedJson(req) ?? (settings.schema ? { schema: settings.schema } : undefined);
  if (on.has('json') && json && !hasTools) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, reason: 'json', detail: 'not valid JSON' };
    }
    const v = schemaViolation(parsed, json.schema);
    if (v) return { ok: false, reason: 'json', detail: v };
  }
  if (on.has('logprob')) {
    const mean = meanLogprob(choice);
    if (mean !== undefined && mean < settings.minMeanLogprob) {
      return { ok: false, reason: 'logprob', detail: `mean logprob ${mean.toFixed(3)} < ${settings.minMeanLogprob}` };
    }
  }
  return { ok: true };
}
