import type { ProviderConfig } from '../core/config/schema';
import type { ChatCompletion } from '../core/openai/types';
import { ProviderError, type ChatProvider, type EmbeddingCall, type EmbeddingResponse, type ProviderCall, type ProviderResponse, type ProviderStreamEvent } from '../core/ports';
import { embeddingsProblem } from '../core/openai/embeddings';
import { httpPost, type HttpResponse } from './http-client';
import { answerLimits, type AnswerLimits } from './stream-limits';
import { withTimeout } from './http-errors';
import { openAiChunkEvents, type SseEvent } from './sse-reader';
import { jsonEvents, nativeResponse, openEventStream, readJsonAnswer, upstreamFailure } from './upstream-http';
import { readResponsesEvent, readResponsesUsage, responseToCompletion } from '../core/formats/responses-upstream';
import { readOpenAiUsage } from '../core/openai/usage';

type HttpProviderConfig = Extract<ProviderConfig, { type: 'openai-compatible' | 'azure-openai' }>;

/**
 * The field a server reads the output cap from when the client named none: OpenAI's own API and Azure OpenAI take
 * `max_completion_tokens` (reasoning models refuse `max_tokens`); other OpenAI-compatible servers are safest with
 * `max_tokens`. A provider's `outputCapParam` overrides it.
 */
