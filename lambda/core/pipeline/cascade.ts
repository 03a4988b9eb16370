import type { ResolvedModel, ResolvedTier } from '../config/resolve';
import type { ChatCompletion, ChatRequest } from '../openai/types';
import type { TokenUsage } from '../pricing/prices';
import type { Reservation } from '../quota/guard';
import { checkAnswer } from '../routing/cascade';
import type { Route } from '../routing/route';
import type { CascadeStep } from '../usage';
import { withFallback } from './fallback';
import type { Steps } from './steps';
import type { GatewayResult, StoreAnswer, Trace } from './types';

/**
 * A cascade tier: call the chain's first model, judge its answer with the tier's checks, and escalate to the next
 * model when a check rejects it (the last model's answer is taken as it is). Provider failures still fall back as
 * in a fallback tier. Every call is on the receipt as it is made, so a cascade whose escalation fails still records
 * and settles what the rejected calls cost. A streamed request is answered as SSE once the accepted answer is known:
 * a rejected answer must never reach the client.
 */
export async function cascaded(
  s: Steps, trace: Trace, req: ChatRequest, callReq: ChatRequest, r: Route, tier: ResolvedTier, maxTokens: number | undefined,
  reservation: Reservation | undefined, clientSignal: AbortSignal | undefined, store: StoreAnswer,
): Promise<GatewayResult> {
  const signal = clientSignal ?? new AbortController().signal;
  const last = r.chain[r.chain.length - 1];
  trace.receipt.cascadeOf(last);
  const askLogprobs = tier.cascade.checks.includes('logprob') && req.logprobs !== true;
  const steps: CascadeStep[] = [];
  trace.cascade = steps;
  let from = 0;
  for (;;) {
    const done = await withFallback(s.deps, trace, { ...r, chain: r.chain.slice(from) }, signal, (model) => {
      const http = model.provider.type === 'openai-compatible' || model.provider.type === 'azure-openai';
      const request = askLogprobs && http && model !== last ? { ...callReq, logprobs: true } : callReq;
      return s.atTier(trace, model, request, (q) => s.provider(model).complete(s.call(model, q, maxTokens, signal, trace)));
    }, (model) => s.chargeTimeout(trace, model, callReq, maxTokens), (model) => s.coverAttempt(trace, reservation, model, callReq, maxTokens));
    const index = r.chain.indexOf(done.model);
    const verdict = done.model === last ? ({ ok: true } as const) : checkAnswer(req, done.value.completion, tier.cascade);
    const tierUsed = s.serviceTierOf(trace, done.model, callReq, done.value.serviceTier);
    const line = s.charge(trace, verdict.ok ? 'answer' : 'rejected', done.model, callReq, { usage: done.value.usage, problem: done.value.usageProblem }, done.value.completion, tierUsed);
    steps.push({
      model: done.model.id, input_tokens: line.usage.inputTokens, output_tokens: line.usage.outputTokens, cost_micros: line.micros,
      accepted: verdict.ok, reason: verdict.ok ? null : `${verdict.reason}: ${verdict.detail}`,
    });
    if (!verdict.ok) {
      from = index + 1;
      continue;
    }
    return accept(s, trace, done.model, done.value.completion, line.usage, !line.estimated, askLogprobs, reservation, store);
  }
}

async function accept(
  s: Steps, trace: Trace, model: ResolvedModel, answer: ChatCompletion, usage: TokenUsage, reported: boolean,
  askLogprobs: boolean, reservation: Reservation | undefined, store: StoreAnswer,
): Promise<GatewayResult> {
  trace.model = model;
  trace.provider = model.provider.id;
  trace.receipt.answered(usage);
  const steps = trace.cascade!;
  if (steps.length > 1) trace.routeReason = `${trace.routeReason} (cascade: ${steps.slice(0, -1).map((x) => `${x.model} ${x.reason?.split(':')[0]}`).join(', ')} -> ${model.id})`;
  await s.settle(reservation, trace);
  if (reported) await store(model, answer, usage);
  // Log-probabilities the gateway asked for on its own account are not the client's to receive.
  const choices = askLogprobs ? answer.choices.map(({ logprobs: _l, ...c }: { logprobs?: unknown } & ChatCompletion['choices'][number]) => c) : answer.choices;
  const completion: ChatCompletion = { ...answer, choices, model: model.id };
  const record = s.results.emit(trace, 200, null);
  const headers = s.results.headers(trace, record);
  if (!trace.stream) return { kind: 'json', status: 200, headers, body: trace.wire.codec.json(completion, { model: model.id, usage }, trace.wire.decoded!) };
  return { kind: 'stream', status: 200, headers, body: s.results.replay(completion, trace) };
}
