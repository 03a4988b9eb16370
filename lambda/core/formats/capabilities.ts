import type { ResolvedModel } from '../config/resolve';
import type { Decoded } from './wire';

type NativeApi = 'messages' | 'responses';

const NONE: ReadonlySet<NativeApi> = new Set();
const MESSAGES: ReadonlySet<NativeApi> = new Set(['messages']);
const RESPONSES: ReadonlySet<NativeApi> = new Set(['responses']);

/** Claude on Bedrock takes the Messages body itself through InvokeModel (anthropic_version bedrock-2023-05-31). */
function claudeOnBedrock(m: ResolvedModel): boolean {
  return /anthropic\.claude/.test(m.config.upstreamModel) || /anthropic\.claude/.test(m.config.priceId ?? '');
}

/**
 * The wire formats a model's provider speaks itself, so a request in that format passes through with no loss:
 * Anthropic's API and Claude on Bedrock speak Messages; an OpenAI-compatible server with `responses` on (OpenAI's
 * own API by default) speaks Responses.
 */
export function nativeApis(m: ResolvedModel): ReadonlySet<NativeApi> {
  const p = m.provider;
  if (p.type === 'anthropic') return MESSAGES;
  if (p.type === 'bedrock') return claudeOnBedrock(m) ? MESSAGES : NONE;
  if (p.type === 'openai-compatible') return (p.responses ?? new URL(p.baseUrl).hostname === 'api.openai.com') ? RESPONSES : NONE;
  return NONE;
}

/** Whether a model can serve a decoded request: natively, or by a translation that loses nothing. */
export function carries(m: ResolvedModel, d: Decoded): boolean {
  return !d.native || nativeApis(m).has(d.native.api) || d.lossy.length === 0;
}

/** Whether the call to this model passes the client's body through. */
export function passesThrough(m: ResolvedModel, d: Decoded): boolean {
  return d.native !== undefined && nativeApis(m).has(d.native.api);
}
