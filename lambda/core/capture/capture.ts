import type { ResolvedConfig, ResolvedModel } from '../config/resolve';
import type { ChatCompletion, ChatRequest } from '../openai/types';
import type { Clock } from '../ports';
import { DailySample } from '../sampling';
import { scrubJson, type PiiKind } from './scrub';

/**
 * One kept exchange, as written: the request's messages and the teacher's answer in the chat-messages shape that
 * fine-tuning and distillation tools read (`messages`, `tools` when the request had them), and what the gateway knows
 * of it under `llm_finops` (request id, to join `/v1/feedback` scores by; tenant, feature, model; what was scrubbed).
 */
export interface CaptureExample {
  readonly messages: readonly unknown[];
  readonly tools?: readonly unknown[];
  readonly llm_finops: {
    readonly ts: string;
    readonly request_id: string;
    readonly tenant: string;
    readonly feature: string;
    readonly model: string;
    readonly upstream_model: string;
    readonly scrubbed: Readonly<Partial<Record<PiiKind, number>>>;
  };
}

/** Where kept exchanges go (a directory locally; S3 on AWS). Called off the request path, a batch at a time. */
export interface CaptureSink {
  write(examples: readonly CaptureExample[]): Promise<void>;
}

/** What the capture did since the process started: for the log and `/v1/usage`-style reports. */
export interface CaptureCounts {
  readonly captured: number;
  /** Past queueSize: the request did not wait, the exchange was dropped. */
  readonly droppedQueueFull: number;
  /** Past the feature's maxPerDay. */
  readonly droppedDailyCap: number;
  /** Left out by the sample rate. */
  readonly sampledOut: number;
  /** The sink refused a batch (logged by the caller's onError); those exchanges are lost. */
  readonly writeFailed: number;
}

interface Pending {
  readonly at: number;
  readonly requestId: string;
  readonly tenant: string;
  readonly feature: string;
  readonly model: ResolvedModel;
  readonly request: ChatRequest;
  readonly completion: ChatCompletion;
}

/**
 * The capture of training data (issue 36): an answer of a teacher model (`capture.models`, default the baseline) to a
 * feature that opted in (`capture.features`), for a tenant that consented (`captureConsent`), is offered here after
 * the response is complete. `offer` decides at once and never waits: it checks consent, feature, model, the sample
 * rate and the day's cap, and queues a reference; a full queue drops and counts. Scrubbing (PII and secrets) and the
 * write happen in `drain`, after the request, a batch at a time; `flush` waits for them (a Lambda handler calls it
 * through Gateway.flush before the function freezes).
 */
export class Capture {
  private readonly features: ReadonlyMap<string, { readonly sampleRate: number; readonly maxPerDay: number }>;
  private readonly models: ReadonlySet<string>;
  private readonly queue: Pending[] = [];
  private readonly sample: DailySample;
  private draining: Promise<void> | undefined;
  private counts = { captured: 0, droppedQueueFull: 0, droppedDailyCap: 0, sampledOut: 0, writeFailed: 0 };

  constructor(
    private readonly config: ResolvedConfig,
    private readonly sink: CaptureSink,
    private readonly clock: Clock,
    random: () => number = Math.random,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    const c = config.raw.capture;
    this.features = new Map(c.features.map((f) => [f.feature, { sampleRate: f.sampleRate, maxPerDay: f.maxPerDay }]));
    this.sample = new DailySample(clock, random);
    this.models = new Set(c.models ?? [config.raw.routing.baselineModel]);
  }

  /** Whether any feature opted in: without one the gateway never calls offer. */
  get enabled(): boolean {
    return this.features.size > 0;
  }

  stats(): CaptureCounts {
    return { ...this.counts };
  }

  /** Keeps the exchange if every rule says so; never throws, never waits. */
  offer(x: {
    readonly requestId: string; readonly tenantId: string;
    /** The tenant's consent, config or run-time (the resolved tenant's `captureConsent`). */
    readonly consent: boolean;
    readonly feature: string | undefined; readonly model: ResolvedModel; readonly request: ChatRequest; readonly completion: ChatCompletion;
  }): void {
    if (!x.feature) return;
    const f = this.features.get(x.feature);
    if (!f || !this.models.has(x.model.id) || !x.consent) return;
    const picked = this.sample.pick(x.feature, f.sampleRate, f.maxPerDay);
    if (picked === 'sampled-out') return void this.counts.sampledOut++;
    if (picked === 'capped') return void this.counts.droppedDailyCap++;
    if (this.queue.length >= this.config.raw.capture.queueSize) return void this.counts.droppedQueueFull++;
    picked.take();
    this.queue.push({ at: this.clock.now(), requestId: x.requestId, tenant: x.tenantId, feature: x.feature, model: x.model, request: x.request, completion: x.completion });
    // After the response: the clock's sleep is a timer, so the request that offered it has gone on first.
    this.draining ??= this.clock.sleep(1).then(() => this.drain());
  }

  /** Waits until everything queued so far has been scrubbed and written (or failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, 100).map(toExample);
        try {
          await this.sink.write(batch);
          this.counts.captured += batch.length;
        } catch (err) {
          this.counts.writeFailed += batch.length;
          this.onError(err);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }
}

/** The exchange scrubbed: every string of the request's messages, its tools and the answer. */
function toExample(p: Pending): CaptureExample {
  const answer = p.completion.choices?.[0]?.message;
  const found: Partial<Record<PiiKind, number>> = {};
  const messages = scrubJson([...p.request.messages, ...(answer ? [answer] : [])], found).value;
  const tools = p.request.tools ? scrubJson(p.request.tools, found).value : undefined;
  return {
    messages,
    ...(tools ? { tools } : {}),
    llm_finops: {
      ts: new Date(p.at).toISOString(), request_id: p.requestId, tenant: p.tenant, feature: p.feature, model: p.model.id,
      upstream_model: p.model.config.upstreamModel, scrubbed: found,
    },
  };
}
