import type { ProviderConfig } from '../core/config/schema';
import { AnthropicStreamReader, chatToMessagesBody, messageToCompletion, readAnthropicUsage, withOutputCap } from '../core/formats/anthropic';
import { ProviderError, type ChatProvider, type ProviderCall, type ProviderResponse, type ProviderStreamEvent } from '../core/ports';
import { BodyTooLargeError, httpPost, readText, releaseAfterDone, type HttpResponse } from './http-client';
import { kindForStatus, openWithTimeout, parseRetryAfter, withTimeout } from './http-errors';
import { readSseEvents } from './sse-reader';
import { answerLimits, boundedStream, type AnswerLimits } from './stream-limits';

type AnthropicConfig = Extract<ProviderConfig, { type: 'anthropic' }>;

/** The Messages API version sent when the client named none (a chat or Responses request). */
export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * The upstream body of a call: a Messages request passes through as it came (only the upstream model and the output
 * cap replaced: the cap the reservation priced); a chat or Responses request is translated.
 */
export function anthropicUpstreamBody(call: ProviderCall, stream: boolean): Record<string, unknown> {
  const model = call.model.config.upstreamModel;
  if (call.native?.api === 'messages') {
    const { stream: _s, ...rest } = call.native.body;
    return { ...withOutputCap(rest, call.maxTokens), model, ...(stream ? { stream: true } : {}) };
  }
  return chatToMessagesBody(call.request, model, call.maxTokens, stream);
}

/**
 * Anthropic's Messages API (or any server speaking it): Messages requests pass through with no loss (thinking,
 * signatures, documents, server tools, betas); chat and Responses requests are translated. Usage comes from the
 * message's `usage` (JSON) or from message_start and message_delta (stream), 1-hour cache writes included.
 */
export class AnthropicProvider implements ChatProvider {
  private readonly url: URL;
  private readonly limits: AnswerLimits;

  constructor(
    private readonly config: AnthropicConfig,
    private readonly apiKey: string | undefined,
    maxAnswerBytes?: number,
    private readonly now: () => number = Date.now,
  ) {
    this.url = new URL(`${config.baseUrl.replace(/\/+$/, '')}/v1/messages`);
    this.limits = answerLimits(config, maxAnswerBytes);
  }

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const what = `${this.config.id}/${call.model.id}`;
    return withTimeout(what, this.config.timeoutMs, call.signal, async (signal) => {
      const res = await this.send(call, false, signal);
      let text: string;
      try {
        text = await readText(res, this.limits.maxBytes);
      } catch (err) {
        if (err instanceof BodyTooLargeError) throw new ProviderError(`${what} answer is larger than ${err.maxBytes} bytes`, 'server', res.status);
        throw err;
      }
      let msg: Record<string, unknown>;
      let completion;
      try {
        msg = JSON.parse(text);
        completion = messageToCompletion(msg, call.model.id, Math.floor(this.now() / 1000));
      } catch (err) {
        throw new ProviderError(`${what} returned an answer that is not a Message: ${(err as Error).message}`, 'server', res.status);
      }
      const reading = readAnthropicUsage(msg.usage);
      return {
        completion,
        usage: reading.usage,
        usageProblem: reading.problem,
        ...(call.native ? { native: { api: 'messages' as const, body: msg } } : {}),
      };
    });
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const what = `${this.config.id}/${call.model.id}`;
    const { value: res, close, detach } = await openWithTimeout(what, this.config.timeoutMs, call.signal, async (signal) => {
      const r = await this.send(call, true, signal);
      const type = String(r.headers['content-type'] ?? '');
      if (type && !/^text\/event-stream\b/i.test(type)) {
        const snippet = (await readText(r, 4096).catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
        throw new ProviderError(`${this.config.id} answered a stream request with ${type.split(';')[0]}: ${snippet}`, 'server', r.status);
      }
      return r;
    });
    let done = false;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (done || res.body.readableEnded) releaseAfterDone(res.body, close, detach, this.limits.idleMs);
      else close();
    };
    const reader = new AnthropicStreamReader(call.model.id, Math.floor(this.now() / 1000));
    let events = 0;
    try {
      // The idle limit counts events, not bytes: an upstream dripping a byte at a time cannot hold the stream open.
      const raw = readSseEvents(res.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>);
      for await (const ev of boundedStream(raw, this.limits, what, release, (e) => e.data.length)) {
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(ev.data);
        } catch {
          throw new ProviderError(`${what} sent a malformed stream event`, 'server');
        }
        if (data === null || typeof data !== 'object') throw new ProviderError(`${what} sent a malformed stream event`, 'server');
        events++;
        const step = reader.read(data);
        if (step.error) throw new ProviderError(`${what} stream error: ${step.error.type}: ${step.error.message}`, step.error.type === 'overloaded_error' ? 'throttled' : 'server');
        if (call.native) yield { type: 'native', api: 'messages', event: ev.event === 'message' ? String(data.type) : ev.event, data, text: step.text };
        else for (const chunk of step.chunks) yield { type: 'chunk', chunk };
        if (step.usage && (step.usage.usage || step.usage.problem)) yield { type: 'usage', ...step.usage };
        if (data.type === 'message_stop') {
          done = true;
          return;
        }
      }
      if (events === 0) throw new ProviderError(`${what} answered 200 but sent no stream event`, 'server');
      throw new ProviderError(`${what} ended its stream before message_stop`, 'server');
    } catch (err) {
      if (err instanceof ProviderError || call.signal.aborted) throw err;
      throw new ProviderError(`${what} stream broke: ${(err as Error).message}`, 'network', undefined, undefined, { cause: err });
    } finally {
      release();
    }
  }

  private async send(call: ProviderCall, stream: boolean, signal: AbortSignal): Promise<HttpResponse> {
    const native = call.native?.api === 'messages' ? call.native.headers : {};
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...this.config.headers,
      'anthropic-version': native['anthropic-version'] ?? ANTHROPIC_VERSION,
      ...(native['anthropic-beta'] ? { 'anthropic-beta': native['anthropic-beta'] } : {}),
    };
    if (this.apiKey) headers['x-api-key'] = this.apiKey;
    if (stream) headers.accept = 'text/event-stream';
    const res = await httpPost(this.url, headers, JSON.stringify(anthropicUpstreamBody(call, stream)), signal);
    if (res.status < 200 || res.status > 299) {
      const text = await readText(res, 64 * 1024).catch(() => '');
      let message = text.slice(0, 500);
      try {
        message = JSON.parse(text)?.error?.message ?? message;
      } catch {
        // Not JSON: keep the raw text.
      }
      const retryAfter = res.headers['retry-after'];
      throw new ProviderError(
        `${this.config.id} answered ${res.status}: ${message}`,
        res.status === 529 ? 'throttled' : kindForStatus(res.status),
        res.status,
        parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
      );
    }
    return res;
  }
}
