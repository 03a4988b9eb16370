import type { ChatCompletionChunk, Usage } from '../core/openai/types';
import { ProviderError, type ProviderStreamEvent } from '../core/ports';
import type { TokenUsage } from '../core/pricing/prices';

/** Yields the `data:` payloads of a server-sent-events byte stream, joined per event as the SSE spec says. */
export async function* readSseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  for await (const bytes of body) {
    buf += decoder.decode(bytes, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line[5] === ' ' ? 6 : 5));
      }
    }
  }
  buf += decoder.decode();
  if (buf.startsWith('data:')) data.push(buf.slice(buf[5] === ' ' ? 6 : 5).replace(/\r?\n?$/, ''));
  if (data.length) yield data.join('\n');
}

/** OpenAI-style chunk payloads (until [DONE]) to provider events: content chunks, and the usage chunk as usage. */
export async function* openAiChunkEvents(payloads: AsyncIterable<string>, what: string): AsyncGenerator<ProviderStreamEvent> {
  for await (const data of payloads) {
    if (data === '[DONE]') return;
    let chunk: ChatCompletionChunk & { error?: { message?: string } };
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ProviderError(`${what} sent a malformed stream event`, 'server');
    }
    if (chunk.error) throw new ProviderError(`${what} stream error: ${chunk.error.message ?? 'unknown'}`, 'server');
    const usage = fromOpenAiUsage(chunk.usage);
    if (usage) yield { type: 'usage', usage };
    if (Array.isArray(chunk.choices) && chunk.choices.length > 0) {
      const { usage: _drop, ...rest } = chunk;
      yield { type: 'chunk', chunk: rest as ChatCompletionChunk };
    }
  }
}

/** OpenAI usage to ours: cached prompt tokens are split out and priced as cache reads. */
export function fromOpenAiUsage(u: Usage | undefined | null): TokenUsage | undefined {
  if (!u || typeof u.prompt_tokens !== 'number') return undefined;
  const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    inputTokens: Math.max(0, u.prompt_tokens - cached),
    outputTokens: u.completion_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}
