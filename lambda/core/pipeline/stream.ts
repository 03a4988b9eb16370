import type { ChatCompletion, ChatRequest } from '../openai/types';
import { ProviderError, type ProviderStreamEvent, type ProviderUsageEvent } from '../ports';
import { ZERO_USAGE } from '../pricing/prices';
import type { Reservation } from '../quota/guard';
import { remainingUsdMicros, runsOutAt } from '../quota/policy';
import type { Route } from '../routing/route';
import { estimateInputTokens, estimateTextTokens, utf8Length } from '../tokens';
import { withFallback } from './fallback';
import type { Steps } from './steps';
import type { StoreAnswer, StreamResult, Trace } from './types';

/**
 * A streamed answer. Fallback is possible only until the first event, so the stream is opened and its first event
 * awaited inside the retry loop. The cost is known only at the end: it travels in the final usage chunk, and the
 * receipt is priced from the last usage report the upstream sent. Text streamed after that report (a server that
 * reports usage on its first chunk only) is estimated and added, flagged output_estimated.
 */
/**
 * No tokeniser turns fewer than this many tokens into more than this many bytes each (indentation runs and long words
 * reach 8-12 bytes per token; English averages 4), so a stream past cap x 16 bytes (plus a margin) has certainly
 * passed the cap it was sent: an upstream ignoring max_tokens, cut here rather than at the 16 MiB answer limit.
 */
const MAX_BYTES_PER_TOKEN = 16;
const CAP_MARGIN_BYTES = 4096;

