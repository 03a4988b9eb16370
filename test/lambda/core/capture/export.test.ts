import type { CaptureExample } from '../../../../lambda/core/capture/capture';
import { exportExamples } from '../../../../lambda/core/capture/export';

const meta = (id: string, feature = 'tickets') => ({ ts: '2026-12-07T09:00:00.000Z', request_id: id, tenant: 'acme', feature, model: 'sonnet', upstream_model: 'up', scrubbed: {} });
const ex = (id: string, messages: unknown[], extra: Partial<CaptureExample> = {}, feature?: string): CaptureExample => ({ messages, llm_finops: meta(id, feature), ...extra });

const ticket = ex('r1', [
  { role: 'system', content: 'Label the ticket: billing, bug or other.' },
  { role: 'user', content: 'I was charged twice' },
  { role: 'assistant', content: 'billing', refusal: null },
]);
const multiTurn = ex('r2', [
  { role: 'developer', content: [{ type: 'text', text: 'Be brief.' }] },
  { role: 'user', content: 'Hi' },
  { role: 'user', content: [{ type: 'text', text: 'Where is my order?' }] },
  { role: 'assistant', content: 'Which order number?' },
  { role: 'user', content: '#123' },
  { role: 'assistant', content: 'It ships today.' },
]);
const withTool = ex('r3', [{ role: 'user', content: 'weather?' }, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'w', arguments: '{}' } }] }], { tools: [{ type: 'function', function: { name: 'w' } }] });
const image = ex('r4', [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:...' } }] }, { role: 'assistant', content: 'a cat' }]);

describe('distill export', () => {
  it('writes the chat-messages shape without our own block, tools kept', () => {
    const r = exportExamples([ticket, withTool], { format: 'openai' });
    const [system, user, answer] = ticket.messages as Record<string, unknown>[];
    // The answer's refusal: null is an answer field, not a training one.
    expect(r.lines.map((l) => l.record)).toEqual([{ messages: [system, user, { role: 'assistant', content: 'billing' }] }, { messages: withTool.messages, tools: withTool.tools }]);
    expect(answer).toHaveProperty('refusal');
    expect(r.skipped).toEqual({});
  });

  it('writes bedrock-conversation-2024 records: system apart, roles merged and alternating, text only', () => {
    const r = exportExamples([ticket, multiTurn, withTool, image], { format: 'bedrock-conversation' });
    expect(r.lines.map((l) => l.record)).toEqual([
      { schemaVersion: 'bedrock-conversation-2024', system: [{ text: 'Label the ticket: billing, bug or other.' }], messages: [{ role: 'user', content: [{ text: 'I was charged twice' }] }, { role: 'assistant', content: [{ text: 'billing' }] }] },
      {
        schemaVersion: 'bedrock-conversation-2024', system: [{ text: 'Be brief.' }],
        messages: [
          { role: 'user', content: [{ text: 'Hi\n\nWhere is my order?' }] }, { role: 'assistant', content: [{ text: 'Which order number?' }] },
          { role: 'user', content: [{ text: '#123' }] }, { role: 'assistant', content: [{ text: 'It ships today.' }] },
        ],
      },
    ]);
    expect(r.skipped).toEqual({ 'has tools (only the openai format carries them)': 1, 'not text only (tool calls, tool results or images)': 1 });
  });

  it('writes prompt-completion for single-turn exchanges only', () => {
    const r = exportExamples([ticket, multiTurn], { format: 'prompt-completion' });
    expect(r.lines.map((l) => l.record)).toEqual([{ prompt: 'Label the ticket: billing, bug or other.\n\nI was charged twice', completion: 'billing' }]);
    expect(r.skipped).toEqual({ 'more than one turn (prompt-completion is single-turn)': 1 });
  });

  it('filters by feedback score, by feature, and keeps each request once', () => {
    const other = ex('r5', [{ role: 'user', content: 'extract' }, { role: 'assistant', content: '{}' }], {}, 'invoices');
    const unscored = ex('r6', [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'other' }]);
    const scores = new Map([['r1', 0.2], ['r2', 1]]);
    const all = [ticket, multiTurn, ticket, other, unscored, { messages: 'nope' } as unknown as CaptureExample];
    expect(exportExamples(all, { format: 'openai', scores, minScore: 0.5 }).lines.map((l) => l.requestId)).toEqual(['r2', 'r5', 'r6']);
    const scoredOnly = exportExamples(all, { format: 'openai', scores, minScore: 0.5, scoredOnly: true, features: new Set(['tickets']) });
    expect(scoredOnly.lines.map((l) => l.requestId)).toEqual(['r2']);
    expect(scoredOnly.skipped).toEqual({ 'scored under 0.5': 1, 'the same request again': 1, 'not scored': 1, 'not a captured example (no messages or llm_finops)': 1 });
  });

  it('leaves out an exchange with no answer or that does not begin with the user', () => {
    const r = exportExamples([ex('a', [{ role: 'user', content: 'q' }, { role: 'assistant', content: '  ' }]), ex('b', [{ role: 'assistant', content: 'hello' }, { role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }])], { format: 'bedrock-conversation' });
    expect(r.skipped).toEqual({ 'no answer to learn': 1, 'does not begin with a user message': 1 });
  });
});
