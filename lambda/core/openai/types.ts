/** The subset of the OpenAI chat-completions wire format the gateway understands (snake_case, as on the wire). */

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface TextPart {
  readonly type: 'text';
  readonly text: string;
  /** Anthropic-style prompt-cache hint (passed through by OpenAI-compatible clients); Bedrock gets a cachePoint after it. */
  readonly cache_control?: { readonly type: 'ephemeral'; readonly ttl?: '5m' | '1h' };
}
export interface ImagePart {
  readonly type: 'image_url';
  readonly image_url: { readonly url: string; readonly detail?: string };
}
export interface OtherPart {
  readonly type: 'input_audio' | 'file' | 'refusal';
  readonly [k: string]: unknown;
}
export type ContentPart = TextPart | ImagePart | OtherPart;

export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export interface ChatMessage {
  readonly role: Role;
  readonly content: string | readonly ContentPart[] | null;
  readonly name?: string;
  readonly tool_calls?: readonly ToolCall[];
  readonly tool_call_id?: string;
}

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly max_tokens?: number;
  readonly max_completion_tokens?: number;
  readonly temperature?: number;
  readonly top_p?: number;
  readonly n?: number;
  readonly stop?: string | readonly string[];
  readonly stream?: boolean;
  readonly stream_options?: { readonly include_usage?: boolean };
  readonly user?: string;
  readonly tools?: readonly unknown[];
  readonly tool_choice?: unknown;
  /** Other OpenAI parameters passed through to OpenAI-compatible upstreams unchanged. */
  readonly [passthrough: string]: unknown;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number };
}

export interface ChatCompletion {
  readonly id: string;
  readonly object: 'chat.completion';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly message: { readonly role: 'assistant'; readonly content: string | null; readonly tool_calls?: readonly ToolCall[] };
    readonly finish_reason: string | null;
  }[];
  usage?: Usage;
  readonly [k: string]: unknown;
}

export interface ChatCompletionChunk {
  readonly id: string;
  readonly object: 'chat.completion.chunk';
  readonly created: number;
  readonly model: string;
  readonly choices: readonly {
    readonly index: number;
    readonly delta: { readonly role?: 'assistant'; readonly content?: string | null; readonly tool_calls?: readonly unknown[] };
    readonly finish_reason: string | null;
  }[];
  usage?: Usage | null;
  readonly [k: string]: unknown;
}

/** Text of a message's content, parts joined; non-text parts are ignored. */
export function messageText(content: ChatMessage['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  let out = '';
  for (const part of content) {
    if (part.type === 'text') out += (out ? '\n' : '') + (part as TextPart).text;
  }
  return out;
}

/** The effective output-token cap the client asked for, if any. */
export function requestedMaxTokens(req: ChatRequest): number | undefined {
  return req.max_completion_tokens ?? req.max_tokens;
}
