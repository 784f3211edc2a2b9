/**
 * How an attempt ends: succeeded, stopped, failed (with the reason), timed out, or retried after
 * a backoff. Pure: the scheduler passes what the executor saw and the execution's row.
 */

/** How the process ended; `reason` and `detail` when the executor knows why (OOMKilled: the memory limit). */
export type ProcessEnd = ({ state: 'exited'; exitCode: number; signal?: string } | { state: 'vanished' }) & { reason?: string; detail?: string };

export interface AttemptRow {
  attempt: number;
  maxRestarts: number;
  stopRequested: boolean;
  timedOut: boolean;
  timeoutSeconds: number | null;
}

export interface RetryPolicy {
  backoffSeconds: number;
  maxBackoffSeconds: number;
}

export interface EndChange {
  status: 'succeeded' | 'failed' | 'stopped' | 'retrying';
  reason: string;
  message: string;
  exitCode?: number;
  /** Retrying: when the next attempt is queued. */
  retryInSeconds?: number;
}

/** Wait before retry `n` (1-based): base × 2^(n-1), capped. */
export function backoffSeconds(n: number, policy: RetryPolicy): number {
  return Math.min(policy.maxBackoffSeconds, policy.backoffSeconds * 2 ** Math.max(0, n - 1));
}

export function describeEnd(state: ProcessEnd): string {
  if (state.state === 'exited') {
    const code = state.signal ? `exit code ${state.exitCode} (killed by ${state.signal})` : `exit code ${state.exitCode}`;
    return state.detail ? `${code}: ${state.detail}` : code;
  }
  if (state.detail) return `the process disappeared without an exit code: ${state.detail}`;
  return 'the process disappeared without an exit code (killed together with its wrapper, or the host restarted)';
}

/**
 * The status an attempt ends in. A stop wins over everything; a timeout fails the run without a
 * retry (running longer would not help); a failure or a lost process is retried while restarts
 * remain (`environment.max_restarts`, or the platform default), with exponential backoff.
 */
export function decideEnd(state: ProcessEnd, row: AttemptRow, policy: RetryPolicy): EndChange {
  const exitCode = state.state === 'exited' ? state.exitCode : undefined;
  const withCode = exitCode !== undefined ? { exitCode } : {};
  if (row.stopRequested) return { status: 'stopped', reason: 'Stopped', message: describeEnd(state), ...withCode };
  if (row.timedOut) {
    return { status: 'failed', reason: 'Timeout', message: `exceeded its timeout of ${row.timeoutSeconds ?? '?'} s; ${describeEnd(state)}`, ...withCode };
  }
  if (state.state === 'exited' && state.exitCode === 0) return { status: 'succeeded', reason: 'Succeeded', message: 'exit code 0', exitCode: 0 };
  const failed: EndChange =
    state.state === 'exited'
      ? { status: 'failed', reason: state.reason ?? (state.signal ? 'Killed' : 'Error'), message: describeEnd(state), exitCode: state.exitCode }
      : { status: 'failed', reason: state.reason ?? 'Lost', message: describeEnd(state) };
  if (row.attempt >= row.maxRestarts) {
    return row.maxRestarts > 0 ? { ...failed, message: `${failed.message} (attempt ${row.attempt + 1} of ${row.maxRestarts + 1}, no restarts left)` } : failed;
  }
  const retry = row.attempt + 1;
  const wait = backoffSeconds(retry, policy);
  return {
    status: 'retrying',
    reason: 'Retrying',
    message: `attempt ${row.attempt + 1} of ${row.maxRestarts + 1} failed (${failed.reason}: ${failed.message}); restart ${retry} of ${row.maxRestarts} in ${wait} s`,
    ...withCode,
    retryInSeconds: wait,
  };
}

/** True when a running attempt has been running longer than its timeout. */
export function isOverdue(startedAt: Date | null, timeoutSeconds: number | null, now: number): boolean {
  return timeoutSeconds !== null && timeoutSeconds > 0 && startedAt !== null && now - startedAt.getTime() >= timeoutSeconds * 1000;
}
