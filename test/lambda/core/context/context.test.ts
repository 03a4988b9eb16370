import { joinSegments, questionOf, splitDocuments } from '../../../../lambda/core/context/documents';
import { evaluateContext } from '../../../../lambda/core/context/evaluate';
import { optimiseContext, selectWithinBudget, type ContextPolicy } from '../../../../lambda/core/context/optimize';
import { contextPolicyFor } from '../../../../lambda/core/context/policy';
import { bm25, stem, tokens } from '../../../../lambda/core/context/text';
import type { ChatMessage, ChatRequest } from '../../../../lambda/core/openai/types';

const policy = (p: Partial<ContextPolicy> = {}): ContextPolicy => ({ rerankBudget: 1, minChunks: 1, cleanup: false, includeSystem: false, includeToolResults: false, ...p });
const req = (...messages: ChatMessage[]): ChatRequest => ({ model: 'auto', messages });
const text = (r: { request: ChatRequest }, i = -1) => String(r.request.messages.at(i)!.content);

describe('text', () => {
  it('stems inflections to one form', () => {
    expect(['studies', 'studied', 'study'].map(stem)).toEqual(['studi', 'studi', 'studi']);
    expect(['running', 'runs'].map(stem)).toEqual(['run', 'run']);
  });

  it('drops stop words and keeps numbers', () => {
    expect(tokens('What is the capital of France in 1900?')).toEqual([stem('capital'), stem('france'), '1900']);
  });

  it('ranks the document sharing rare query terms first', () => {
    const s = bm25(tokens('gang color Crips'), ['the weather is nice', 'Crips gang color is blue', 'a gang formed'].map(tokens));
    expect(s.indexOf(Math.max(...s))).toBe(1);
    expect(s[0]).toBe(0);
  });
});

describe('documents', () => {
  it('splits <document> and <chunk> blocks, keeps attributes, and joins back unchanged', () => {
    const t = 'Question?\n<document id="1">alpha</document>\n<chunk source="x">beta</chunk> tail';
    const segs = splitDocuments(t);
    expect(segs.filter((s) => s.kind === 'doc')).toEqual([
      { kind: 'doc', open: '<document id="1">', body: 'alpha', close: '</document>' },
      { kind: 'doc', open: '<chunk source="x">', body: 'beta', close: '</chunk>' },
    ]);
    expect(joinSegments(segs)).toBe(t);
    expect(questionOf(segs)).toBe('Question?\n \n  tail');
  });
});

describe('selectWithinBudget', () => {
  it('takes the best documents that fit, skips one that does not, and returns them in original order', () => {
    expect(selectWithinBudget([0.9, 0.8, 0.1, 0.7], [50, 100, 10, 30], 90, 1)).toEqual([0, 2, 3]);
  });

  it('keeps minChunks even past the budget', () => {
    expect(selectWithinBudget([0.2, 0.9], [500, 400], 10, 1)).toEqual([1]);
  });
});

