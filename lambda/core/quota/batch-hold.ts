import type { Clock, QuotaStore } from '../ports';
import type { AdmitRequest, QuotaGuard } from './guard';
import type { CounterPlan } from './policy';

/**
 * Windows a batch is not held against: rate limits (per minute, per hour, and request counts) govern live traffic,
 * and a batch's lines run over hours, so a whole batch measured against one minute would refuse any batch bigger
 * than a minute's traffic. A batch is held against the budgets it spends from: day, week, month and total windows.
 */
const RATE_WINDOWS: ReadonlySet<string> = new Set(['minute', 'hour']);

function holdable(p: CounterPlan): boolean {
  return p.unit !== 'requests' && !RATE_WINDOWS.has(p.window);
}

/** One counter a batch holds. */
export interface HeldCounter {
  readonly key: string;
  readonly unit: 'usd' | 'tokens';
  readonly expiresAtMs: number;
  /** What the current reservation holds on it (micro-dollars or tokens). */
  readonly held: number;
}

/** One line's share of the hold: the counters it touches (a group of `counters` indexes) and its estimate on each. */
export interface HeldLine {
  readonly group: number;
  readonly usdMicros: number;
  readonly tokens: number;
}

/**
 * A batch's reservation, plain JSON so the batch store keeps it with the batch: a process that dies mid-batch resumes
 * from it, and a hold nobody resumes is released by the quota store's sweep when it expires.
 */
export interface BatchHold {
  /** The reservation's id in the quota store (a new one each time the hold shrinks). */
  readonly id: string;
  readonly counters: readonly HeldCounter[];
  /** Each group: indexes into `counters` (lines with the same model, end user and policies share one). */
  readonly groups: readonly (readonly number[])[];
  readonly lines: readonly HeldLine[];
  readonly expiresAtMs: number;
}

/**
 * Reserves a whole batch before it is submitted, shrinks the reservation as lines are settled, and releases what is
 * left when the batch ends. The hold is checked against the limits once, at submit: a batch that does not fit is
 * refused with the scope named and nothing reserved. Lines then run under it (AdmitRequest.underHold): each line's
 * own reservation is counted without a limit, settled at its actual cost, and the hold gives up that line's estimate
 * at the next shrink. A shrink reserves the rest under a new id before it releases the old one, so the batch's
 * remaining lines are never unheld; a crash between the two leaves both held (stricter, never looser) until the
 * older one expires.
 */
export class BatchHolds {
  constructor(
    private readonly guard: QuotaGuard,
    private readonly store: QuotaStore,
    private readonly clock: Clock,
  ) {}

  /** Reserves every line's estimate at once (all or nothing), or throws the 429 naming the scope that refused. */
  async hold(id: string, lines: readonly AdmitRequest[], expiresAtMs: number): Promise<BatchHold> {
    const now = this.clock.now();
    const counters: { key: string; unit: 'usd' | 'tokens'; expiresAtMs: number; held: number; plan: CounterPlan }[] = [];
    const index = new Map<string, number>();
    const groups: number[][] = [];
    const groupOf = new Map<string, number>();
    const held: HeldLine[] = [];
    for (const line of lines) {
      const plans = (await this.guard.planFor(line, now)).filter(holdable);
      const members = plans.map((p) => {
        let i = index.get(p.key);
        if (i === undefined) {
          i = counters.length;
          index.set(p.key, i);
          counters.push({ key: p.key, unit: p.unit as 'usd' | 'tokens', expiresAtMs: p.expiresAtMs, held: 0, plan: p });
        }
        counters[i].held += p.amount;
        return i;
      });
      const signature = members.join(',');
      let group = groupOf.get(signature);
      if (group === undefined) {
        group = groups.length;
        groupOf.set(signature, group);
        groups.push(members);
      }
      held.push({ group, usdMicros: plans.find((p) => p.unit === 'usd')?.amount ?? 0, tokens: plans.find((p) => p.unit === 'tokens')?.amount ?? 0 });
    }
    const specs = counters.map((c) => ({ key: c.key, limit: c.plan.limit, amount: c.held, expiresAtMs: c.expiresAtMs }));
    const out = await this.store.reserve(id, specs, expiresAtMs);
    if (!out.ok) {
      const summed = counters.map((c) => ({ ...c.plan, amount: c.held }));
      throw this.guard.refusal(summed, out.key, out.committed, lines[0], now, `this batch of ${lines.length} requests`);
    }
    return { id, counters: counters.map(({ key, unit, expiresAtMs: e, held: h }) => ({ key, unit, expiresAtMs: e, held: h })), groups, lines: held, expiresAtMs };
  }

  /**
   * Holds only the lines still to run (`remaining`, indexes into hold.lines) under `nextId`, then releases the old
   * reservation. Never limited: the batch was admitted whole. Returns the new hold, to be stored with the batch.
   */
  async shrink(hold: BatchHold, remaining: Iterable<number>, nextId: string): Promise<BatchHold> {
    const left = hold.counters.map(() => 0);
    for (const i of remaining) {
      const line = hold.lines[i];
      for (const c of hold.groups[line.group]) left[c] += hold.counters[c].unit === 'usd' ? line.usdMicros : line.tokens;
    }
    const counters = hold.counters.map((c, i) => ({ ...c, held: left[i] }));
    const out = await this.store.reserve(nextId, counters.map((c) => ({ key: c.key, amount: c.held, expiresAtMs: c.expiresAtMs })), hold.expiresAtMs);
    if (!out.ok) throw new Error('an unlimited reservation was refused');
    await this.release(hold);
    return { ...hold, id: nextId, counters };
  }

  /** Gives back what the hold still holds (the batch ended, failed, expired or was cancelled). */
  async release(hold: BatchHold): Promise<void> {
    await this.store.settle(hold.id, hold.counters.map((c) => ({ key: c.key, reserved: c.held, actual: 0 })));
  }
}
