import type { ResolvedModel } from '../config/resolve';
import type { Route } from './route';

const WINDOW_MS = 60_000;

/**
 * Tokens sent to each committed model over the last minute, in this process. A commitment-first tier skips a
 * committed model whose `units x tokensPerMinutePerUnit` would be exceeded and spills to the next model; a throttled
 * answer (429) spills too, through the fallback chain. Several gateway processes each see only their own share, so
 * the per-process figure errs towards sending more to the commitment, where throttling then spills the rest.
 */
export class CommitmentMeter {
  private readonly sent = new Map<string, { at: number; tokens: number }[]>();

  /** Tokens a committed model may take per minute, or undefined when its capacity is not configured. */
  static capacity(m: ResolvedModel): number | undefined {
    const c = m.config.commitment;
    return c?.tokensPerMinutePerUnit ? c.units * c.tokensPerMinutePerUnit : undefined;
  }

  used(modelId: string, now: number): number {
    const q = this.sent.get(modelId);
    if (!q) return 0;
    while (q.length && q[0].at <= now - WINDOW_MS) q.shift();
    return q.reduce((n, e) => n + e.tokens, 0);
  }

  add(modelId: string, now: number, tokens: number): void {
    const q = this.sent.get(modelId) ?? [];
    q.push({ at: now, tokens });
    this.sent.set(modelId, q);
  }

  /**
   * A commitment-first route with every committed model that cannot take `tokens` more this minute left out (said
   * in the route's reason). Never empties a route: the on-demand models stay.
   */
  admit(r: Route, tokens: number, now: number): Route {
    const full: string[] = [];
    const chain = r.chain.filter((m) => {
      const cap = CommitmentMeter.capacity(m);
      if (cap === undefined || this.used(m.id, now) + tokens <= cap) return true;
      full.push(m.id);
      return false;
    });
    if (!full.length || !chain.length) return r;
    return { ...r, chain, reason: `${r.reason} (commitment full: ${full.join(', ')})` };
  }
}
