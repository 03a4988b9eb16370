import { checkedUsage, type TokenUsage, type UsageReading } from '../pricing/prices';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * OpenAI `usage` (chat completions, also Azure OpenAI, vLLM, Ollama, Anthropic's OpenAI-compatible endpoint) to
 * ours: cached prompt tokens are split out as cache reads. Counts must be non-negative integers and cached tokens
 * part of the prompt; a string, a negative or an absurd count is a problem, never a figure.
 */
export function readOpenAiUsage(raw: unknown): UsageReading {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) return { problem: `usage is ${typeof raw}, not an object` };
  const details = raw.prompt_tokens_details;
  const cached = isRecord(details) && details.cached_tokens !== undefined && details.cached_tokens !== null ? details.cached_tokens : 0;
  const fields: [string, unknown][] = [['prompt_tokens', raw.prompt_tokens], ['completion_tokens', raw.completion_tokens ?? 0], ['cached_tokens', cached]];
  for (const [name, v] of fields) {
    if (typeof v !== 'number' || !Number.isInteger(v)) return { problem: `${name} is ${JSON.stringify(v) ?? String(v)}, not an integer` };
    if (v < 0) return { problem: `${name} is negative (${v})` };
  }
  const prompt = raw.prompt_tokens as number;
  const c = cached as number;
  if (c > prompt) return { problem: `cached_tokens (${c}) exceeds prompt_tokens (${prompt})` };
  const completion = (raw.completion_tokens ?? 0) as number;
  const usage: TokenUsage = { inputTokens: prompt - c, outputTokens: completion, cacheReadTokens: c, cacheWriteTokens: 0 };
  return checkedUsage(usage);
}
