import type { ChatCompletion, ChatCompletionChunk, Usage } from './types';
import type { TokenUsage } from '../pricing/prices';

export const SSE_DONE = 'data: [DONE]\n\n';

export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** OpenAI usage block: prompt_tokens counts every input token, cached ones included, as OpenAI does. */
export function toOpenAiUsage(u: TokenUsage): Usage {
  const prompt = u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.outputTokens,
    total_tokens: prompt + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens },
  };
}

/** Replays a stored completion as a stream (cache hits for `stream: true` requests). */
export function completionToChunks(c: ChatCompletion, model: string): ChatCompletionChunk[] {
  const base = { id: c.id, object: 'chat.completion.chunk' as const, created: c.created, model };
  const choice = c.choices[0];
  const chunks: ChatCompletionChunk[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
  if (choice?.message.content) {
    chunks.push({ ...base, choices: [{ index: 0, delta: { content: choice.message.content }, finish_reason: null }] });
  }
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: choice?.finish_reason ?? 'stop' }] });
  return chunks;
}