export function defaultOutputCapParam(config: ProviderConfig): OutputCapParam {
  if (config.type === 'azure-openai') return config.outputCapParam ?? 'max_completion_tokens';
  if (config.type !== 'openai-compatible') return 'max_tokens';
  return config.outputCapParam ?? (new URL(config.baseUrl).hostname === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens');
}

export type OutputCapParam = 'max_tokens' | 'max_completion_tokens';

/**
 * The upstream request body: the client's body with the upstream model, the output cap (always: the client's clamped
 * to the model, else the reservation's, in the field the client used or the provider's default) and, for streams,
 * a request for the final usage chunk. `model` undefined leaves it out (SageMaker endpoints take no model).
 */
export function openAiUpstreamBody(call: ProviderCall, stream: boolean, model: string | undefined, capParam: OutputCapParam = 'max_tokens'): Record<string, unknown> {
  const { max_tokens: mt, max_completion_tokens: mct, stream: _s, stream_options: _so, model: _m, ...rest } = call.request;
  const body: Record<string, unknown> = { ...rest };
  if (model !== undefined) body.model = model;
  const field: OutputCapParam = mct !== undefined ? 'max_completion_tokens' : mt !== undefined ? 'max_tokens' : capParam;
  body[field] = call.maxTokens;
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}

/** The data of each event (chat-completions streams name none). */
async function* dataOf(events: AsyncIterable<SseEvent>): AsyncGenerator<string> {
  for await (const e of events) yield e.data;
}

/**
 * A Responses request's body as it came, with the upstream model, the output cap the reservation priced, `stream`,
 * and the service tier the gateway decided (a serviceTiers policy's, or the client's own; none where it was dropped).
 */
export function responsesUpstreamBody(call: ProviderCall, stream: boolean): Record<string, unknown> {
  const { stream: _s, service_tier: _t, ...rest } = call.native!.body;
  const tier = call.request.service_tier;
  return {
    ...rest, model: call.model.config.upstreamModel, max_output_tokens: call.maxTokens, ...(stream ? { stream: true } : {}),
    ...(typeof tier === 'string' ? { service_tier: tier } : {}),
  };
}

/**
 * A Responses event stream as provider events: every event forwarded as native, the final usage (response.completed
 * or response.incomplete) as a usage event; `response.failed` and `error` events fail the stream.
 */
async function* responsesStreamEvents(events: AsyncIterable<SseEvent>, what: string, onDone: () => void): AsyncGenerator<ProviderStreamEvent> {
  for await (const { event, data } of jsonEvents(events, what)) {
    const step = readResponsesEvent(data);
    if (step.failure !== undefined) throw new ProviderError(`${what} stream error: ${step.failure}`, 'server');
    yield { type: 'native', api: 'responses', event: typeof data.type === 'string' ? data.type : event, data, text: step.text };
    if (step.usage && (step.usage.usage || step.usage.problem)) yield { type: 'usage', ...step.usage, ...(step.serviceTier ? { serviceTier: step.serviceTier } : {}) };
    if (step.final) {
      onDone();
      return;
    }
  }
  throw new ProviderError(`${what} ended its stream before response.completed`, 'server');
}

/**
 * Any server speaking OpenAI's chat-completions API: OpenAI, Azure OpenAI deployments (api-version, api-key header),
 * Anthropic's OpenAI-compatible endpoint, vLLM, Ollama, llama.cpp. Streams always ask for the final usage chunk.
 */
export class OpenAiCompatibleProvider implements ChatProvider {
  private readonly baseUrl: string;
  /** Parsed once: every call of a plain OpenAI-compatible provider posts to the same URL. */
  private readonly chatUrl: URL | undefined;
  private readonly capParam: OutputCapParam;

  private readonly limits: AnswerLimits;

  constructor(
    private readonly config: HttpProviderConfig,
    private readonly apiKey: string | undefined,
    maxAnswerBytes?: number,
  ) {
    this.limits = answerLimits(config, maxAnswerBytes);
    this.baseUrl = (config.type === 'azure-openai' ? config.endpoint : config.baseUrl).replace(/\/+$/, '');
    this.chatUrl = config.type === 'azure-openai' ? undefined : new URL(`${this.baseUrl}/chat/completions`);
    this.capParam = defaultOutputCapParam(config);
  }

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    if (call.native?.api === 'responses') return this.completeResponses(call);
    return withTimeout(`${this.config.id}/${call.model.id}`, this.config.timeoutMs, call.signal, async (signal) => {
      const res = await this.post(call, false, signal);
      const completion = await this.readJson<ChatCompletion>(res);
      if (!completion || !Array.isArray(completion.choices)) {
        throw new ProviderError(`${this.config.id} returned a body without choices`, 'server', res.status);
      }
      const reading = readOpenAiUsage(completion.usage);
      return {
        completion,
        usage: reading.usage,
        usageProblem: reading.problem,
        ...(typeof completion.service_tier === 'string' ? { serviceTier: completion.service_tier } : {}),
      };
    });
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const what = `${this.config.id}/${call.model.id}`;
    const responses = call.native?.api === 'responses';
    const stream = await openEventStream(what, this.config.id, this.config.timeoutMs, call.signal, this.limits, (signal) => (responses
      ? this.send(this.responsesUrl(), JSON.stringify(responsesUpstreamBody(call, true)), true, signal)
      : this.post(call, true, signal)));
    try {
      if (responses) yield* responsesStreamEvents(stream.events, what, stream.done);
      else yield* openAiChunkEvents(dataOf(stream.events), what, stream.done);
    } catch (err) {
      if (err instanceof ProviderError || call.signal.aborted) throw err;
      throw new ProviderError(`${what} stream broke: ${(err as Error).message}`, 'network', undefined, undefined, { cause: err });
    } finally {
      stream.release();
    }
  }

  /**
   * `POST /embeddings` (Azure: the deployment's embeddings path): floats always asked for (the gateway encodes base64
   * itself), the answer checked (one finite vector per input, in `index` order, one size) and its usage read like a
   * chat answer's (`prompt_tokens`).
   */
  async embed(call: EmbeddingCall): Promise<EmbeddingResponse> {
    const what = `${this.config.id}/${call.model.id}`;
    return withTimeout(what, this.config.timeoutMs, call.signal, async (signal) => {
      const body: Record<string, unknown> = { input: call.input, encoding_format: 'float' };
      if (this.config.type !== 'azure-openai') body.model = call.model.config.upstreamModel;
      if (call.dimensions !== undefined) body.dimensions = call.dimensions;
      if (call.user !== undefined) body.user = call.user;
      const url = this.config.type === 'azure-openai'
        ? new URL(`${this.baseUrl}/openai/deployments/${encodeURIComponent(call.model.config.upstreamModel)}/embeddings?api-version=${encodeURIComponent(this.config.apiVersion)}`)
        : new URL(`${this.baseUrl}/embeddings`);
      const res = await this.send(url, JSON.stringify(body), false, signal);
      const parsed = await this.readJson<{ data?: unknown; usage?: unknown }>(res);
      const data = Array.isArray(parsed?.data) ? [...(parsed.data as { index?: unknown; embedding?: unknown }[])] : undefined;
      // Servers may answer out of order: `index` says which input each vector belongs to.
      if (data?.every((d) => typeof d?.index === 'number')) data.sort((a, b) => (a.index as number) - (b.index as number));
      const vectors = data?.map((d) => d?.embedding);
      const problem = embeddingsProblem(vectors, call.input.length, call.dimensions);
      if (problem) throw new ProviderError(`${what} returned bad embeddings: ${problem}`, 'server', res.status);
      const reading = readOpenAiUsage(parsed.usage);
      return { vectors: vectors as number[][], usage: reading.usage, ...(reading.problem ? { usageProblem: reading.problem } : {}) };
    });
  }

  /** `POST /responses` with the client's own body (the upstream model and output cap in place). */
  private async completeResponses(call: ProviderCall): Promise<ProviderResponse> {
    const what = `${this.config.id}/${call.model.id}`;
    return withTimeout(what, this.config.timeoutMs, call.signal, async (signal) => {
      const res = await this.send(this.responsesUrl(), JSON.stringify(responsesUpstreamBody(call, false)), false, signal);
      const body = await this.readJson<Record<string, unknown>>(res);
      const created = Math.floor(Date.now() / 1000);
      return nativeResponse(what, res.status, body, 'responses', true, { view: (r) => responseToCompletion(r, call.model.id, created), usage: readResponsesUsage });
    });
  }

  private responsesUrl(): URL {
    return new URL(`${this.baseUrl}/responses`);
  }

  private readJson<T>(res: HttpResponse): Promise<T> {
    return readJsonAnswer<T>(this.config.id, res, this.limits.maxBytes);
  }

  private url(call: ProviderCall): URL {
    if (this.config.type === 'azure-openai') {
      return new URL(`${this.baseUrl}/openai/deployments/${encodeURIComponent(call.model.config.upstreamModel)}/chat/completions?api-version=${encodeURIComponent(this.config.apiVersion)}`);
    }
    return this.chatUrl!;
  }

  private post(call: ProviderCall, stream: boolean, signal: AbortSignal): Promise<HttpResponse> {
    return this.send(this.url(call), JSON.stringify(openAiUpstreamBody(call, stream, call.model.config.upstreamModel, this.capParam)), stream, signal);
  }

  private async send(url: URL, body: string, stream: boolean, signal: AbortSignal): Promise<HttpResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(this.config.type === 'openai-compatible' ? this.config.headers : {}) };
    if (this.apiKey) {
      if (this.config.type === 'azure-openai') headers['api-key'] = this.apiKey;
      else headers.authorization = `Bearer ${this.apiKey}`;
    }
    if (stream) headers.accept = 'text/event-stream';
    const res = await httpPost(url, headers, body, signal);
    if (res.status < 200 || res.status > 299) throw await upstreamFailure(this.config.id, res);
    return res;
  }
}
