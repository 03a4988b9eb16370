import type { ChatCompletionChunk } from '../core/openai/types';
import { readOpenAiUsage } from '../core/openai/usage';
import { ProviderError, type ProviderStreamEvent } from '../core/ports';

/** The longest SSE line or event the reader buffers (1 MiB): a stream without line breaks cannot grow memory without bound. */
export const MAX_SSE_EVENT_CHARS = 1024 * 1024;

/** Yields the `data:` payloads of a server-sent-events byte stream, joined per event as the SSE spec says. */
export async function* readSseData(body: AsyncIterable<Uint8Array>, maxEventChars = MAX_SSE_EVENT_CHARS): AsyncGenerator<string> {
  for await (const ev of readSseEvents(body, maxEventChars)) yield ev.data;
}

/** One server-sent event: its `event:` name ('message' when none) and its joined `data:` lines. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Yields the events of a server-sent-events byte stream (Anthropic and Responses streams name each event). */
export async function* readSseEvents(body: AsyncIterable<Uint8Array>, maxEventChars = MAX_SSE_EVENT_CHARS): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  let dataChars = 0;
  let event = '';
  for await (const bytes of body) {
    buf += decoder.decode(bytes, { stream: true });
    if (buf.length > maxEventChars && buf.indexOf('\n') < 0) throw new ProviderError(`stream line longer than ${maxEventChars} characters`, 'server');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) yield { event: event || 'message', data: data.join('\n') };
        data = [];
        dataChars = 0;
        event = '';
      } else if (line.startsWith('event:')) {
        event = line.slice(line[6] === ' ' ? 7 : 6);
      } else if (line.startsWith('data:')) {
        const piece = line.slice(line[5] === ' ' ? 6 : 5);
        dataChars += piece.length;
        if (dataChars > maxEventChars) throw new ProviderError(`stream event longer than ${maxEventChars} characters`, 'server');
        data.push(piece);
      }
    }
  }
  buf += decoder.decode();
  if (buf.startsWith('data:')) data.push(buf.slice(buf[5] === ' ' ? 6 : 5).replace(/\r?\n?$/, ''));
  if (data.length) yield { event: event || 'message', data: data.join('\n') };
}

/**
 * OpenAI-style chunk payloads (until [DONE]) to provider events: content chunks, and every usage report as a usage
 * event (checked: a bad report arrives as a problem). The service tier the upstream reports travels with it.
 * `onDone` is called when [DONE] arrives, before the events end: the caller may then let the connection finish.
 */
export async function* openAiChunkEvents(payloads: AsyncIterable<string>, what: string, onDone?: () => void): AsyncGenerator<ProviderStreamEvent> {
  let serviceTier: string | undefined;
  let events = 0;
  for await (const data of payloads) {
    if (data === '[DONE]') {
      onDone?.();
      return;
    }
    events++;
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
      // Without a usage report (none, or null) the chunk goes on as parsed, with its text for a pass-through; one
      // that carries a report is copied without it (the report becomes the usage event below).
      if (chunk.usage === undefined || chunk.usage === null) yield { type: 'chunk', chunk, raw: data };
      else {
        const { usage: _report, ...rest } = chunk;
        yield { type: 'chunk', chunk: rest as ChatCompletionChunk };
      }
    }
    // After the chunk it came with: a server that reports running usage on every chunk counts that chunk's text.
    const reading = readOpenAiUsage(chunk.usage);
    if (reading.usage || reading.problem) yield { type: 'usage', ...reading, ...(serviceTier ? { serviceTier } : {}) };
  }
  // A 200 whose body held no event at all (an HTML page, garbage, nothing) is a failure, never an empty answer.
  if (events === 0) throw new ProviderError(`${what} answered 200 but sent no stream event`, 'server');
}
