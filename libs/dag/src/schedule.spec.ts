import type { Schedule } from '@myelin/spec';
import {
  createScheduleState,
  nextScheduleSlot,
  onScheduledRunDone,
  scheduleTick,
  ScheduleState,
} from './schedule';

const at = (hhmm: string, day = '2024-03-04'): number => Date.parse(`${day}T${hhmm}:00Z`);
const hhmm = (t: number): string => new Date(t).toISOString().slice(11, 16);
const MIN = 60_000;
/** What a service stores and reads back across a restart. */
const persist = (s: ScheduleState): ScheduleState => JSON.parse(JSON.stringify(s));

describe('interval schedules', () => {
  const every2h: Schedule = {
    kind: 'interval',
    start_at: '2024-03-04T08:00:00Z',
    end_at: '2024-03-04T14:00:00Z',
    frequency: 7200,
  };

  it('fires on start_at + k * frequency up to end_at, then finishes', () => {
    let state = createScheduleState(every2h, at('07:00'));
    expect(nextScheduleSlot(every2h, state.cursor)).toBe(at('08:00'));
    const fired: string[] = [];
    let finished = false;
    for (let now = at('07:00'); now <= at('16:00'); now += 10 * MIN) {
      const r = scheduleTick(every2h, state, now);
      fired.push(...r.fire.map(hhmm));
      state = r.state;
      finished = r.finished;
    }
    expect(fired).toEqual(['08:00', '10:00', '12:00', '14:00']);
    expect(finished).toBe(true);
  });

  it('does not fire slots before registration unless asked to backfill', () => {
    expect(scheduleTick(every2h, createScheduleState(every2h, at('11:00')), at('11:00')).fire).toEqual([]);
    const r = scheduleTick(
      every2h,
      createScheduleState(every2h, at('11:00'), { backfill: true }),
      at('11:00'),
      { catchUp: 'all' },
    );
    expect(r.fire.map(hhmm)).toEqual(['08:00', '10:00']);
  });

  it('catches up a long downtime in bounded batches', () => {
    const everySecond: Schedule = { kind: 'interval', start_at: '2024-03-04T00:00:00Z', frequency: 1 };
    let state: ScheduleState = { cursor: at('10:00') };
    const now = at('11:00');
    let total = 0;
    let r = scheduleTick(everySecond, state, now, { catchUp: 'all', maxFire: 1000 });
    for (; r.nextAt === now; r = scheduleTick(everySecond, state, now, { catchUp: 'all', maxFire: 1000 })) {
      total += r.fire.length;
      state = r.state;
    }
    total += r.fire.length;
    expect(total).toBe(3600);
    const latest = scheduleTick(everySecond, { cursor: at('10:00') }, now, { catchUp: 'latest' });
    expect(latest).toMatchObject({ fire: [now], missedCount: 3599 });
    expect(latest.missed).toHaveLength(1000);
  });
});

