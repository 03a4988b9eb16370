import { createHash } from 'node:crypto';
import type { ChatCompletion } from '../../lambda/core/openai/types';
import {
  ProviderError,
  type ChatProvider,
  type Clock,
  type IdSource,
  type ProviderCall,
  type ProviderErrorKind,
  type ProviderResponse,
  type ProviderStreamEvent,
} from '../../lambda/core/ports';
import type { TokenUsage } from '../../lambda/core/pricing/prices';

export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private mono = 0;

  constructor(public nowMs = Date.UTC(2026, 10, 29, 12, 0, 0)) {}

  now(): number {
    return this.nowMs;
  }

  monotonic(): number {
    return this.mono;
  }

  advance(ms: number): void {
    this.nowMs += ms;
    this.mono += ms;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.advance(ms);
  }
}

export class SeqIds implements IdSource {
  private n = 0;

  /** Two processes in one test (a restart) take two prefixes, as two processes' random ids never meet. */
  constructor(private readonly prefix = 'req-') {}

  requestId(): string {
    return `${this.prefix}${++this.n}`;
  }

  random(): number {
    return 0.5;
  }
}

/** A deterministic PRNG (mulberry32), so a randomised test draws the same mix on every run. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

export type Step =
  | { readonly ok: string; readonly usage?: TokenUsage; readonly finish?: 'stop' | 'length' }
  | { readonly fail: ProviderErrorKind; readonly status?: number }
  /** Stream: yield these text pieces, then fail (or, with `end`, finish without usage). */
  | { readonly pieces: readonly string[]; readonly then: 'fail' | 'end' | 'usage'; readonly usage?: TokenUsage };

export const usage = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0): TokenUsage => ({
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
});

/**
 * An in-memory ChatProvider following a script per upstream model: the core's tests run on it instead of the
 * network. It records every call and whether a stream was closed early.
 */
export class ScriptedProvider implements ChatProvider {
  readonly calls: ProviderCall[] = [];
  closedEarly = 0;
  private readonly scripts = new Map<string, Step[]>();

  script(upstreamModel: string, ...steps: Step[]): this {
    this.scripts.set(upstreamModel, [...(this.scripts.get(upstreamModel) ?? []), ...steps]);
    return this;
  }

  private next(call: ProviderCall): Step {
    this.calls.push(call);
    return this.scripts.get(call.model.config.upstreamModel)?.shift() ?? { ok: 'default answer', usage: usage(10, 5) };
  }

  async complete(call: ProviderCall): Promise<ProviderResponse> {
    const step = this.next(call);
    if ('fail' in step) throw new ProviderError(`scripted ${step.fail}`, step.fail, step.status);
    const text = 'ok' in step ? step.ok : step.pieces.join('');
    const completion: ChatCompletion = {
      id: 'chatcmpl-scripted',
      object: 'chat.completion',
      created: 1,
      model: call.model.config.upstreamModel,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'ok' in step ? step.finish ?? 'stop' : 'stop' }],
    };
    return { completion, usage: step.usage };
  }

  async *stream(call: ProviderCall): AsyncGenerator<ProviderStreamEvent> {
    const step = this.next(call);
    if ('fail' in step) throw new ProviderError(`scripted ${step.fail}`, step.fail, step.status);
    const pieces = 'ok' in step ? [step.ok] : step.pieces;
    let finished = false;
    try {
      const base = { id: 'chatcmpl-scripted', object: 'chat.completion.chunk' as const, created: 1, model: call.model.config.upstreamModel };
      for (const p of pieces) {
        if (call.signal.aborted) throw new Error('aborted');
        yield { type: 'chunk', chunk: { ...base, choices: [{ index: 0, delta: { content: p }, finish_reason: null }] } };
      }
      if ('then' in step && step.then === 'fail') throw new ProviderError('scripted stream break', 'network');
      if ('then' in step && step.then === 'end') {
        finished = true;
        return;
      }
      yield { type: 'chunk', chunk: { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] } };
      if (step.usage) yield { type: 'usage', usage: step.usage };
      finished = true;
    } finally {
      if (!finished) this.closedEarly++;
    }
  }
}
