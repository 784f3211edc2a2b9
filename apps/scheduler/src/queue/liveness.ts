/**
 * Is a live run still alive? Pure: the scheduler passes what the executor saw and the run's row.
 *
 * - The executor sees the process or pod: alive (its heartbeat is refreshed, at most once per
 *   throttle period, in one batched statement per pass).
 * - The executor knows it ended (an exit code; a local process gone for certain; a pod it saw
 *   deleted): the attempt ends as today (./attempts.ts decides succeeded/failed/Lost/retrying).
 * - The executor cannot tell (`unknown`: no process id was ever recorded, a pod never seen): the
 *   run waits for a sign of life, a heartbeat from its tracking client or the process showing up,
 *   for MYELIN_ZOMBIE_SECONDS since the last one; then it fails with reason `Zombie` (not retried:
 *   the job may still run somewhere, and a second copy would run beside it).
 */
import type { ProcessState } from '../executors/executor';

export interface LivenessRow {
  /** Last heartbeat recorded (process seen alive, or the tracking client's heartbeat). */
  heartbeatAt: Date | null;
  /** Start of the current attempt: the first sign of life of a run that never beat. */
  startedAt: Date | null;
  stopRequested: boolean;
}

export interface LivenessPolicy {
  /** How long a run the executor cannot see may stay silent. */
  zombieSeconds: number;
  /** Heartbeats of a run are written at most this often. */
  heartbeatEverySeconds: number;
}

export interface ZombieChange {
  status: 'failed' | 'stopped';
  reason: 'Zombie' | 'Stopped';
  message: string;
}

export type LivenessVerdict =
  | { verdict: 'alive'; writeHeartbeat: boolean }
  | { verdict: 'ended' }
  | { verdict: 'waiting'; silentSeconds: number }
  | { verdict: 'zombie'; change: ZombieChange };

/**
 * Heartbeats are written at most this often: a fifth of the zombie window (so a run is refreshed
 * several times within it), at most 30 s and at least 1 s.
 */
export function heartbeatEverySeconds(zombieSeconds: number): number {
  return Math.max(1, Math.min(30, Math.floor(zombieSeconds / 5)));
}

/** The latest of the last heartbeat and the attempt's start; null when neither is known. */
export function lastSignOfLife(row: Pick<LivenessRow, 'heartbeatAt' | 'startedAt'>): Date | null {
  const times = [row.heartbeatAt, row.startedAt].filter((t): t is Date => t instanceof Date);
  return times.length ? new Date(Math.max(...times.map((t) => t.getTime()))) : null;
}

/** True when the stored heartbeat is missing or older than the throttle period. */
export function heartbeatDue(heartbeatAt: Date | null, now: number, everySeconds: number): boolean {
  return heartbeatAt === null || now - heartbeatAt.getTime() >= everySeconds * 1000;
}

export function decideLiveness(state: ProcessState, row: LivenessRow, now: number, policy: LivenessPolicy): LivenessVerdict {
  if (state.state === 'running') return { verdict: 'alive', writeHeartbeat: heartbeatDue(row.heartbeatAt, now, policy.heartbeatEverySeconds) };
  if (state.state !== 'unknown') return { verdict: 'ended' };
  const since = lastSignOfLife(row);
  const silentMs = since ? Math.max(0, now - since.getTime()) : Infinity;
  if (silentMs < policy.zombieSeconds * 1000) return { verdict: 'waiting', silentSeconds: Math.floor(silentMs / 1000) };
  const silence = since
    ? `no heartbeat for ${Math.floor(silentMs / 1000)} s (last sign of life at ${since.toISOString()})`
    : 'no heartbeat ever recorded';
  const detail = `${silence} and ${state.message}; given up after MYELIN_ZOMBIE_SECONDS=${policy.zombieSeconds}`;
  return row.stopRequested
    ? { verdict: 'zombie', change: { status: 'stopped', reason: 'Stopped', message: `stop requested; ${detail}` } }
    : { verdict: 'zombie', change: { status: 'failed', reason: 'Zombie', message: detail } };
}
