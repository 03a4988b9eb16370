import type { ChatCompletionChunk } from '../core/openai/types';
import { readOpenAiUsage } from '../core/openai/usage';
import { ProviderError, type ProviderStreamEvent } from '../core/ports';

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

/**
 * OpenAI-style chunk payloads (until [DONE]) to provider events: content chunks, and every usage report as a usage
 * event (checked: a bad report arrives as a problem). The service tier the upstream reports travels with it.
 */
export async function* openAiChunkEvents(payloads: AsyncIterable<string>, what: string): AsyncGenerator<ProviderStreamEvent> {
  let serviceTier: string | undefined;
  for await (const data of payloads) {
    if (data === '[DONE]') return;
    let chunk: ChatCompletionChunk & { error?: { message?: string } };
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ProviderError(`${what} sent a malformed stream event`, 'server');
    }
    if (chunk === null || typeof chunk !== 'object') throw new ProviderError(`${what} sent a malformed stream event`, 'server');
    if (chunk.error) throw new ProviderError(`${what} stream error: ${chunk.error.message ?? 'unknown'}`, 'server');
    if (typeof chunk.service_tier === 'string') serviceTier = chunk.service_tier;
    if (Array.isArray(chunk.choices) && chunk.choices.length > 0) {
      const { usage: _drop, ...rest } = chunk;
      yield { type: 'chunk', chunk: rest as ChatCompletionChunk };
    }
    // After the chunk it came with: a server that reports running usage on every chunk counts that chunk's text.
    const reading = readOpenAiUsage(chunk.usage);
    if (reading.usage || reading.problem) yield { type: 'usage', ...reading, ...(serviceTier ? { serviceTier } : {}) };
  }
}
