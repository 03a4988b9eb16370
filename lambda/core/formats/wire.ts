import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../openai/types';
import type { TokenUsage } from '../pricing/prices';

/**
 * The wire formats the gateway serves (ARCHITECTURE section 1, "front doors"): OpenAI chat completions, the Anthropic
 * Messages API and the OpenAI Responses API. Each has a codec: it decodes a request into the pipeline's request
 * model (a chat request, the "view") and encodes answers, stream events and errors back into its own shape.
 */
export type Api = 'chat' | 'messages' | 'responses';

/** The client's own body, kept for an upstream that speaks the same format (passed through with no loss). */
export interface NativeRequest {
  readonly api: 'messages' | 'responses';
  readonly body: Readonly<Record<string, unknown>>;
  /** Request headers an upstream of the same format understands (anthropic-version, anthropic-beta). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A request decoded by a codec. */
export interface Decoded {
  /** The pipeline's view: routing, estimates, cache keys and translated upstream calls read this. */
  readonly request: ChatRequest;
  readonly native?: NativeRequest;
  /**
   * What the view cannot carry to an upstream of another format (documents, server tools, unknown block types): a
   * model whose provider would need a lossy translation is taken out of the route, and a request no model of its
   * route can carry is refused with 400 naming these.
   */
  readonly lossy: readonly string[];
  /** The client's end-user id (chat `user`, Messages `metadata.user_id`, Responses `safety_identifier` / `user`). */
  readonly endUser?: string;
}

/** A native answer an upstream of the request's own format returned (the Anthropic message, the Responses object). */
export interface NativeAnswer {
  readonly api: 'messages' | 'responses';
  readonly body: Readonly<Record<string, unknown>>;
}

/** One native stream event, forwarded as it came (only the model name rewritten). */
export interface NativeStreamEvent {
  readonly type: 'native';
  readonly api: 'messages' | 'responses';
  /** SSE event name (message_start, response.output_text.delta, ...). */
  readonly event: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** Answer text this event adds (text, tool input, thinking), for an estimate when no usage arrives. */
  readonly text: string;
}

/** What a finished answer's encoder needs beside the completion view. */
export interface AnswerFacts {
  readonly model: string;
  readonly usage: TokenUsage;
  readonly native?: NativeAnswer;
  /** The gateway's own block (cost, quota, cache): chat puts it in its final usage chunk. */
  readonly finops?: Record<string, unknown>;
}

/** Turns the pipeline's stream events into one format's SSE frames. */
export interface StreamEncoder {
  /** A chunk of the chat view (translated upstreams), or undefined; `raw` is the upstream's own JSON text when usable. */
  chunk(chunk: ChatCompletionChunk, raw: string | undefined): string;
  /** An event of the request's own format from a native upstream. */
  native(ev: NativeStreamEvent): string;
  /**
   * The stream's end: final usage, stop events; one string per frame the client should see as its own write. None
   * after native events, which carried their own ending.
   */
  end(facts: AnswerFacts): string[];
  /** The format's error event for a stream that failed after it began. */
  error(status: number, message: string): string;
}

/** An error as one format shapes it. */
export interface ErrorShape {
  readonly status: number;
  readonly body: unknown;
}

export interface Codec {
  readonly api: Api;
  /** `countOnly`: a token-count request (Messages count_tokens), which carries no output cap. */
  decode(raw: string, byteLength: number, maxBodyBytes: number, headers: HeaderReader, opts?: { readonly countOnly?: boolean }): Decoded;
  /** A complete answer's body. */
  json(completion: ChatCompletion, facts: AnswerFacts, decoded: Decoded): unknown;
  encoder(decoded: Decoded, model: string): StreamEncoder;
}

export type HeaderReader = (name: string) => string | undefined;

/**
 * Where the gateway gets the Messages and Responses codecs: lazy chunks of the router bundle (adapters/lazy.ts), so a
 * gateway serving only chat never loads them. Absent: those routes answer 404.
 */
export interface CodecSource {
  messages(): Codec;
  responses(): Codec;
}

/** An SSE frame with an event name (Anthropic and Responses streams name every event). */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The first value of a header, lower-case name. */
export function firstHeader(v: string | readonly string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : (v as string | undefined);
}
