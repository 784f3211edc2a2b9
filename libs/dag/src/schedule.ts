/**
 * Pipeline schedules (`schedule: {kind: interval|cron, ...}`) as pure functions of a small state and
 * `now`: which slots to fire, which were missed while the service was down, when to look again.
 * The state is plain JSON; the service stores it after each tick and passes it back after a restart.
 */
import type { RunStatus } from '@myelin/contracts';
import type { Schedule } from '@myelin/spec';
import { CronExpression, nextCronTime, parseCron } from './cron';
import { toMillis } from './graph';
import type { Millis } from './types';

/** What to do with slots whose time passed while nothing ticked (downtime). */
export type CatchUpPolicy = 'none' | 'latest' | 'all';

export interface ScheduleState {
  /** Every slot at or before `cursor` has been fired or dropped. */
  cursor: Millis;
  /** depends_on_past: the slot whose run has not finished yet. */
  inFlight?: Millis;
  /** The last slot whose run finished, and how. */
  last?: { slot: Millis; status: RunStatus };
}

export interface ScheduleOptions {
  /** Default `latest`. */
  catchUp?: CatchUpPolicy;
  /** A slot is on time up to this long after its time (default 60 s); later, it is missed. */
  graceMs?: number;
  /** `all`: at most this many slots per tick; the rest stay due (`nextAt` = now). Default 1000. */
  maxFire?: number;
}

export interface ScheduleTick {
  /** Slots to start a pipeline run for now, oldest first. */
  fire: Millis[];
  /** Slots dropped by the catch-up policy (the first 1000), oldest first. */
  missed: Millis[];
  missedCount: number;
  /**
   * When to tick next (the next slot, or now when due slots remain); undefined when the schedule is
   * over, or when a depends_on_past run is in flight (tick again once it finishes).
   */
  nextAt?: Millis;
  /** Why nothing can fire (depends_on_past). */
  blocked?: string;
  /** No slot remains (past `end_at`) and no run is in flight. */
  finished: boolean;
  state: ScheduleState;
}

interface Compiled {
  startAt?: Millis;
  endAt?: Millis;
  frequencyMs?: number;
  cron?: CronExpression;
  dependsOnPast: boolean;
}

const compiled = new WeakMap<Schedule, Compiled>();

function compile(s: Schedule): Compiled {
  const hit = compiled.get(s);
  if (hit) return hit;
  const c: Compiled = {
    startAt: toMillis(s.start_at),
    endAt: toMillis(s.end_at),
    dependsOnPast: s.depends_on_past ?? false,
  };
  if (s.start_at !== undefined && c.startAt === undefined)
    throw new Error(`invalid schedule start_at ${JSON.stringify(s.start_at)}`);
  if (s.end_at !== undefined && c.endAt === undefined)
    throw new Error(`invalid schedule end_at ${JSON.stringify(s.end_at)}`);
  if (s.kind === 'interval') {
    if (c.startAt === undefined) throw new Error('an interval schedule needs start_at');
    if (!(s.frequency > 0)) throw new Error(`an interval schedule needs a frequency > 0, got ${s.frequency}`);
    c.frequencyMs = s.frequency * 1000;
  } else c.cron = parseCron(s.cron);
  compiled.set(s, c);
  return c;
}

/** The first slot strictly after `after`, within start_at/end_at. */
export function nextScheduleSlot(schedule: Schedule, after: Millis): Millis | undefined {
  return nextSlot(compile(schedule), after);
}

function nextSlot(c: Compiled, after: Millis): Millis | undefined {
  let t: Millis | undefined;
  if (c.frequencyMs !== undefined) {
    const start = c.startAt!;
    t = after < start ? start : start + (Math.floor((after - start) / c.frequencyMs) + 1) * c.frequencyMs;
  } else {
    const from = c.startAt !== undefined ? Math.max(after, c.startAt - 1) : after;
    t = nextCronTime(c.cron!, from);
  }
  return t !== undefined && (c.endAt === undefined || t <= c.endAt) ? t : undefined;
}

/** Slots in (after, until]: the first `keep`, the last one, and how many. */
function slotsIn(
  c: Compiled,
  after: Millis,
  until: Millis,
  keep: number,
): { slots: Millis[]; last?: Millis; count: number } {
  const out = { slots: [] as Millis[], last: undefined as Millis | undefined, count: 0 };
  if (until <= after) return out;
  if (c.frequencyMs !== undefined) {
    const first = nextSlot(c, after);
    if (first === undefined || first > until) return out;
    const end = c.endAt !== undefined ? Math.min(until, c.endAt) : until;
    out.count = Math.floor((end - first) / c.frequencyMs) + 1;
    out.last = first + (out.count - 1) * c.frequencyMs;
    for (let k = 0; k < Math.min(out.count, keep); k++) out.slots.push(first + k * c.frequencyMs);
    return out;
  }
  for (let t = nextSlot(c, after); t !== undefined && t <= until; t = nextSlot(c, t)) {
    if (out.count < keep) out.slots.push(t);
    out.last = t;
    out.count++;
  }
  return out;
}

