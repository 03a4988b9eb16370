import { cronFiresInHour, onlyRaises, scheduledMinimum } from '../../../../lambda/core/finops/schedule';

const at = (iso: string) => new Date(iso);

describe('scheduled minimum capacity', () => {
  it('reads AWS cron: day-of-week names and ranges (1 = Sunday), ? and *, lists and steps', () => {
    expect(cronFiresInHour('cron(0 8 ? * MON-FRI *)', at('2026-12-01T08:00:00Z'))).toBe(true); // a Tuesday
    expect(cronFiresInHour('cron(0 8 ? * MON-FRI *)', at('2026-12-05T08:00:00Z'))).toBe(false); // a Saturday
    expect(cronFiresInHour('cron(0 8 ? * 1 *)', at('2026-12-06T08:00:00Z'))).toBe(true); // 1 = SUN
    expect(cronFiresInHour('cron(30 */6 * * ? *)', at('2026-12-01T12:00:00Z'))).toBe(true);
    expect(cronFiresInHour('cron(30 */6 * * ? *)', at('2026-12-01T13:00:00Z'))).toBe(false);
    expect(cronFiresInHour('cron(0 9,17 1 JAN,JUL ? *)', at('2027-07-01T17:00:00Z'))).toBe(true);
    expect(cronFiresInHour('rate(1 hour)', at('2026-12-01T08:00:00Z'))).toBe(false);
    expect(() => cronFiresInHour('cron(0 25 * * ? *)', at('2026-12-01T08:00:00Z'))).toThrow("cron field value '25' outside 0-23");
  });

  it('holds each floor until the next action: weekdays 08:00-19:00 at one copy is 55 of 168 hours', () => {
    const r = scheduledMinimum(0, [{ schedule: 'cron(0 8 ? * MON-FRI *)', minCapacity: 1 }, { schedule: 'cron(0 19 * * ? *)', minCapacity: 0 }]);
    expect(r.mean).toBeCloseTo(55 / 168, 10);
    expect(r.hoursAt).toEqual({ 0: 491, 1: 239 }); // of 730 hours a month
  });

  it('keeps the base minimum without periodic schedules, and the last floor set across the weekend', () => {
    expect(scheduledMinimum(2, [])).toEqual({ mean: 2, hoursAt: { 2: 730 } });
    expect(scheduledMinimum(2, [{ schedule: 'at(2026-12-24T00:00:00)', minCapacity: 0 }])).toEqual({ mean: 2, hoursAt: { 2: 730 } });
    // Up on Monday 06:00, down on Friday 18:00: 108 of 168 hours at 2.
    const r = scheduledMinimum(0, [{ schedule: 'cron(0 6 ? * MON *)', minCapacity: 2 }, { schedule: 'cron(0 18 ? * FRI *)', minCapacity: 0 }]);
    expect(r.mean).toBeCloseTo((2 * 108) / 168, 10);
  });
});

describe('onlyRaises', () => {
  it('flags a warm-up that nothing lowers again (the floor then holds around the clock), not one paired with its lower', () => {
    const warm = { schedule: 'cron(0 8 ? * MON-FRI *)', minCapacity: 1 };
    expect(onlyRaises(0, [warm])).toBe(true);
    expect(scheduledMinimum(0, [warm]).hoursAt).toEqual({ 1: 730 });
    expect(onlyRaises(0, [warm, { schedule: 'cron(0 19 * * ? *)', minCapacity: 0 }])).toBe(false);
    expect(onlyRaises(1, [{ schedule: 'cron(0 19 * * ? *)', minCapacity: 0 }])).toBe(false);
    // A one-off (at(...)) is no periodic floor.
    expect(onlyRaises(0, [{ schedule: 'at(2026-12-24T00:00:00)', minCapacity: 2 }])).toBe(false);
  });
});
