import type { ProviderConfig } from '../core/config/schema';
import { AnthropicStreamReader, chatToMessagesBody, messageToCompletion, readAnthropicUsage, withOutputCap } from '../core/formats/anthropic-upstream';
import { ProviderError, type ChatProvider, type ProviderCall, type ProviderResponse, type ProviderStreamEvent } from '../core/ports';
import { httpPost, type HttpResponse } from './http-client';
import { jsonEvents, nativeResponse, openEventStream, readJsonAnswer, upstreamFailure } from './upstream-http';
import { withTimeout } from './http-errors';
import { answerLimits, type AnswerLimits } from './stream-limits';

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
      const msg = await readJsonAnswer<Record<string, unknown>>(this.config.id, res, this.limits.maxBytes);
      const created = Math.floor(this.now() / 1000);
      return nativeResponse(what, res.status, msg, 'messages', call.native !== undefined, { view: (m) => messageToCompletion(m, call.model.id, created), usage: readAnthropicUsage });
    });
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const what = `${this.config.id}/${call.model.id}`;
    const stream = await openEventStream(what, this.config.id, this.config.timeoutMs, call.signal, this.limits, (signal) => this.send(call, true, signal));
    const reader = new AnthropicStreamReader(call.model.id, Math.floor(this.now() / 1000));
    try {
      for await (const { event, data } of jsonEvents(stream.events, what)) {
        const step = reader.read(data);
        if (step.error) throw new ProviderError(`${what} stream error: ${step.error.type}: ${step.error.message}`, step.error.type === 'overloaded_error' ? 'throttled' : 'server');
        if (call.native) yield { type: 'native', api: 'messages', event: event === 'message' ? String(data.type) : event, data, text: step.text };
        else for (const chunk of step.chunks) yield { type: 'chunk', chunk };
        if (step.usage && (step.usage.usage || step.usage.problem)) yield { type: 'usage', ...step.usage };
        if (data.type === 'message_stop') {
          stream.done();
          return;
        }
      }
      throw new ProviderError(`${what} ended its stream before message_stop`, 'server');
    } catch (err) {
      if (err instanceof ProviderError || call.signal.aborted) throw err;
      throw new ProviderError(`${what} stream broke: ${(err as Error).message}`, 'network', undefined, undefined, { cause: err });
    } finally {
      stream.release();
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
    if (res.status < 200 || res.status > 299) throw await upstreamFailure(this.config.id, res);
    return res;
  }
}
