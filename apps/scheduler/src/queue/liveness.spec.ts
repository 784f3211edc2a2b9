import { decideLiveness, heartbeatDue, heartbeatEverySeconds, lastSignOfLife, LivenessRow } from './liveness';

const policy = { zombieSeconds: 300, heartbeatEverySeconds: 30 };
const T0 = Date.parse('2025-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);
const row = (fields: Partial<LivenessRow> = {}): LivenessRow => ({ heartbeatAt: null, startedAt: at(0), stopRequested: false, ...fields });
const unknown = { state: 'unknown' as const, message: 'no pod of the run can be found' };

describe('liveness', () => {
  it('a run seen alive is alive; its heartbeat is written at most once per throttle period', () => {
    expect(decideLiveness({ state: 'running' }, row(), T0, policy)).toEqual({ verdict: 'alive', writeHeartbeat: true });
    expect(decideLiveness({ state: 'running' }, row({ heartbeatAt: at(10) }), T0 + 39_999, policy)).toEqual({ verdict: 'alive', writeHeartbeat: false });
    expect(decideLiveness({ state: 'running' }, row({ heartbeatAt: at(10) }), T0 + 40_000, policy)).toEqual({ verdict: 'alive', writeHeartbeat: true });
  });

  it('a run the executor knows ended is settled as before (exit code, or a process gone for certain)', () => {
    expect(decideLiveness({ state: 'exited', exitCode: 3 }, row(), T0, policy)).toEqual({ verdict: 'ended' });
    // `vanished` (a local process gone for sure, a pod seen deleted) ends at once, whatever the heartbeat says.
    expect(decideLiveness({ state: 'vanished' }, row({ heartbeatAt: at(0) }), T0 + 1000, policy)).toEqual({ verdict: 'ended' });
  });

  it('a run the executor cannot see waits for the zombie window, counted from the last heartbeat', () => {
    expect(decideLiveness(unknown, row({ heartbeatAt: at(100) }), T0 + 399_000, policy)).toEqual({ verdict: 'waiting', silentSeconds: 299 });
    const verdict = decideLiveness(unknown, row({ heartbeatAt: at(100) }), T0 + 400_000, policy);
    expect(verdict).toEqual({
      verdict: 'zombie',
      change: {
        status: 'failed',
        reason: 'Zombie',
        message: `no heartbeat for 300 s (last sign of life at ${at(100).toISOString()}) and no pod of the run can be found; given up after MYELIN_ZOMBIE_SECONDS=300`,
      },
    });
  });

  it('a run that never beat counts from its start; a heartbeat received later keeps it waiting', () => {
    expect(decideLiveness(unknown, row(), T0 + 299_000, policy)).toMatchObject({ verdict: 'waiting' });
    expect(decideLiveness(unknown, row(), T0 + 300_000, policy)).toMatchObject({ verdict: 'zombie', change: { reason: 'Zombie' } });
    // The tracking client still beats (the job runs where the executor cannot see it): not a zombie.
    expect(decideLiveness(unknown, row({ heartbeatAt: at(290) }), T0 + 300_000, policy)).toEqual({ verdict: 'waiting', silentSeconds: 10 });
  });

  it('a slow-starting node gets the window it is configured with', () => {
    expect(decideLiveness(unknown, row(), T0 + 900_000, { ...policy, zombieSeconds: 1200 })).toMatchObject({ verdict: 'waiting' });
    expect(decideLiveness(unknown, row(), T0 + 1_200_000, { ...policy, zombieSeconds: 1200 })).toMatchObject({ verdict: 'zombie' });
  });

  it('no sign of life at all is a zombie at once; a stop requested meanwhile ends it stopped', () => {
    expect(decideLiveness(unknown, row({ startedAt: null }), T0, policy)).toMatchObject({
      verdict: 'zombie',
      change: { status: 'failed', reason: 'Zombie', message: expect.stringMatching(/^no heartbeat ever recorded and no pod/) },
    });
    expect(decideLiveness(unknown, row({ stopRequested: true }), T0 + 300_000, policy)).toMatchObject({
      verdict: 'zombie',
      change: { status: 'stopped', reason: 'Stopped', message: expect.stringMatching(/^stop requested; no heartbeat for 300 s/) },
    });
  });

  it('helpers: last sign of life, throttle, heartbeat period from the window', () => {
    expect(lastSignOfLife({ heartbeatAt: at(5), startedAt: at(9) })).toEqual(at(9));
    expect(lastSignOfLife({ heartbeatAt: at(50), startedAt: at(9) })).toEqual(at(50));
    expect(lastSignOfLife({ heartbeatAt: null, startedAt: null })).toBeNull();
    expect(heartbeatDue(null, T0, 30)).toBe(true);
    expect(heartbeatDue(at(0), T0 + 29_999, 30)).toBe(false);
    expect(heartbeatEverySeconds(300)).toBe(30);
    expect(heartbeatEverySeconds(60)).toBe(12);
    expect(heartbeatEverySeconds(3)).toBe(1);
    expect(heartbeatEverySeconds(86_400)).toBe(30);
  });
});