describe('cron schedules over a simulated clock, with a restart during missed slots', () => {
  const hourly: Schedule = { kind: 'cron', cron: '0 * * * *' };

  /** A service that ticks at each `nextAt` from `from` up to `to`; returns what it fired and the stored state. */
  function runClock(
    schedule: Schedule,
    state: ScheduleState,
    from: number,
    to: number,
    policy: 'none' | 'latest' | 'all',
  ) {
    const fired: string[] = [];
    const missed: string[] = [];
    for (let now: number | undefined = from; now !== undefined && now <= to;) {
      const r = scheduleTick(schedule, state, now, { catchUp: policy });
      fired.push(...r.fire.map(hhmm));
      missed.push(...r.missed.map(hhmm));
      state = r.state;
      now = r.nextAt;
    }
    return { fired, missed, state: persist(state) };
  }

  it.each([
    ['all', ['11:00', '12:00', '13:00'], []],
    ['latest', ['13:00'], ['11:00', '12:00']],
    ['none', [], ['11:00', '12:00', '13:00']],
  ] as const)('catch-up %s: the service is down 10:30-13:15', (policy, afterRestart, missedAfterRestart) => {
    const before = runClock(
      hourly,
      createScheduleState(hourly, at('08:55')),
      at('08:55'),
      at('10:25'),
      policy,
    );
    expect(before.fired).toEqual(['09:00', '10:00']);
    // down from 10:30; back at 13:15 with the stored state
    const r = scheduleTick(hourly, before.state, at('13:15'), { catchUp: policy });
    expect(r.fire.map(hhmm)).toEqual(afterRestart);
    expect(r.missed.map(hhmm)).toEqual(missedAfterRestart);
    expect(r.missedCount).toBe(missedAfterRestart.length);
    expect(r.nextAt).toBe(at('14:00'));
    const after = runClock(hourly, persist(r.state), r.nextAt!, at('15:05'), policy);
    expect(after.fired).toEqual(['14:00', '15:00']);
  });

  it('counts a slot within the grace period as on time after a short restart', () => {
    const state = createScheduleState(hourly, at('10:01'));
    expect(scheduleTick(hourly, state, at('11:00') + 30_000, { catchUp: 'none' }).fire.map(hhmm)).toEqual([
      '11:00',
    ]);
    expect(scheduleTick(hourly, state, at('11:02'), { catchUp: 'none' })).toMatchObject({
      fire: [],
      missedCount: 1,
    });
  });

  it('depends_on_past: one run at a time, each after the previous one succeeded, across the restart', () => {
    const dop: Schedule = { kind: 'cron', cron: '0 * * * *', depends_on_past: true };
    let state = createScheduleState(dop, at('10:30'));
    // the service was down; at 13:15 three slots are due
    let r = scheduleTick(dop, state, at('13:15'), { catchUp: 'all' });
    expect(r.fire.map(hhmm)).toEqual(['11:00']);
    expect(r.nextAt).toBeUndefined(); // tick again when the run finishes
    state = persist(r.state);
    expect(scheduleTick(dop, state, at('13:16'), { catchUp: 'all' })).toMatchObject({
      fire: [],
      blocked: 'waiting for the run of 2024-03-04T11:00:00.000Z to finish (depends_on_past)',
    });
    state = onScheduledRunDone(state, at('11:00'), 'succeeded');
    r = scheduleTick(dop, state, at('13:20'), { catchUp: 'all' });
    expect(r.fire.map(hhmm)).toEqual(['12:00']);
    // restart while 12:00 runs: the stored state still knows it is in flight
    state = persist(r.state);
    expect(scheduleTick(dop, state, at('13:30'), { catchUp: 'all' }).fire).toEqual([]);
    state = onScheduledRunDone(state, at('12:00'), 'failed');
    r = scheduleTick(dop, state, at('14:05'), { catchUp: 'all' });
    expect(r).toMatchObject({
      fire: [],
      finished: false,
      blocked:
        'the run of 2024-03-04T12:00:00.000Z ended failed; depends_on_past holds the schedule until that slot succeeds',
    });
    // the failed slot re-run succeeds: the schedule moves on
    state = onScheduledRunDone(state, at('12:00'), 'succeeded');
    r = scheduleTick(dop, state, at('14:10'), { catchUp: 'all' });
    expect(r.fire.map(hhmm)).toEqual(['13:00']);
  });

  it('depends_on_past with latest: the newest due slot runs, the older ones are dropped', () => {
    const dop: Schedule = { kind: 'cron', cron: '0 * * * *', depends_on_past: true };
    const r = scheduleTick(dop, createScheduleState(dop, at('10:30')), at('13:15'), { catchUp: 'latest' });
    expect(r).toMatchObject({
      fire: [at('13:00')],
      missed: [at('11:00'), at('12:00')],
      state: { inFlight: at('13:00') },
    });
  });

  it('respects start_at and end_at of a cron schedule', () => {
    const window: Schedule = {
      kind: 'cron',
      cron: '*/30 * * * *',
      start_at: '2024-03-04T09:10:00Z',
      end_at: '2024-03-04T10:30:00Z',
    };
    const run = runClock(window, createScheduleState(window, at('08:00')), at('08:00'), at('12:00'), 'all');
    expect(run.fired).toEqual(['09:30', '10:00', '10:30']);
    expect(scheduleTick(window, run.state, at('12:00')).finished).toBe(true);
  });
});
