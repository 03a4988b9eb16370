import type { Clock } from './ports';

/**
 * A share of a feature's requests, at most so many a UTC day (in this process): how capture and shadow tests pick
 * what they take. `pick` answers why not, or a `take` that spends the day's slot once the caller keeps the request.
 */
export class DailySample {
  private readonly perDay = new Map<string, number>();

  constructor(private readonly clock: Clock, private readonly random: () => number) {}

  pick(feature: string, rate: number, maxPerDay: number): 'sampled-out' | 'capped' | { readonly take: () => void } {
    if (this.random() >= rate) return 'sampled-out';
    const key = `${feature}\u0000${new Date(this.clock.now()).toISOString().slice(0, 10)}`;
    const today = this.perDay.get(key) ?? 0;
    if (today >= maxPerDay) return 'capped';
    return { take: () => void this.perDay.set(key, today + 1) };
  }
}
