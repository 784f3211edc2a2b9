import fc from 'fast-check';
import { cronError, nextCronTime, parseCron } from './cron';

const at = (iso: string): number => Date.parse(iso);
const next = (expr: string, after: string): string | undefined => {
  const t = nextCronTime(expr, at(after));
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('cron parsing', () => {
  it('reads lists, ranges, steps, names and 7 as Sunday', () => {
    const c = parseCron('*/20 9-17/4 1,15 jan-mar MON-fri');
    const on = (xs: readonly boolean[]) => xs.flatMap((b, i) => (b ? [i] : []));
    expect(on(c.minutes)).toEqual([0, 20, 40]);
    expect(on(c.hours)).toEqual([9, 13, 17]);
    expect(on(c.days)).toEqual([1, 15]);
    expect(on(c.months)).toEqual([1, 2, 3]);
    expect(on(c.weekdays)).toEqual([1, 2, 3, 4, 5]);
    expect(on(parseCron('0 0 * * 7').weekdays)).toEqual([0]);
    expect(on(parseCron('5/20 * * * *').minutes)).toEqual([5, 25, 45]);
    expect(parseCron('@daily')).toEqual({ ...parseCron('0 0 * * *'), source: '@daily' });
  });

  it.each([
    ['0 0 * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 4'],
    ['60 * * * *', 'minute `60` is out of range 0-59'],
    ['* * 0 * *', 'day of month `0` is out of range 1-31'],
    ['5-1 * * * *', 'minute range `5-1` runs backwards'],
    ['*/0 * * * *', 'invalid step in minute field `*/0`'],
    ['* * * foo *', 'invalid month `foo`'],
    ['* * * * mon-', 'invalid day of week field `mon-`'],
    ['*-5 * * * *', 'invalid minute field `*-5`'],
    [
      '@reboot',
      'unknown macro `@reboot`; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly',
    ],
  ])('rejects %j: %s', (expr, message) => {
    expect(cronError(expr)).toBe(message);
  });
});

describe('next cron time (UTC)', () => {
  it.each([
    ['0 0 * * *', '2024-01-01T00:00:00Z', '2024-01-02T00:00:00.000Z'], // strictly after
    ['*/15 * * * *', '2024-01-01T10:07:30Z', '2024-01-01T10:15:00.000Z'],
    ['0 9-17/4 * * mon-fri', '2024-01-05T17:00:00Z', '2024-01-08T09:00:00.000Z'], // Friday evening -> Monday
    ['0 0 13 * fri', '2024-01-01T00:00:00Z', '2024-01-05T00:00:00.000Z'], // both day fields restricted: either matches
    ['0 0 */2 * mon', '2024-01-02T00:00:00Z', '2024-01-15T00:00:00.000Z'], // `*/2` counts as `*`: both must match (odd day and Monday)
    ['0 0 31 * *', '2024-01-31T00:00:00Z', '2024-03-31T00:00:00.000Z'],
    ['0 0 29 2 *', '2024-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['30 23 31 12 *', '2024-12-31T23:30:00Z', '2025-12-31T23:30:00.000Z'],
    ['@hourly', '2024-01-01T10:59:59Z', '2024-01-01T11:00:00.000Z'],
    ['@weekly', '2024-01-01T00:00:00Z', '2024-01-07T00:00:00.000Z'],
  ])('%s after %s is %s', (expr, after, expected) => {
    expect(next(expr, after)).toBe(expected);
  });

  it('gives up on dates that never come', () => {
    expect(next('0 0 30 2 *', '2024-01-01T00:00:00Z')).toBeUndefined();
    expect(next('0 0 31 4 *', '2024-01-01T00:00:00Z')).toBeUndefined();
  });

  it('agrees with a minute-by-minute scan', () => {
    const field = (min: number, max: number) =>
      fc.oneof(
        fc.constant('*'),
        fc.integer({ min, max }).map(String),
        fc
          .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
          .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.integer({ min: 1, max: 9 }).map((s) => `*/${s}`),
        fc.uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 3 }).map((xs) => xs.join(',')),
      );
    const expr = fc
      .tuple(field(0, 59), field(0, 23), field(1, 31), fc.constant('*'), field(0, 7))
      .map((f) => f.join(' '));
    const start = fc.integer({ min: Date.UTC(2023, 0, 1), max: Date.UTC(2026, 0, 1) });
    fc.assert(
      fc.property(expr, start, (e, t0) => {
        const c = parseCron(e);
        const horizon = 62 * 24 * 60; // minutes: any expression with month `*` fires within two months
        let expected: number | undefined;
        for (let k = 1, t = Math.floor(t0 / 60000) * 60000 + 60000; k <= horizon; k++, t += 60000) {
          const d = new Date(t);
          const dom = c.days[d.getUTCDate()];
          const dow = c.weekdays[d.getUTCDay()];
          const day = c.dayOfMonthRestricted && c.dayOfWeekRestricted ? dom || dow : dom && dow;
          if (c.minutes[d.getUTCMinutes()] && c.hours[d.getUTCHours()] && day) {
            expected = t;
            break;
          }
        }
        const got = nextCronTime(c, t0);
        if (expected !== undefined) expect(got).toBe(expected);
        else expect(got === undefined || got > t0 + horizon * 60000).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
