/**
 * The OpenAI Responses API as an upstream speaks it (OpenAI, vLLM): its usage, its answer as a chat completion view,
 * its stream events. Always loaded (the OpenAI-compatible provider needs it); the front door's codec (responses.ts)
 * is a lazy chunk of the router bundle. Pure.
 */
import type { ChatCompletion, ToolCall } from '../openai/types';
import { checkedUsage, type UsageReading } from '../pricing/prices';
import { isObject } from '../json-body';

type Json = Record<string, unknown>;



/** The Responses usage block, read as untrusted input: input_tokens include cached_tokens. */
export function readResponsesUsage(u: unknown): UsageReading {
  if (!isObject(u)) return {};
  const input = u.input_tokens as number;
  const cached = isObject(u.input_tokens_details) && u.input_tokens_details.cached_tokens != null ? (u.input_tokens_details.cached_tokens as number) : 0;
  if (typeof input === 'number' && typeof cached === 'number' && cached > input) return { problem: `cached_tokens (${cached}) exceeds input_tokens (${input})` };
  return checkedUsage({ inputTokens: (input as number) - cached, outputTokens: u.output_tokens as number, cacheReadTokens: cached, cacheWriteTokens: 0 });
}

/** A Responses object as a chat completion view (for estimates and the cache). */
export function responseToCompletion(r: unknown, modelId: string, created: number): ChatCompletion {
  if (!isObject(r) || !Array.isArray(r.output)) throw new Error('the answer has no output array');
  let text = '';
  const calls: ToolCall[] = [];
  for (const item of r.output as Json[]) {
    if (item?.type === 'message' && Array.isArray(item.content)) for (const p of item.content as Json[]) if (typeof p?.text === 'string') text += p.text;
    if (item?.type === 'function_call') calls.push({ id: String(item.call_id), type: 'function', function: { name: String(item.name), arguments: String(item.arguments ?? '') } });
    if (item?.type === 'custom_tool_call') calls.push({ id: String(item.call_id), type: 'function', function: { name: String(item.name), arguments: JSON.stringify({ input: item.input }) } });
  }
  const incomplete = r.status === 'incomplete';
  return {
    id: typeof r.id === 'string' ? r.id : `resp_${created}`,
    object: 'chat.completion',
    created,
    model: modelId,
    choices: [{ index: 0, message: { role: 'assistant', content: text || (calls.length ? null : ''), ...(calls.length ? { tool_calls: calls } : {}) }, finish_reason: incomplete ? 'length' : calls.length ? 'tool_calls' : 'stop' }],
    ...(typeof r.service_tier === 'string' ? { service_tier: r.service_tier } : {}),
  };
}

/** What one Responses stream event means to the gateway: text for estimates, the final usage, a failure. */
export function readResponsesEvent(data: Json): { text: string; usage?: UsageReading; serviceTier?: string; failure?: string; final?: boolean } {
  const t = data.type;
  if (t === 'response.output_text.delta' || t === 'response.function_call_arguments.delta' || t === 'response.custom_tool_call_input.delta' || t === 'response.reasoning_summary_text.delta') {
    return { text: typeof data.delta === 'string' ? data.delta : '' };
  }
  if (t === 'response.completed' || t === 'response.incomplete') {
    const r = isObject(data.response) ? data.response : {};
    return { text: '', usage: readResponsesUsage(r.usage), ...(typeof r.service_tier === 'string' ? { serviceTier: r.service_tier } : {}), final: true };
  }
  if (t === 'response.failed') {
    const r = isObject(data.response) ? data.response : {};
    const e = isObject(r.error) ? r.error : {};
    return { text: '', usage: readResponsesUsage(r.usage), failure: String(e.message ?? 'response failed') };
  }
  if (t === 'error') return { text: '', failure: String(data.message ?? (isObject(data.error) ? data.error.message : 'stream error')) };
  return { text: '' };
}
