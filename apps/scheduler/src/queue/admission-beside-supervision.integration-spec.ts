import { randomUUID } from 'node:crypto';
import type { ExecutionEntity } from '@myelin/persistence';
import { waitFor } from '@myelin/testing';
import { LocalProcessExecutor } from '../executors/local/local-process.executor';
import { Gate, startTestScheduler, TestScheduler } from '../testing/test-scheduler';

jest.setTimeout(60_000);

/**
 * A supervision pass can take long (many live runs, a slow disk under their log files). A run
 * queued meanwhile is admitted beside the pass, not after it, and a run that ends meanwhile has its
 * end recorded beside it; a run being started is not looked at by supervision before its process
 * is recorded.
 */
describe('scheduler: admission beside a long supervision pass', () => {
  let scheduler: TestScheduler;
  /** The live run whose inspection is held (the gate lets it go on). */
  let held: string | null = null;
  const gate = new Gate();
  const inspected: Array<{ runUuid: string; status: string; pid: number | null }> = [];

  beforeAll(async () => {
    const inspect = LocalProcessExecutor.prototype.inspect;
    jest.spyOn(LocalProcessExecutor.prototype, 'inspect').mockImplementation(async function (this: LocalProcessExecutor, execution: ExecutionEntity) {
      inspected.push({ runUuid: execution.runUuid, status: execution.status, pid: execution.pid });
      if (execution.runUuid === held) await gate.pass();
      return inspect.call(this, execution);
    });
    scheduler = await startTestScheduler('admit_beside', { MYELIN_MAX_PARALLEL: '4' });
  }, 60_000);

  afterAll(async () => {
    gate.release();
    await scheduler?.close();
    jest.restoreAllMocks();
  });

  const start = (runUuid: string, number: number, cmd: string) => scheduler.start(runUuid, number, cmd);
  const reached = (runUuid: string, status: string) => scheduler.statuses(runUuid).includes(status);

  it('starts a run queued while a supervision pass is held, before the pass ends', async () => {
    const long = randomUUID();
    await start(long, 1, 'sleep 30');
    await waitFor(() => reached(long, 'running'), { timeoutMs: 20_000, what: 'the first run to run' });
    held = long;
    // The next full inspection (once a second) looks at it and is held there.
    await waitFor(() => gate.holding, { timeoutMs: 5000, what: 'a supervision pass to be held' });
    const next = randomUUID();
    await start(next, 2, 'true');
    await waitFor(() => reached(next, 'running'), { timeoutMs: 10_000, what: 'the run queued during the pass to start' });
    expect(gate.holding).toBe(true); // the pass is still held: the run did not wait for it
    // Supervision never looked at the new run while it was being started (no pid yet).
    expect(inspected.filter((i) => i.runUuid === next && i.pid === null)).toEqual([]);
    // Its exit notice arrives during the held pass: its end is recorded beside the pass too.
    await waitFor(() => reached(next, 'succeeded'), { timeoutMs: 10_000, what: 'the second run to succeed' });
    expect(gate.holding).toBe(true);
    expect(scheduler.events.filter((e) => e.runUuid === next && e.status === 'succeeded')).toHaveLength(1);
    gate.release();
    // The first run is still looked after: it stops.
    await scheduler.bus.send('scheduler.cmd.run.stop.v1', { runUuid: long, reason: 'test over' });
    await waitFor(() => reached(long, 'stopped'), { timeoutMs: 20_000, what: 'the first run to stop' });
  });
});
