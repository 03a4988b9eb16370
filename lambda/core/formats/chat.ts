import { passThroughFrame, SSE_DONE, sseData, toOpenAiUsage } from '../openai/sse';
import type { ChatCompletion, ChatCompletionChunk } from '../openai/types';
import { parseChatRequest } from '../openai/validate';
import type { AnswerFacts, Codec, Decoded, StreamEncoder } from './wire';

/** OpenAI chat completions: the gateway's first front door. Its view is the request itself. */
class ChatEncoder implements StreamEncoder {
  private id = '';
  private created = 0;

  constructor(private readonly model: string, private readonly includeUsage: boolean) {}

  chunk(chunk: ChatCompletionChunk, raw: string | undefined): string {
    this.id ||= chunk.id;
    this.created ||= chunk.created;
    // A usage member (null) never reaches the client in a chunk: the gateway's own usage chunk ends the stream.
    return passThroughFrame(raw, chunk, this.model) ?? sseData({ ...chunk, model: this.model, usage: undefined });
  }

  native(): string {
    // No upstream answers a chat request natively in another format: the provider translates it.
    return '';
  }

  end(facts: AnswerFacts): string[] {
    if (!this.includeUsage) return [SSE_DONE];
    return [sseData({
      id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [],
      usage: toOpenAiUsage(facts.usage), llm_finops: facts.finops,
    }), SSE_DONE];
  }

  error(status: number, message: string, type = 'upstream_error', code = 'upstream_failed'): string {
    return sseData({ error: { message, type: status === 504 ? 'timeout_error' : type, code: status === 504 ? 'upstream_timeout' : code, param: null } });
  }
}

export const CHAT_CODEC: Codec = {
  api: 'chat',
  decode(raw, bytes, max): Decoded {
    const request = parseChatRequest(raw, bytes, max);
    return { request, lossy: [], endUser: request.user || undefined };
  },
  json(completion: ChatCompletion, facts: AnswerFacts) {
    return { ...completion, model: facts.model, usage: toOpenAiUsage(facts.usage) };
  },
  encoder: (decoded, model) => new ChatEncoder(model, decoded.request.stream_options?.include_usage === true),
};