/**
 * The state of a schedule registered at `now`. Slots before `now` are not due unless `backfill`
 * (then every slot from `start_at` on is due and the catch-up policy decides).
 */
export function createScheduleState(
  schedule: Schedule,
  now: Millis,
  options: { backfill?: boolean } = {},
): ScheduleState {
  const c = compile(schedule);
  const fromStart = c.startAt !== undefined ? c.startAt - 1 : now - 1;
  return { cursor: options.backfill ? fromStart : Math.max(fromStart, now - 1) };
}

/** Records the end of the run of `slot` (for depends_on_past). */
export function onScheduledRunDone(state: ScheduleState, slot: Millis, status: RunStatus): ScheduleState {
  const next: ScheduleState = { cursor: state.cursor, last: { slot, status } };
  if (state.inFlight !== undefined && state.inFlight !== slot) next.inFlight = state.inFlight;
  return next;
}

const iso = (t: Millis): string => new Date(t).toISOString();
const MISSED_LISTED = 1000;

/**
 * Decides what is due at `now`:
 * - `all` fires every due slot, oldest first (at most `maxFire`; with depends_on_past one at a time);
 * - `latest` fires the newest due slot and drops the older ones;
 * - `none` fires the slots still on time (within `graceMs`) and drops the late ones.
 * With depends_on_past nothing fires while a run is in flight or after a run that did not succeed.
 */
export function scheduleTick(
  schedule: Schedule,
  state: ScheduleState,
  now: Millis,
  options: ScheduleOptions = {},
): ScheduleTick {
  const c = compile(schedule);
  const catchUp = options.catchUp ?? 'latest';
  const grace = options.graceMs ?? 60_000;
  const maxFire = Math.max(1, options.maxFire ?? 1000);
  const result = (
    fire: Millis[],
    missed: Millis[],
    missedCount: number,
    next: ScheduleState,
    nextAt: Millis | undefined,
    blocked?: string,
  ): ScheduleTick => {
    const r: ScheduleTick = {
      fire,
      missed,
      missedCount,
      state: next,
      finished: nextAt === undefined && next.inFlight === undefined && !blocked,
    };
    if (nextAt !== undefined) r.nextAt = nextAt;
    if (blocked) r.blocked = blocked;
    return r;
  };
  if (c.dependsOnPast) {
    if (state.inFlight !== undefined) {
      return result(
        [],
        [],
        0,
        state,
        undefined,
        `waiting for the run of ${iso(state.inFlight)} to finish (depends_on_past)`,
      );
    }
    if (state.last && state.last.status !== 'succeeded' && state.last.status !== 'done') {
      return result(
        [],
        [],
        0,
        state,
        undefined,
        `the run of ${iso(state.last.slot)} ended ${state.last.status}; depends_on_past holds the schedule until that slot succeeds`,
      );
    }
  }
  const cap = c.dependsOnPast ? 1 : maxFire;
  let fire: Millis[] = [];
  let missed: Millis[] = [];
  let missedCount = 0;
  let cursor = Math.max(state.cursor, now);
  let more = false;
  if (catchUp === 'all') {
    const due = slotsIn(c, state.cursor, now, cap);
    fire = due.slots;
    if (due.count > cap) {
      cursor = fire[fire.length - 1];
      more = true;
    }
  } else if (catchUp === 'latest') {
    const due = slotsIn(c, state.cursor, now, MISSED_LISTED + 1);
    if (due.last !== undefined) {
      fire = [due.last];
      missed = due.slots.filter((t) => t !== due.last).slice(0, MISSED_LISTED);
      missedCount = due.count - 1;
    }
  } else {
    const lateUntil = Math.max(state.cursor, now - grace - 1);
    const late = slotsIn(c, state.cursor, lateUntil, MISSED_LISTED);
    const onTime = slotsIn(c, lateUntil, now, c.dependsOnPast ? MISSED_LISTED : cap);
    missed = late.slots;
    missedCount = late.count;
    if (c.dependsOnPast && onTime.last !== undefined) {
      // one run at a time: the newest on-time slot runs, the older on-time ones are dropped
      fire = [onTime.last];
      const dropped = onTime.slots.filter((t) => t !== onTime.last);
      missed = [...missed, ...dropped].slice(0, MISSED_LISTED);
      missedCount += onTime.count - 1;
    } else {
      fire = onTime.slots;
      if (onTime.count > cap) {
        cursor = fire[fire.length - 1];
        more = true;
      }
    }
  }
  const next: ScheduleState = { cursor };
  if (state.last) next.last = state.last;
  if (c.dependsOnPast && fire.length) next.inFlight = fire[0];
  // with a run in flight under depends_on_past the caller ticks again when it finishes (`onScheduledRunDone`)
  const nextAt = next.inFlight !== undefined ? undefined : more ? now : nextSlot(c, cursor);
  return result(fire, missed, missedCount, next, nextAt);
}
