import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type ResponseStream,
  type ContentBlock,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type ConverseStreamOutput,
  type Message,
  type SystemContentBlock,
  type TokenUsage as BedrockUsage,
  type Tool,
  type ToolChoice,
} from '@aws-sdk/client-bedrock-runtime';
import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ContentPart } from '../core/openai/types';
import { messageText } from '../core/openai/types';
import { ProviderError, type ChatProvider, type EmbeddingCall, type EmbeddingResponse, type ProviderCall, type ProviderErrorKind, type ProviderResponse, type ProviderStreamEvent } from '../core/ports';
import { embeddingsProblem } from '../core/openai/embeddings';
import { cacheControlOf } from '../core/prompt-cache';
import { checkedUsage, type UsageReading } from '../core/pricing/prices';
import { AnthropicStreamReader, messageToCompletion, readAnthropicUsage, withOutputCap } from '../core/formats/anthropic-upstream';
import { openWithTimeout, withTimeout } from './http-errors';
import { nativeResponse } from './upstream-http';
import { answerLimits, boundedStream, type AnswerLimits } from './stream-limits';

const ERROR_KINDS: Record<string, ProviderErrorKind> = {
  ThrottlingException: 'throttled',
  ServiceQuotaExceededException: 'throttled',
  ModelNotReadyException: 'throttled',
  TooManyRequestsException: 'throttled',
  ServiceUnavailableException: 'server',
  InternalServerException: 'server',
  ModelErrorException: 'server',
  ModelStreamErrorException: 'server',
  ModelTimeoutException: 'timeout',
  AccessDeniedException: 'auth',
  ResourceNotFoundException: 'auth',
  UnrecognizedClientException: 'auth',
  ExpiredTokenException: 'auth',
  ValidationException: 'client',
};