describe('optimiseContext', () => {
  const rag = (q: string, docs: string[]) => `${q}\n${docs.map((d, i) => `<document id="${i}">${d}</document>`).join('\n')}`;

  it('re-ranks documents against the question and keeps the best within the budget, in their original order', async () => {
    const docs = ['Paris hosts the Louvre museum.', 'Bananas are rich in potassium and grow in warm climates.', 'The Eiffel Tower is in Paris, France.', 'Quarterly revenue rose by four percent year on year.'];
    const out = await optimiseContext(req({ role: 'user', content: rag('Which museum and tower are in Paris?', docs) }), policy({ rerankBudget: 0.5 }));
    expect(text(out)).toBe(rag('Which museum and tower are in Paris?', docs).replace(`<document id="1">${docs[1]}</document>`, '').replace(`<document id="3">${docs[3]}</document>`, ''));
    expect(out.stats).toMatchObject({ documentsIn: 4, documentsKept: 2 });
    expect(out.stats.bytesOut).toBeLessThan(out.stats.bytesIn);
  });

  it('uses the embedder when given one', async () => {
    const seen: string[][] = [];
    await optimiseContext(req({ role: 'user', content: rag('q words', ['a', 'b']) }), policy({ rerankBudget: 0.5 }), async (t) => {
      seen.push([...t]);
      return t.map(() => new Float32Array([1, 0]));
    });
    expect(seen).toEqual([['q words', 'a', 'b']]);
  });

  it('leaves system prompts and tool results alone unless the policy includes them', async () => {
    const sys = `Rules\n<document>one</document>\n<document>one</document>\n\n\n\nend   `;
    const messages: ChatMessage[] = [
      { role: 'system', content: sys },
      { role: 'user', content: 'call the tool' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: sys },
      { role: 'user', content: 'thanks' },
    ];
    const off = await optimiseContext(req(...messages), policy({ cleanup: true, rerankBudget: 0.1 }));
    expect(off.request.messages).toEqual(messages);
    const on = await optimiseContext(req(...messages), policy({ cleanup: true, includeSystem: true, includeToolResults: true }));
    expect(text(on, 0)).toBe('Rules\n<document>one</document>\n\nend');
    // The same document again, now in the tool result: a duplicate across the prompt, so it goes.
    expect(text(on, 3)).toBe('Rules\n\nend');
  });

  it('cleans up: duplicate documents, boilerplate lines repeated across documents, trailing spaces and blank-line runs', async () => {
    const boiler = 'Copyright 2026 Example Corp. All rights reserved.';
    const docs = [`Alpha facts.\n${boiler}`, `Beta facts.   \n${boiler}`, `Gamma facts.\n${boiler}`, 'Alpha facts.\n' + boiler];
    const out = await optimiseContext(req({ role: 'user', content: `Q\n\n\n\n${rag('', docs)}` }), policy({ cleanup: true }));
    expect(text(out)).toBe(`Q\n\n<document id="0">Alpha facts.\n${boiler}</document>\n<document id="1">Beta facts.</document>\n<document id="2">Gamma facts.</document>\n`);
    expect(out.stats.documentsKept).toBe(3);
  });

  it('trims old turns beyond the history budget with a marker, never splitting a tool call from its result', async () => {
    const long = 'word '.repeat(300);
    const messages: ChatMessage[] = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: long },
      { role: 'assistant', content: long },
      { role: 'user', content: 'short' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'now?' },
    ];
    const out = await optimiseContext(req(...messages), policy({ historyMaxTokens: 100 }));
    expect(out.request.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'system', content: '[2 earlier messages omitted to fit the context budget]' },
      { role: 'user', content: 'short' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'now?' },
    ]);
    expect(out.stats.messagesDropped).toBe(2);
    const tools: ChatMessage[] = [
      { role: 'user', content: long },
      { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't', content: long },
      { role: 'user', content: 'next' },
    ];
    const kept = await optimiseContext(req(...tools), policy({ historyMaxTokens: 10 }));
    expect(kept.request.messages.map((m) => m.role)).toEqual(['system', 'assistant', 'tool', 'user']);
  });

  it('re-ranks documents inside text content parts and leaves image parts alone', async () => {
    const content = [
      { type: 'text' as const, text: rag('Where is the Louvre?', ['The Louvre is in Paris.', 'Cats sleep a lot.']) },
      { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,AAAA' } },
    ];
    const out = await optimiseContext(req({ role: 'user', content }), policy({ rerankBudget: 0.6 }));
    const parts = out.request.messages[0].content as typeof content;
    expect(parts[0].text).not.toContain('Cats');
    expect(parts[1]).toEqual(content[1]);
  });
});

describe('contextPolicyFor', () => {
  const p = (tenant?: string, feature?: string) => ({ tenant, feature, rerankBudget: 0.4, minChunks: 1, cleanup: true, includeSystem: false, includeToolResults: false });

  it('picks the most specific policy, and none when nothing matches', () => {
    const policies = [p(), p('acme'), p(undefined, 'rag'), p('acme', 'rag')];
    expect(contextPolicyFor(policies, 'acme', 'rag')).toBe(policies[3]);
    expect(contextPolicyFor(policies, 'acme', 'chat')).toBe(policies[1]);
    expect(contextPolicyFor(policies, 'globex', 'rag')).toBe(policies[2]);
    expect(contextPolicyFor(policies, 'globex', 'chat')).toBe(policies[0]);
    expect(contextPolicyFor([p('acme')], 'globex', 'chat')).toBeUndefined();
  });
});

describe('evaluateContext', () => {
  it('measures token reduction and answer retention on hand-made rows', async () => {
    const rows = [
      { question: 'Who painted the Mona Lisa?', chunks: ['Leonardo da Vinci painted the Mona Lisa.', 'Stock markets fell sharply on Monday amid rate fears.'], answer_chunk_ids: [0] },
      { question: 'What is the boiling point of water?', chunks: ['Granite is an igneous rock common in continental crust.', 'Water boils at 100 degrees Celsius at sea level.'], answer_chunk_ids: [1] },
    ];
    const r = await evaluateContext(rows, policy({ rerankBudget: 0.55 }));
    expect(r).toEqual({ token_reduction: expect.any(Number), answer_kept_any: 1, answer_kept_all: 1, rows: 2 });
    expect(r.token_reduction).toBeGreaterThan(0.4);
  });
});
