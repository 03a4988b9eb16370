import { scoreComplexity } from '../../../../lambda/core/routing/heuristic';
import type { ChatRequest } from '../../../../lambda/core/openai/types';

const req = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'auto', messages: [{ role: 'user', content }], ...extra });

describe('scoreComplexity', () => {
  it('scores greetings near zero', () => {
    expect(scoreComplexity(req('Hello!')).score).toBeLessThan(0.05);
  });

  it('scores a short factual question low', () => {
    expect(scoreComplexity(req('What is the capital of Peru?')).score).toBeLessThanOrEqual(0.1);
  });

  it('names the features that fired', () => {
    const s = scoreComplexity(req('Solve 3x + 5 = 20 step by step and return the result as JSON'));
    expect(s.features).toEqual(expect.arrayContaining(['math', 'reasoning', 'structured']));
  });

  it('stays within [0, 1] however many cues fire', () => {
    const long = `${'Analyze, compare, evaluate, design and justify. '.repeat(200)}\`\`\`def f(): return 1\`\`\` 2 + 2 = 4 JSON table`;
    const s = scoreComplexity(req(long, { tools: [{}] }));
    expect(s.score).toBeLessThanOrEqual(1);
    expect(s.score).toBeGreaterThan(0.6);
  });

  it('scores code above prose of the same length', () => {
    expect(scoreComplexity(req('```js\nconst x = items.map((i) => i * 2);\n```')).score)
      .toBeGreaterThan(scoreComplexity(req('Tell me a nice short poem about the sea.')).score);
  });
});
