import type { ResolvedConfig } from '../config/resolve';
import type { AlertSink, Clock, QuotaStore } from '../ports';

type SwitchBack = NonNullable<ResolvedConfig['raw']['shadow']['policies'][number]['switchBack']>;

/** A switched feature sent back to its premium model, until `untilMs`. */
export interface SwitchedBack {
  readonly untilMs: number;
  readonly agreement: number;
  readonly samples: number;
  readonly below: number;
}

/** The last `window` scores of one feature, as a ring with a running sum. */
class Window {
  private readonly scores: Float64Array;
  private next = 0;
  private size = 0;
  private sum = 0;

  constructor(capacity: number) {
    this.scores = new Float64Array(capacity);
  }

  add(score: number): void {
    if (this.size === this.scores.length) this.sum -= this.scores[this.next];
    else this.size++;
    this.scores[this.next] = score;
    this.sum += score;
    this.next = (this.next + 1) % this.scores.length;
  }

  get count(): number {
    return this.size;
  }

  get mean(): number {
    return this.size ? this.sum / this.size : 1;
  }
}

/**
 * The switch's second guard (issue 36): a feature routed to a small model (`routing.features`) whose shadow policy has
 * `switchBack` is sent back to its tier's last (premium) model when the mean agreement of the last `window` shadow
 * scores falls below `below` (with at least `minSamples` of them), for `retryAfterMinutes`; then the small model is
 * tried again with an empty window (a circuit breaker: while switched back the premium model answers, so there is
 * nothing to score). Per gateway process, like the shadow sample: each Lambda container watches its own scores. One
 * `switch_back` alert per feature and retry period across instances (the quota store's claim).
 */
export class SwitchGuard {
  private readonly policies: ReadonlyMap<string, SwitchBack>;
  private readonly windows = new Map<string, Window>();
  private readonly back = new Map<string, SwitchedBack>();

  constructor(
    config: ResolvedConfig,
    private readonly clock: Clock,
    private readonly alerts: AlertSink,
    private readonly store: Pick<QuotaStore, 'claimAlert'>,
    private readonly premiumOf: (feature: string) => string,
  ) {
    this.policies = new Map(config.raw.shadow.policies.flatMap((p) => (p.switchBack ? [[p.feature, p.switchBack] as const] : [])));
  }

  /** Whether a feature is watched (has switchBack). */
  watches(feature: string): boolean {
    return this.policies.has(feature);
  }

  /** The feature's switch-back in force now, if any; an expired one is cleared (the small model is tried again). */
  switchedBack(feature: string): SwitchedBack | undefined {
    const b = this.back.get(feature);
    if (!b) return undefined;
    if (this.clock.now() < b.untilMs) return b;
    this.back.delete(feature);
    this.windows.delete(feature);
    return undefined;
  }

  /** One shadow score of the switched feature's served answer against the premium model's. */
  observe(feature: string, score: number): void {
    const p = this.policies.get(feature);
    if (!p || this.switchedBack(feature)) return;
    let w = this.windows.get(feature);
    if (!w) this.windows.set(feature, (w = new Window(p.window)));
    w.add(score);
    if (w.count < p.minSamples || w.mean >= p.below) return;
    const now = this.clock.now();
    const retryMs = p.retryAfterMinutes * 60_000;
    const b: SwitchedBack = { untilMs: now + retryMs, agreement: Math.round(w.mean * 10_000) / 10_000, samples: w.count, below: p.below };
    this.back.set(feature, b);
    const period = Math.floor(now / retryMs);
    const counter = `switch#${feature}#${period}`;
    void this.store.claimAlert(counter, 1, (period + 2) * retryMs).then((won) => {
      if (!won) return;
      this.alerts.publish({
        type: 'switch_back', feature, model: this.premiumOf(feature), agreement: b.agreement, samples: b.samples, below: p.below,
        retryAt: new Date(b.untilMs).toISOString(), counter, ts: new Date(now).toISOString(),
      });
    }).catch(() => undefined);
  }
}
