import type { ChatCompletion, ChatCompletionChunk, Usage } from './types';
import type { TokenUsage } from '../pricing/prices';

export const SSE_DONE = 'data: [DONE]\n\n';

export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** `"key":` and the JSON of `value`, as a compact serialiser writes it. */
const member = (key: string, value: unknown): string => `"${key}":${JSON.stringify(value)}`;

/** Where `find` is in `text`, when it occurs exactly once. */
function onlyIndex(text: string, find: string): number | undefined {
  const at = text.indexOf(find);
  return at < 0 || text.indexOf(find, at + find.length) >= 0 ? undefined : at;
}

/** `text` with the one occurrence of `find` replaced, or undefined when it occurs zero or several times. */
function replaceOnce(text: string, find: string, by: string): string | undefined {
  const at = onlyIndex(text, find);
  return at === undefined ? undefined : text.slice(0, at) + by + text.slice(at + find.length);
}

/**
 * The SSE frame of an upstream chunk forwarded as it came, only its model name replaced by ours and a `"usage":null`
 * taken out (as the serialised path drops it: the client's bytes do not depend on the path), or undefined when that
 * cannot be done exactly on the text: no raw text, no model name or one written with spaces or other escapes, a
 * pattern found other than once. The caller then serialises the parsed chunk. Saves a JSON.stringify of every chunk.
 */
export function passThroughFrame(raw: string | undefined, chunk: { readonly model?: unknown }, model: string): string | undefined {
  if (raw === undefined || typeof chunk.model !== 'string') return undefined;
  let text = replaceOnce(raw, member('model', chunk.model), member('model', model));
  if (text !== undefined && text.includes('"usage":null')) {
    // Exactly one, with the comma that separates it from its neighbour.
    text = onlyIndex(text, '"usage":null') === undefined ? undefined : replaceOnce(text, ',"usage":null', '') ?? replaceOnce(text, '"usage":null,', '');
  }
  return text === undefined ? undefined : `data: ${text}\n\n`;
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
