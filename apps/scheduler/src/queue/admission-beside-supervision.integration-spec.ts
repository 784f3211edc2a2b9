import { randomUUID } from 'node:crypto';
import { ExecutionsRepository, type ExecutionEntity } from '@myelin/persistence';
import { waitFor } from '@myelin/testing';
import { LocalProcessExecutor } from '../executors/local/local-process.executor';
import { Gate, startTestScheduler, TestScheduler } from '../testing/test-scheduler';

jest.setTimeout(60_000);

/**
 * Hold supervision's inspection of the run `heldRun()` names at `gate` (each inspection is first
 * passed to `seen`): the pass that looks at it waits until the test lets it go.
 */
function holdInspection(gate: Gate, heldRun: () => string | null, seen: (execution: ExecutionEntity) => void = () => undefined): void {
  const inspect = LocalProcessExecutor.prototype.inspect;
  jest.spyOn(LocalProcessExecutor.prototype, 'inspect').mockImplementation(async function (this: LocalProcessExecutor, execution: ExecutionEntity) {
    seen(execution);
    if (execution.runUuid === heldRun()) await gate.pass();
    return inspect.call(this, execution);
  });
}

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
    holdInspection(gate, () => held, (execution) => inspected.push({ runUuid: execution.runUuid, status: execution.status, pid: execution.pid }));
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

/**
 * A short job can end before its launch is recorded: its exit notice is looked at then (a pass is
 * under way), and again when the launch is over. If the first look read the row before the launch
 * was written, it leaves the run; the second notice, which came while the first look was under
 * way, must not be dropped as a duplicate of it, or the end waits for the next pass.
 */
describe('scheduler: an exit notice during its run\'s launch, while a pass is held', () => {
  let scheduler: TestScheduler;
  let held: string | null = null;
  /** The short run: its launch's `running` write is slowed, and the first look at its row is answered with the row read before it. */
  let short: string | null = null;
  const gate = new Gate();

  beforeAll(async () => {
    holdInspection(gate, () => held);
    const transition = ExecutionsRepository.prototype.transition;
    jest.spyOn(ExecutionsRepository.prototype, 'transition').mockImplementation(async function (this: ExecutionsRepository, ...args: Parameters<ExecutionsRepository['transition']>) {
      // The job (`true`) ends, and its notice comes, while its launch is still being recorded.
      if (args[0] === short && args[1].status === 'running') await new Promise((resolve) => setTimeout(resolve, 300));
      return transition.apply(this, args);
    });
    const findLean = ExecutionsRepository.prototype.findLean;
    let stale = true;
    jest.spyOn(ExecutionsRepository.prototype, 'findLean').mockImplementation(async function (this: ExecutionsRepository, runUuid: string) {
      const row = await findLean.call(this, runUuid);
      if (runUuid === short && stale) {
        stale = false;
        // The row as read before the launch was written, answered once the launch is over.
        await waitFor(() => scheduler.statuses(runUuid).includes('running'), { timeoutMs: 10_000, what: 'the launch to be recorded' });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return row;
    });
    scheduler = await startTestScheduler('notice_in_launch', { MYELIN_MAX_PARALLEL: '4' });
  }, 60_000);

  afterAll(async () => {
    gate.release();
    await scheduler?.close();
    jest.restoreAllMocks();
  });

  const reached = (runUuid: string, status: string) => scheduler.statuses(runUuid).includes(status);

  it('records the end beside the held pass', async () => {
    const long = randomUUID();
    await scheduler.start(long, 1, 'sleep 30');
    await waitFor(() => reached(long, 'running'), { timeoutMs: 20_000, what: 'the long run to run' });
    held = long;
    await waitFor(() => gate.holding, { timeoutMs: 5000, what: 'a supervision pass to be held' });
    short = randomUUID();
    await scheduler.start(short, 2, 'true');
    await waitFor(() => reached(short!, 'succeeded'), { timeoutMs: 10_000, what: 'the short run\'s end to be recorded' });
    expect(gate.holding).toBe(true);
    expect(scheduler.statuses(short).slice(-3)).toEqual(['starting', 'running', 'succeeded']);
    gate.release();
    await scheduler.bus.send('scheduler.cmd.run.stop.v1', { runUuid: long, reason: 'test over' });
    await waitFor(() => reached(long, 'stopped'), { timeoutMs: 20_000, what: 'the long run to stop' });
  });
});
