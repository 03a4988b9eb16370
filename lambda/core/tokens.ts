import type { ChatMessage, ChatRequest } from './openai/types';

/**
 * Conservative token estimates for reservations only; billed usage always comes from the provider.
 * UTF-8 bytes / 3 over-counts English (real BPE tokenisers average ~4 bytes per token) and matches CJK (~1 token per
 * character, 3 bytes), so the estimate errs high, which keeps a reservation from under-covering the real cost.
 */
const BYTES_PER_TOKEN = 3;
const PER_MESSAGE_OVERHEAD = 4;
const PER_REQUEST_OVERHEAD = 3;
/** A large image costs ~1,600 tokens on Claude and up to ~1,100 on GPT-4o at high detail. */
const PER_IMAGE_TOKENS = 1600;
const PER_OTHER_PART_TOKENS = 1000;

export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export function estimateTokensFromBytes(bytes: number): number {
  return Math.ceil(bytes / BYTES_PER_TOKEN);
}

export function estimateTextTokens(s: string): number {
  return estimateTokensFromBytes(utf8Length(s));
}

export function estimateMessage(m: ChatMessage): number {
  let n = PER_MESSAGE_OVERHEAD;
  const c = m.content;
  if (typeof c === 'string') n += estimateTextTokens(c);
  else if (c) {
    for (const part of c) {
      if (part.type === 'text') n += estimateTextTokens(part.text as string);
      else if (part.type === 'image_url') n += PER_IMAGE_TOKENS;
      else n += PER_OTHER_PART_TOKENS;
    }
  }
  if (m.tool_calls) n += estimateTextTokens(JSON.stringify(m.tool_calls));
  if (m.name) n += estimateTextTokens(m.name);
  return n;
}

/**
 * Request fields besides messages that providers bill as input: tool schemas, structured-output schemas
 * (response_format), predicted outputs (prediction), forced tool choices, audio settings and web-search options.
 */
const BILLED_INPUT_FIELDS = ['tools', 'response_format', 'prediction', 'tool_choice', 'audio', 'web_search_options'] as const;

export function estimateInputTokens(req: ChatRequest): number {
  let n = PER_REQUEST_OVERHEAD;
  for (const m of req.messages) n += estimateMessage(m);
  for (const field of BILLED_INPUT_FIELDS) {
    const v = req[field];
    if (v !== undefined && v !== null) n += estimateTextTokens(typeof v === 'string' ? v : JSON.stringify(v));
  }
  return n;
}
