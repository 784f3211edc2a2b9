import { randomUUID } from 'node:crypto';
import { RunStart } from '@myelin/contracts';
import { ExecutionsRepository } from '@myelin/persistence';
import { waitFor } from '@myelin/testing';
import { LocalProcessExecutor } from '../executors/local/local-process.executor';
import { startTestScheduler, TestScheduler } from '../testing/test-scheduler';

jest.setTimeout(60_000);

/**
 * An idle scheduler reads its executions only at its once-a-second inspection, not at every pass
 * (every 50 ms here). The executor's notice that a process exited can arrive after the run was
 * already settled (the inspection read its exit code first); such a notice must not keep every
 * later pass reading the live runs for a run that is not live any more.
 */
describe('scheduler: an idle pass reads nothing', () => {
  let scheduler: TestScheduler;
  let notifyExit: (runUuid: string) => void = () => undefined;
  const reads = jest.spyOn(ExecutionsRepository.prototype, 'listLean');

  beforeAll(async () => {
    // The scheduler registers one listener for process exits: keep it, to deliver a late notice.
    const onExit = LocalProcessExecutor.prototype.onExit;
    jest.spyOn(LocalProcessExecutor.prototype, 'onExit').mockImplementation(function (this: LocalProcessExecutor, listener) {
      notifyExit = listener;
      return onExit.call(this, listener);
    });
    scheduler = await startTestScheduler('idle');
  }, 60_000);

  afterAll(async () => {
    await scheduler?.close();
    jest.restoreAllMocks();
  });

  /** listLean calls over `ms` of idle time. */
  const readsDuring = async (ms: number) => {
    const before = reads.mock.calls.length;
    await new Promise((r) => setTimeout(r, ms));
    return reads.mock.calls.length - before;
  };

  it('stays idle after a late exit notice for a run that has already ended', async () => {
    const runUuid = randomUUID();
    await scheduler.bus.send(RunStart.PATTERN, { runUuid, project: 'alice/p', number: 1, kind: 'experiment', cmd: 'true', params: {}, spec: {}, user: 'alice', teams: [] } satisfies RunStart.Payload);
    await waitFor(() => scheduler.events.some((e) => e.runUuid === runUuid && e.status === 'succeeded'), { timeoutMs: 20_000, what: 'the run to succeed' });
    await new Promise((r) => setTimeout(r, 1200)); // past the next inspection
    // Idle: the inspection and the full admission pass, about once a second each (40 passes in 2 s).
    const idle = await readsDuring(2000);
    expect(idle).toBeLessThanOrEqual(6);
    // The exit notice of the run that already ended arrives now.
    notifyExit(runUuid);
    await new Promise((r) => setTimeout(r, 1200)); // the inspection that follows it drops it
    expect(await readsDuring(2000)).toBeLessThanOrEqual(6);
  });
});