function classify(err: unknown, what: string): unknown {
  if (err instanceof ProviderError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'AbortError') return err;
  const kind = (e?.name ? ERROR_KINDS[e.name] : undefined) ?? (e?.$metadata?.httpStatusCode && e.$metadata.httpStatusCode < 500 ? 'client' : 'server');
  return new ProviderError(`${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, kind, e?.$metadata?.httpStatusCode, undefined, { cause: err });
}

/** The tier the call asks Bedrock for (flex or priority; the gateway strips any other before the call). */
function bedrockTierOf(call: ProviderCall): 'flex' | 'priority' | undefined {
  const t = call.request.service_tier;
  return t === 'flex' || t === 'priority' ? t : undefined;
}

/** InvokeModel(WithResponseStream)'s input for a Messages request to Claude: the body, and the tier as a parameter. */
function invokeMessagesInput(call: ProviderCall, anthropicBetas: readonly string[] | undefined) {
  const tier = bedrockTierOf(call);
  return {
    modelId: call.model.config.upstreamModel, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(bedrockMessagesBody(call, anthropicBetas)),
    ...(tier ? { serviceTier: tier } : {}),
  };
}

const REPORTED_TIERS = new Set(['default', 'flex', 'priority', 'reserved']);

/** The tier Bedrock says it served at (Converse `serviceTier.type`, InvokeModel `serviceTier`), checked as untrusted input. */
export function reportedBedrockTier(t: unknown): string | undefined {
  const type = typeof t === 'object' && t !== null ? (t as { type?: unknown }).type : t;
  return typeof type === 'string' && REPORTED_TIERS.has(type) ? type : undefined;
}

const STOP_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
  model_context_window_exceeded: 'length',
};

/**
 * Bedrock's camelCase usage to ours, checked as untrusted input. 1-hour cache writes come from `cacheDetails` (the
 * TTL split of cacheWriteInputTokens) and are priced at their own rate.
 */
export function fromBedrockUsage(u: BedrockUsage | undefined): UsageReading {
  if (!u) return {};
  const oneHour = (u.cacheDetails ?? []).filter((d) => d.ttl === '1h').reduce((n, d) => n + (d.inputTokens ?? 0), 0);
  return checkedUsage({
    inputTokens: u.inputTokens ?? 0,
    outputTokens: u.outputTokens ?? 0,
    cacheReadTokens: u.cacheReadInputTokens ?? 0,
    cacheWriteTokens: u.cacheWriteInputTokens ?? 0,
    ...(oneHour ? { cacheWrite1hTokens: oneHour } : {}),
  });
}

/** The text and tool input an event carries, counted toward the answer size limit. */
function eventBytes(ev: ConverseStreamOutput): number {
  const d = ev.contentBlockDelta?.delta;
  return (d?.text?.length ?? 0) + (d?.toolUse?.input?.length ?? 0) + (d?.reasoningContent?.text?.length ?? 0);
}

const DATA_URL = /^data:image\/(png|jpeg|jpg|gif|webp);base64,(.*)$/s;

function partToBlock(part: ContentPart): ContentBlock {
  if (part.type === 'text') return { text: (part as { text: string }).text };
  if (part.type === 'image_url') {
    const url = (part as { image_url: { url: string } }).image_url.url;
    const m = DATA_URL.exec(url);
    if (!m) throw new ProviderError('Bedrock accepts images only as base64 data URLs (data:image/png;base64,...)', 'client');
    const format = (m[1] === 'jpg' ? 'jpeg' : m[1]) as 'png' | 'jpeg' | 'gif' | 'webp';
    return { image: { format, source: { bytes: Uint8Array.from(Buffer.from(m[2], 'base64')) } } };
  }
  throw new ProviderError(`Bedrock Converse does not accept '${part.type}' content parts through this gateway`, 'client');
}

/** A Converse cache point for a part's `cache_control` hint (the 1-hour TTL only when asked; else Bedrock's 5 minutes). */
function cachePointAfter(part: ContentPart): { cachePoint: { type: 'default'; ttl?: '1h' } } | undefined {
  const c = cacheControlOf(part);
  if (!c) return undefined;
  return { cachePoint: c.ttl === '1h' ? { type: 'default', ttl: '1h' } : { type: 'default' } };
}

function contentBlocks(m: ChatMessage): ContentBlock[] {
  if (m.content === null) return [];
  if (typeof m.content === 'string') return m.content.length ? [{ text: m.content }] : [];
  return m.content.flatMap((part) => {
    const point = cachePointAfter(part);
    return point ? [partToBlock(part), point as ContentBlock] : [partToBlock(part)];
  });
}

function parseArgs(args: string): Record<string, unknown> {
  try {
    const v = JSON.parse(args);
    return typeof v === 'object' && v !== null ? v : { value: v };
  } catch {
    throw new ProviderError('tool_calls[].function.arguments must be a JSON object for Bedrock', 'client');
  }
}

/** OpenAI chat request to a Converse input: system prompts lifted out, tool turns mapped, same-role turns merged. */
export function toConverseInput(call: ProviderCall): ConverseCommandInput {
  const system: SystemContentBlock[] = [];
  const messages: Message[] = [];
  const push = (role: 'user' | 'assistant', blocks: ContentBlock[]): void => {
    if (!blocks.length) return;
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content!.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of call.request.messages) {
    switch (m.role) {
      case 'system':
      case 'developer':
        if (Array.isArray(m.content) && m.content.some((p) => cacheControlOf(p))) {
          for (const part of m.content) {
            system.push({ text: (part as { text: string }).text });
            const point = cachePointAfter(part);
            if (point) system.push(point as SystemContentBlock);
          }
        } else system.push({ text: messageText(m.content) });
        break;
      case 'user':
        push('user', contentBlocks(m));
        break;
      case 'assistant': {
        const blocks = contentBlocks(m);
        for (const tc of m.tool_calls ?? []) {
          blocks.push({ toolUse: { toolUseId: tc.id, name: tc.function.name, input: parseArgs(tc.function.arguments) as never } });
        }
        push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [{ toolResult: { toolUseId: m.tool_call_id!, content: [{ text: messageText(m.content) }] } }]);
        break;
    }
  }
  const points = system.filter((b) => 'cachePoint' in b && b.cachePoint).length
    + messages.reduce((n, msg) => n + (msg.content ?? []).filter((b) => 'cachePoint' in b && b.cachePoint).length, 0);
  const maxPoints = call.model.promptCache?.maxPoints ?? 4;
  if (points > maxPoints) throw new ProviderError(`${points} cache_control hints; Bedrock takes at most ${maxPoints} cache points per request`, 'client', 400);
  const input: ConverseCommandInput = { modelId: call.model.config.upstreamModel, messages };
  if (system.length) input.system = system;
  const tier = bedrockTierOf(call);
  if (tier) input.serviceTier = { type: tier };
  const inference: NonNullable<ConverseCommandInput['inferenceConfig']> = {};
  inference.maxTokens = call.maxTokens;
  if (call.request.temperature !== undefined && call.request.temperature !== null) inference.temperature = call.request.temperature;
  if (call.request.top_p !== undefined && call.request.top_p !== null) inference.topP = call.request.top_p;
  const stop = call.request.stop;
  if (stop !== undefined && stop !== null) inference.stopSequences = typeof stop === 'string' ? [stop] : [...stop];
  if (Object.keys(inference).length) input.inferenceConfig = inference;
  if (call.request.tools?.length && call.request.tool_choice !== 'none') {
    const tools: Tool[] = (call.request.tools as { function: { name: string; description?: string; parameters?: unknown } }[]).map((t) => ({
      toolSpec: {
        name: t.function.name,
        description: t.function.description,
        inputSchema: { json: (t.function.parameters ?? { type: 'object', properties: {} }) as never },
      },
    }));
    let toolChoice: ToolChoice | undefined;
    const tc = call.request.tool_choice as string | { function?: { name?: string } } | undefined;
    if (tc === 'required') toolChoice = { any: {} };
    else if (tc === 'auto') toolChoice = { auto: {} };
    else if (typeof tc === 'object' && tc?.function?.name) toolChoice = { tool: { name: tc.function.name } };
    input.toolConfig = toolChoice ? { tools, toolChoice } : { tools };
  }
  return input;
}

/**
 * Top-level Messages fields Bedrock's InvokeModel body for Claude does not have: sent, they fail the request (400
 * "Extra inputs are not permitted"). Claude Code sends `metadata` on every request; the gateway has read it already
 * (the end user), so dropping it loses nothing Bedrock would have used.
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html,
 * and the same list in other gateways' Bedrock relays, read 2026-12-06.)
 */
const NOT_ON_BEDROCK = ['model', 'stream', 'metadata', 'service_tier', 'container', 'inference_geo'];
/** Fields Bedrock takes only with their beta flag in anthropic_beta; without it they are dropped, as the flag-less API would ignore them. */
const BETA_GATED: Readonly<Record<string, string>> = { context_management: 'context-management-2025-06-27', output_config: 'effort-2025-11-24' };

/**
 * A Messages request as InvokeModel takes it for Claude: the client's body without the fields Bedrock refuses,
 * Bedrock's `anthropic_version`, the output cap the reservation priced, and the client's anthropic-beta header as
 * `anthropic_beta`.
 */
export function bedrockMessagesBody(call: ProviderCall, allowedBetas?: readonly string[]): Record<string, unknown> {
  const betas = (call.native!.headers['anthropic-beta']?.split(',').map((b) => b.trim()).filter(Boolean) ?? [])
    // Claude Code's own markers mean nothing to the model, and Bedrock refuses flags it does not know.
    .filter((b) => (allowedBetas ? allowedBetas.includes(b) : !b.startsWith('claude-code-')));
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(call.native!.body)) {
    if (NOT_ON_BEDROCK.includes(k) || (BETA_GATED[k] && !betas.includes(BETA_GATED[k]))) continue;
    body[k] = v;
  }
  return { ...withOutputCap(body, call.maxTokens), anthropic_version: 'bedrock-2023-05-31', ...(betas.length ? { anthropic_beta: betas } : {}) };
}

/**
 * Amazon Bedrock through Converse and ConverseStream; Messages requests to Claude through InvokeModel (no loss). `upstreamModel` may be a foundation model id, a cross-region
 * inference profile id (us./eu./global.) or an application inference profile ARN.
 */
/**
 * A Converse response as the gateway's chat completion, usage and served tier: a live Converse call's, or one line of
 * a Bedrock batch job's output (`modelOutput` of a Converse job is a Converse response body).
 */
export function fromConverseOutput(out: Pick<ConverseCommandOutput, 'output' | 'stopReason' | 'usage' | 'serviceTier'>, modelId: string, id: string, nowMs: number): ProviderResponse {
  let text = '';
  const toolCalls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] = [];
  for (const block of out.output?.message?.content ?? []) {
    if (block.text !== undefined) text += block.text;
    if (block.toolUse) {
      toolCalls.push({ id: block.toolUse.toolUseId!, type: 'function', function: { name: block.toolUse.name!, arguments: JSON.stringify(block.toolUse.input ?? {}) } });
    }
  }
  const completion: ChatCompletion = {
    id,
    object: 'chat.completion',
    created: Math.floor(nowMs / 1000),
    model: modelId,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: text || (toolCalls.length ? null : ''), ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
      finish_reason: STOP_REASONS[out.stopReason ?? ''] ?? 'stop',
    }],
  };
  const reading = fromBedrockUsage(out.usage);
  const served = reportedBedrockTier(out.serviceTier);
  return { completion, usage: reading.usage, usageProblem: reading.problem, ...(served ? { serviceTier: served } : {}) };
}

export class BedrockProvider implements ChatProvider {
  constructor(
    private readonly client: BedrockRuntimeClient,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
    private readonly limits: AnswerLimits = answerLimits({ timeoutMs }),
    /** The anthropic-beta flags Claude on Bedrock may receive (provider `anthropicBetas`); undefined: all but claude-code-*. */
    private readonly anthropicBetas?: readonly string[],
  ) {}

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const what = `bedrock/${call.model.id}`;
    if (call.native?.api === 'messages') return this.invokeMessages(call, what);
    return withTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      let out;
      try {
        out = await this.client.send(new ConverseCommand(toConverseInput(call)), { abortSignal });
      } catch (err) {
        throw classify(err, what);
      }
      return fromConverseOutput(out, call.model.id, `chatcmpl-${out.$metadata.requestId ?? this.now().toString(36)}`, this.now());
    });
  }

  /**
   * Embeddings through InvokeModel. Titan Text Embeddings (V2: `dimensions` 256/512/1024, vectors normalised; V1) take
   * one text per call, so the inputs go as parallel calls (8 at a time) and the billed tokens are the sum of their
   * `inputTextTokenCount`. Cohere Embed (v3, v4) takes up to 96 texts per call as `search_document` and reports no
   * token count, so its tokens are estimated (flagged usage_missing). Token-id inputs are refused: Bedrock takes text.
   */
  async embed(call: EmbeddingCall): Promise<EmbeddingResponse> {
    const what = `bedrock/${call.model.id}`;
    const model = call.model.config.upstreamModel;
    if (typeof call.input[0] !== 'string') throw new ProviderError(`${what}: Bedrock embedding models take text, not token ids`, 'client', 400);
    const texts = call.input as readonly string[];
    const family = /cohere\.embed/.test(model) ? 'cohere' : /titan-embed/.test(model) ? 'titan' : undefined;
    if (!family) throw new ProviderError(`${what}: '${model}' is neither a Titan nor a Cohere embedding model; the gateway knows no other body`, 'client', 400);
    const titanV2 = family === 'titan' && /titan-embed-text-v2/.test(model);
    if (call.dimensions !== undefined && !(titanV2 && [256, 512, 1024].includes(call.dimensions)) && !(family === 'cohere' && /embed-v4/.test(model))) {
      throw new ProviderError(`${what}: dimensions ${call.dimensions} is not offered (Titan V2: 256, 512 or 1024; Cohere Embed v4: its output_dimension values)`, 'client', 400);
    }
    return withTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      const invoke = async (body: unknown): Promise<Record<string, unknown>> => {
        let out;
        try {
          out = await this.client.send(new InvokeModelCommand({ modelId: model, contentType: 'application/json', accept: 'application/json', body: JSON.stringify(body) }), { abortSignal });
        } catch (err) {
          throw classify(err, what);
        }
        try {
          return JSON.parse(new TextDecoder().decode(out.body)) as Record<string, unknown>;
        } catch {
          throw new ProviderError(`${what} returned a body that is not JSON`, 'server');
        }
      };
      let vectors: unknown[] = [];
      let usage: EmbeddingResponse['usage'];
      let usageProblem: string | undefined;
      if (family === 'titan') {
        const results: Record<string, unknown>[] = new Array(texts.length);
        let next = 0;
        const worker = async () => {
          while (next < texts.length) {
            const i = next++;
            results[i] = await invoke(titanV2 ? { inputText: texts[i], normalize: true, ...(call.dimensions ? { dimensions: call.dimensions } : {}) } : { inputText: texts[i] });
          }
        };
        await Promise.all(Array.from({ length: Math.min(8, texts.length) }, worker));
        vectors = results.map((r) => r.embedding);
        let tokens = 0;
        for (const r of results) {
          const n = r.inputTextTokenCount;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
            usageProblem = `inputTextTokenCount is ${JSON.stringify(n) ?? 'missing'}, not a non-negative integer`;
            break;
          }
          tokens += n;
        }
        if (!usageProblem) usage = { inputTokens: tokens, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
      } else {
        for (let i = 0; i < texts.length; i += 96) {
          const r = await invoke({
            texts: texts.slice(i, i + 96), input_type: 'search_document', embedding_types: ['float'], truncate: 'NONE',
            ...(call.dimensions ? { output_dimension: call.dimensions } : {}),
          });
          const e = r.embeddings as unknown;
          const batch = Array.isArray(e) ? e : (e as { float?: unknown } | undefined)?.float;
          if (!Array.isArray(batch)) throw new ProviderError(`${what} returned bad embeddings: no embeddings list`, 'server');
          vectors.push(...batch);
        }
      }
      const problem = embeddingsProblem(vectors, texts.length, call.dimensions);
      if (problem) throw new ProviderError(`${what} returned bad embeddings: ${problem}`, 'server');
      return { vectors: vectors as number[][], usage, ...(usageProblem ? { usageProblem } : {}) };
    });
  }

  /** Claude's own Messages body through InvokeModel: nothing translated, nothing lost. */
  private invokeMessages(call: ProviderCall, what: string): Promise<ProviderResponse> {
    return withTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      let out;
      try {
        out = await this.client.send(new InvokeModelCommand(invokeMessagesInput(call, this.anthropicBetas)), { abortSignal });
      } catch (err) {
        throw classify(err, what);
      }
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(new TextDecoder().decode(out.body));
      } catch {
        throw new ProviderError(`${what} returned a body that is not JSON`, 'server');
      }
      const created = Math.floor(this.now() / 1000);
      const res = nativeResponse(what, 200, msg, 'messages', true, { view: (m) => messageToCompletion(m, call.model.id, created), usage: readAnthropicUsage });
      const served = reportedBedrockTier(out.serviceTier);
      return served ? { ...res, serviceTier: served } : res;
    });
  }

  /** Claude's own Messages stream through InvokeModelWithResponseStream: each chunk is one Messages event. */
  private async *streamMessages(call: ProviderCall, what: string): AsyncGenerator<ProviderStreamEvent> {
    const { value: out, close } = await openWithTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      try {
        return await this.client.send(new InvokeModelWithResponseStreamCommand(invokeMessagesInput(call, this.anthropicBetas)), { abortSignal });
      } catch (err) {
        throw classify(err, what);
      }
    });
    const reader = new AnthropicStreamReader(call.model.id, Math.floor(this.now() / 1000));
    const decoder = new TextDecoder();
    const served = reportedBedrockTier(out.serviceTier);
    try {
      const events = boundedStream(out.body ?? emptyStream<ResponseStream>(), this.limits, what, close, (ev) => ev.chunk?.bytes?.length ?? 0);
      for await (const ev of events) {
        const failure = ev.internalServerException ?? ev.modelStreamErrorException ?? ev.validationException ?? ev.throttlingException ?? ev.modelTimeoutException ?? ev.serviceUnavailableException;
        if (failure) throw classify(failure, what);
        if (!ev.chunk?.bytes) continue;
        let data: Record<string, unknown>;
        try {
          data = JSON.parse(decoder.decode(ev.chunk.bytes));
        } catch {
          throw new ProviderError(`${what} sent a malformed stream event`, 'server');
        }
        const step = reader.read(data);
        if (step.error) throw new ProviderError(`${what} stream error: ${step.error.type}: ${step.error.message}`, 'server');
        // Bedrock's own invocation metrics ride on message_stop; the client gets the event as Anthropic sends it.
        const { 'amazon-bedrock-invocationMetrics': _metrics, ...event } = data;
        yield { type: 'native', api: 'messages', event: String(data.type), data: event, text: step.text };
        if (step.usage && (step.usage.usage || step.usage.problem)) yield { type: 'usage', ...step.usage, ...(served ? { serviceTier: served } : {}) };
      }
    } catch (err) {
      throw classify(err, what);
    } finally {
      close();
    }
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const what = `bedrock/${call.model.id}`;
    if (call.native?.api === 'messages') {
      yield* this.streamMessages(call, what);
      return;
    }
    const { value: out, close } = await openWithTimeout(what, this.timeoutMs, call.signal, async (abortSignal) => {
      try {
        return await this.client.send(new ConverseStreamCommand(toConverseInput(call)), { abortSignal });
      } catch (err) {
        throw classify(err, what);
      }
    });
    const base = { id: `chatcmpl-${out.$metadata.requestId ?? this.now().toString(36)}`, object: 'chat.completion.chunk' as const, created: Math.floor(this.now() / 1000), model: call.model.id };
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: string | null = null): ProviderStreamEvent => ({
      type: 'chunk',
      chunk: { ...base, choices: [{ index: 0, delta, finish_reason: finish }] },
    });
    const toolIndex = new Map<number, number>();
    try {
      const events = boundedStream(out.stream ?? emptyStream<ConverseStreamOutput>(), this.limits, what, close, eventBytes);
      for await (const ev of events) {
        const failure = ev.internalServerException ?? ev.modelStreamErrorException ?? ev.validationException ?? ev.throttlingException ?? ev.serviceUnavailableException;
        if (failure) throw classify(failure, what);
        if (ev.messageStart) yield chunk({ role: 'assistant', content: '' });
        else if (ev.contentBlockStart?.start?.toolUse) {
          const idx = toolIndex.size;
          toolIndex.set(ev.contentBlockStart.contentBlockIndex ?? 0, idx);
          const tu = ev.contentBlockStart.start.toolUse;
          yield chunk({ tool_calls: [{ index: idx, id: tu.toolUseId, type: 'function', function: { name: tu.name, arguments: '' } }] });
        } else if (ev.contentBlockDelta?.delta) {
          const d = ev.contentBlockDelta.delta;
          if (d.text !== undefined) yield chunk({ content: d.text });
          else if (d.toolUse) {
            yield chunk({ tool_calls: [{ index: toolIndex.get(ev.contentBlockDelta.contentBlockIndex ?? 0) ?? 0, function: { arguments: d.toolUse.input ?? '' } }] });
          }
        } else if (ev.messageStop) yield chunk({}, STOP_REASONS[ev.messageStop.stopReason ?? ''] ?? 'stop');
        else if (ev.metadata?.usage) {
          const served = reportedBedrockTier(ev.metadata.serviceTier);
          yield { type: 'usage', ...fromBedrockUsage(ev.metadata.usage), ...(served ? { serviceTier: served } : {}) };
        }
      }
    } catch (err) {
      throw classify(err, what);
    } finally {
      close();
    }
  }
}

async function* emptyStream<T>(): AsyncGenerator<T> {}
