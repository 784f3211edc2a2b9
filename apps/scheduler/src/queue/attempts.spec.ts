import { backoffSeconds, decideEnd, isOverdue } from './attempts';

const policy = { backoffSeconds: 2, maxBackoffSeconds: 10 };
const row = (fields: Partial<Parameters<typeof decideEnd>[1]> = {}) => ({ attempt: 0, maxRestarts: 0, stopRequested: false, timedOut: false, timeoutSeconds: null, ...fields });

describe('attempts', () => {
  it('backs off exponentially, capped', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffSeconds(n, policy))).toEqual([2, 4, 8, 10, 10]);
  });

  it('succeeds on exit 0 and fails with the exit code otherwise when no restarts are allowed', () => {
    expect(decideEnd({ state: 'exited', exitCode: 0 }, row(), policy)).toEqual({ status: 'succeeded', reason: 'Succeeded', message: 'exit code 0', exitCode: 0 });
    expect(decideEnd({ state: 'exited', exitCode: 3 }, row(), policy)).toEqual({ status: 'failed', reason: 'Error', message: 'exit code 3', exitCode: 3 });
    expect(decideEnd({ state: 'exited', exitCode: 137, signal: 'SIGKILL' }, row(), policy)).toMatchObject({ status: 'failed', reason: 'Killed' });
    expect(decideEnd({ state: 'vanished' }, row(), policy)).toMatchObject({ status: 'failed', reason: 'Lost' });
  });

  it('fails a run the kernel killed for its memory limit as OOMKilled, saying so, and retries it like any failure', () => {
    const oom = { state: 'exited' as const, exitCode: 137, signal: 'SIGKILL', reason: 'OOMKilled', detail: 'the kernel killed a process of the run for going over its memory limit' };
    expect(decideEnd(oom, row(), policy)).toEqual({
      status: 'failed',
      reason: 'OOMKilled',
      message: 'exit code 137 (killed by SIGKILL): the kernel killed a process of the run for going over its memory limit',
      exitCode: 137,
    });
    expect(decideEnd({ state: 'vanished', reason: 'OOMKilled', detail: 'over its memory limit' }, row(), policy)).toEqual({
      status: 'failed',
      reason: 'OOMKilled',
      message: 'the process disappeared without an exit code: over its memory limit',
    });
    expect(decideEnd(oom, row({ maxRestarts: 1 }), policy)).toMatchObject({ status: 'retrying', message: expect.stringContaining('(OOMKilled: exit code 137') });
  });

  it('retries a failed or lost attempt while restarts remain, saying which attempt and when', () => {
    expect(decideEnd({ state: 'exited', exitCode: 3 }, row({ maxRestarts: 2 }), policy)).toEqual({
      status: 'retrying',
      reason: 'Retrying',
      message: 'attempt 1 of 3 failed (Error: exit code 3); restart 1 of 2 in 2 s',
      exitCode: 3,
      retryInSeconds: 2,
    });
    expect(decideEnd({ state: 'vanished' }, row({ attempt: 1, maxRestarts: 2 }), policy)).toMatchObject({ status: 'retrying', retryInSeconds: 4 });
    expect(decideEnd({ state: 'exited', exitCode: 3 }, row({ attempt: 2, maxRestarts: 2 }), policy)).toEqual({
      status: 'failed',
      reason: 'Error',
      message: 'exit code 3 (attempt 3 of 3, no restarts left)',
      exitCode: 3,
    });
  });

  it('never retries a stopped or timed-out run, and a stop wins over a timeout', () => {
    expect(decideEnd({ state: 'exited', exitCode: 143 }, row({ maxRestarts: 5, stopRequested: true }), policy)).toMatchObject({ status: 'stopped', reason: 'Stopped' });
    expect(decideEnd({ state: 'exited', exitCode: 143 }, row({ maxRestarts: 5, timedOut: true, timeoutSeconds: 60 }), policy)).toEqual({
      status: 'failed',
      reason: 'Timeout',
      message: 'exceeded its timeout of 60 s; exit code 143',
      exitCode: 143,
    });
    // Even an exit 0 after the timeout's SIGTERM is a timeout.
    expect(decideEnd({ state: 'exited', exitCode: 0 }, row({ timedOut: true, timeoutSeconds: 1 }), policy)).toMatchObject({ status: 'failed', reason: 'Timeout' });
    expect(decideEnd({ state: 'exited', exitCode: 0 }, row({ timedOut: true, stopRequested: true }), policy)).toMatchObject({ status: 'stopped' });
  });

  it('knows when an attempt is overdue', () => {
    const started = new Date(1_000_000);
    expect(isOverdue(started, 10, 1_009_999)).toBe(false);
    expect(isOverdue(started, 10, 1_010_000)).toBe(true);
    expect(isOverdue(started, null, 9e12)).toBe(false);
    expect(isOverdue(null, 10, 9e12)).toBe(false);
  });
});
