import type { ResolvedConfig, ResolvedModel } from '../config/resolve';
import type { ChatCompletion, ChatRequest } from '../openai/types';
import type { Clock, UsageSink } from '../ports';
import type { ChatInvocation, GatewayResult } from '../pipeline/types';
import { DailySample } from '../sampling';
import { SCORERS } from './scorers';
import type { SwitchGuard } from './switch-guard';

/** The feature a shadow call is recorded under: its spend, quota scope and report apart from the feature's own. */
export const SHADOW_PREFIX = 'shadow.';
export const shadowFeature = (feature: string): string => `${SHADOW_PREFIX}${feature}`;

/** What the shadow tests did since the process started. */
export interface ShadowCounts {
  readonly scored: number;
  /** The candidate's call failed (refused by a quota, an error): nothing to score. */
  readonly failed: number;
  /** The premium answer could not be scored with the policy's scorer (json-fields on an answer that is not JSON). */
  readonly unscorable: number;
  readonly sampledOut: number;
  readonly droppedDailyCap: number;
}

function contentOf(c: ChatCompletion | undefined): string | undefined {
  const m = c?.choices?.[0]?.message as { content?: unknown } | undefined;
  return typeof m?.content === 'string' ? m.content : undefined;
}

/**
 * Shadow tests (issue 36): a premium answer of a feature with a shadow policy is offered here after the response; a
 * sample of them is asked again of the candidate model, in the background, through the same pipeline (its own usage
 * record under the feature `shadow.<feature>`, so its spend is reported and capped apart: per-feature limits and
 * policies on that name govern it, and the tenant's budgets count it). The candidate's answer is never returned to
 * anyone; it is scored against the premium answer and the score written as a feedback line on the shadow request
 * (`type: feedback`, the candidate as `model`), which `llm-finops distill report` and `router outcomes` read.
 * A feature switched to a small model (`routing.features`) is shadowed the other way round: its served (small) answers
 * are scored against the policy's (premium) model, and the scores feed the switch's guard (switch-guard.ts).
 */
export class Shadow {
  private readonly policies: ReadonlyMap<string, ResolvedConfig['raw']['shadow']['policies'][number]>;
  private readonly sample: DailySample;
  private readonly switched: ReadonlySet<string>;
  private readonly pending = new Set<Promise<void>>();
  private counts = { scored: 0, failed: 0, unscorable: 0, sampledOut: 0, droppedDailyCap: 0 };

  constructor(
    config: ResolvedConfig,
    private readonly run: (inv: ChatInvocation) => Promise<GatewayResult>,
    private readonly usage: UsageSink,
    private readonly clock: Clock,
    random: () => number = Math.random,
    private readonly guard?: SwitchGuard,
  ) {
    this.policies = new Map(config.raw.shadow.policies.map((p) => [p.feature, p]));
    this.switched = new Set(Object.keys(config.raw.routing.features ?? {}));
    this.sample = new DailySample(clock, random);
  }

  stats(): ShadowCounts {
    return { ...this.counts };
  }

  /** Starts a shadow call when the feature's policy picks this request; never throws, never waits. */
  offer(x: { readonly tenantId: string; readonly apiKeyId?: string; readonly feature: string | undefined; readonly model: ResolvedModel; readonly request: ChatRequest; readonly completion: ChatCompletion }): void {
    const p = x.feature ? this.policies.get(x.feature) : undefined;
    // A shadow of the candidate's own answer would compare it with itself.
    if (!p || x.model.id === p.model) return;
    const picked = this.sample.pick(p.feature, p.sampleRate, p.maxPerDay);
    if (picked === 'sampled-out') return void this.counts.sampledOut++;
    if (picked === 'capped') return void this.counts.droppedDailyCap++;
    picked.take();
    // A feature switched to a small model (routing.features) is shadowed the other way round: the served answer is the
    // small model's, the policy's model the premium one it is compared with; the score feeds the switch's guard.
    const switched = this.switched.has(p.feature);
    const served = contentOf(x.completion);
    const { stream: _s, stream_options: _o, ...rest } = x.request;
    const body = JSON.stringify({ ...rest, model: p.model });
    const task = this.clock.sleep(1)
      .then(() => this.run({ tenantId: x.tenantId, apiKeyId: x.apiKeyId, feature: shadowFeature(p.feature), body, bodyBytes: new TextEncoder().encode(body).length, cacheBypass: true, shadowModel: p.model }))
      .then((res) => {
        const candidate = res.kind === 'json' && res.status === 200 ? contentOf(res.body as ChatCompletion) : undefined;
        if (candidate === undefined || served === undefined) {
          this.counts.failed++;
          return;
        }
        const score = switched ? SCORERS[p.scorer](candidate, served) : SCORERS[p.scorer](served, candidate);
        if (score === null) {
          this.counts.unscorable++;
          return;
        }
        this.counts.scored++;
        this.usage.feedback({
          type: 'feedback', ts: new Date(this.clock.now()).toISOString(), request_id: res.headers['x-request-id'] ?? '', tenant: x.tenantId,
          score: Math.round(score * 10_000) / 10_000, model: switched ? x.model.id : p.model, prompt: null,
        });
        if (switched) this.guard?.observe(p.feature, score);
      })
      .catch(() => void this.counts.failed++)
      .finally(() => this.pending.delete(task));
    this.pending.add(task);
  }

  /** Waits for the shadow calls under way (the Lambda handler, through Gateway.flush). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