export async function streamed(
  s: Steps, trace: Trace, req: ChatRequest, r: Route, maxTokens: number | undefined,
  reservation: Reservation | undefined, clientSignal: AbortSignal | undefined, store: StoreAnswer,
): Promise<StreamResult> {
  const { clock } = s.deps;
  // Our own controller, so a client that stops reading also stops the upstream call.
  const ac = new AbortController();
  clientSignal?.addEventListener('abort', () => ac.abort(), { once: true });
  const opened = await withFallback(s.deps, trace, r, ac.signal, (model) => s.atTier(trace, model, req, async (q) => {
    const it = s.provider(model).stream(s.call(model, q, maxTokens, ac.signal, trace))[Symbol.asyncIterator]();
    const first = await it.next();
    // A stream that ends before its first event answered nothing: a failure the next attempt or model can mend.
    if (first.done) throw new ProviderError(`${model.id} ended its stream before any event`, 'server');
    return { it, first };
  }), (model) => s.chargeTimeout(trace, model, req, maxTokens), (model) => s.coverAttempt(trace, reservation, model, req, maxTokens));
  const model = opened.model;
  const encoder = trace.wire.codec.encoder(trace.wire.decoded!, model.id);
  let native = false;
  const overheadMs = Math.max(0, Math.round(clock.monotonic() - trace.t0 - trace.upstreamMs));
  s.serviceTierOf(trace, model, req, undefined);
  // A stream's headers leave before its cost is known; the cost travels in the final usage chunk.
  if (reservation) trace.runsOutAtMs = runsOutAt(reservation.plans, reservation.committed, clock.now());
  const headers = s.results.routeHeaders(
    trace,
    overheadMs,
    reservation ? s.results.remainingHeader(remainingUsdMicros(reservation.plans, reservation.committed)) : 'unknown',
  );

  async function* body(): AsyncGenerator<string> {
    let report: ProviderUsageEvent | undefined;
    let text = '';
    /** Answer text (content and streamed tool-call JSON) since the last usage report. */
    let sinceReport = '';
    /** Streamed tool-call JSON, counted only for an estimate. */
    let toolText = '';
    let id = '';
    let created = 0;
    let finish: string | null = null;
    let completed = false;
    let failure: unknown;
    let finished = false;
    const cap = s.cap(model, maxTokens);
    const capBytes = cap * MAX_BYTES_PER_TOKEN + CAP_MARGIN_BYTES;
    let streamedBytes = 0;
    let cut = false;
    /**
     * Counts what streamed (after it joined the text, so the charge includes it: the upstream billed it); throws once it
     * is certainly past the output cap sent (see MAX_BYTES_PER_TOKEN), before the piece reaches the client.
     */
    const count = (piece: string): void => {
      streamedBytes += utf8Length(piece);
      if (streamedBytes > capBytes) {
        cut = true;
        trace.receipt.flag('output_over_cap');
        throw new ProviderError(`${model.id} streamed more than ${streamedBytes} bytes against an output cap of ${cap} tokens: cut`, 'server');
      }
    };
    const streamStart = clock.monotonic();
    const finishOnce = async (): Promise<void> => {
      if (finished) return;
      finished = true;
      trace.upstreamMs += clock.monotonic() - streamStart;
      const tier = s.serviceTierOf(trace, model, req, report?.serviceTier);
      const line = trace.receipt.call({
        kind: completed ? 'answer' : 'partial',
        model,
        reading: report ?? {},
        serviceTier: tier,
        estimate: () => ({ ...ZERO_USAGE, inputTokens: estimateInputTokens(req), outputTokens: estimateTextTokens(text + toolText) }),
        // Output past the last report was streamed and billed: estimated rather than dropped.
        outputAfterReport: report?.usage && sinceReport ? estimateTextTokens(sinceReport) : 0,
      });
      trace.receipt.answered(line.usage);
      await s.settle(reservation, trace);
      if (completed && report?.usage && !sinceReport && !native) {
        const completion: ChatCompletion = {
          id, object: 'chat.completion', created, model: model.id,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
        };
        await store(model, completion, report.usage);
      }
      if (completed) s.results.emit(trace, 200, null);
      else if (failure !== undefined) s.results.emit(trace, timedOut(failure) ? 504 : 502, timedOut(failure) ? 'timeout_error' : 'upstream_error');
      else s.results.emit(trace, 499, 'client_closed');
    };
    try {
      let ev: IteratorResult<ProviderStreamEvent> = opened.value.first;
      while (!ev.done) {
        const e = ev.value;
        if (e.type === 'usage') {
          report = e;
          sinceReport = '';
        } else if (e.type === 'native') {
          native = true;
          text += e.text;
          sinceReport += e.text;
          count(e.text);
          const frame = encoder.native(e);
          if (frame) yield frame;
        } else {
          id ||= e.chunk.id;
          created ||= e.chunk.created;
          for (const c of e.chunk.choices) {
            if (typeof c.delta.content === 'string') {
              text += c.delta.content;
              sinceReport += c.delta.content;
              count(c.delta.content);
            }
            if (c.delta.tool_calls) {
              const json = JSON.stringify(c.delta.tool_calls);
              toolText += json;
              sinceReport += json;
              count(json);
            }
            if (c.finish_reason) finish = c.finish_reason;
          }
          const frame = encoder.chunk(e.chunk, e.raw);
          if (frame) yield frame;
        }
        ev = await opened.value.it.next();
      }
      completed = true;
    } catch (err) {
      // An abort we caused (the client went away) is a disconnect, not an upstream failure.
      if (!ac.signal.aborted) failure = err;
      // Cut by us (past the cap): stop the upstream too, so it bills no further.
      if (cut) {
        ac.abort();
        await opened.value.it.return?.().catch(() => undefined);
      }
    } finally {
      if (!completed && failure === undefined) {
        // The consumer stopped reading: the client went away.
        ac.abort();
        await opened.value.it.return?.().catch(() => undefined);
        await finishOnce();
      }
    }
    if (!completed && failure === undefined) return;
    await finishOnce();
    if (failure !== undefined) {
      yield encoder.error(timedOut(failure) ? 504 : 502, `Upstream stream failed: ${failure instanceof Error ? failure.message : String(failure)}`);
      return;
    }
    yield* encoder.end({ model: model.id, usage: trace.receipt.answerTokens, finops: s.results.finopsBlock(trace) });
  }
  return { kind: 'stream', status: 200, headers, body: body() };
}

/** A stream that went silent or dripped past its deadline: a 504 in the record and the error frame. */
function timedOut(err: unknown): boolean {
  return err instanceof ProviderError && err.kind === 'timeout';
}
