import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExecutionsRepository } from '@myelin/persistence';
import { processTurnBudget } from '@myelin/runtime';
import { createTempDir, waitFor } from '@myelin/testing';
import { Gate, startTestScheduler, TestScheduler } from '../testing/test-scheduler';

jest.setTimeout(60_000);

/**
 * A run's slot is free once its process is seen gone: the next queued run starts while the end is
 * being written (last log lines, final status, its event), not after. With every slot taken, each
 * run paid for both one after the other (decision 0015).
 */
describe('scheduler: a slot is freed when its process ends, before its end is recorded', () => {
  let scheduler: TestScheduler;
  /** The run whose end's write is held (the gate lets it go on). */
  let held: string | null = null;
  const gate = new Gate();

  beforeAll(async () => {
    const settle = ExecutionsRepository.prototype.settle;
    jest.spyOn(ExecutionsRepository.prototype, 'settle').mockImplementation(async function (this: ExecutionsRepository, ...args: Parameters<ExecutionsRepository['settle']>) {
      // The run's end is its only status change once it runs (the commands are its last log lines).
      if (args[0] === held && args[5]?.length) await gate.pass();
      return settle.apply(this, args);
    });
    scheduler = await startTestScheduler('slot_at_exit', { MYELIN_MAX_PARALLEL: '1' });
  }, 60_000);

  afterAll(async () => {
    gate.release();
    await scheduler?.close();
    jest.restoreAllMocks();
  });

  const start = (runUuid: string, number: number, cmd: string) => scheduler.start(runUuid, number, cmd);
  const statuses = (runUuid: string) => scheduler.statuses(runUuid);

  it('starts the next run while the end of the one before is still being written, and records both in full', async () => {
    const first = randomUUID();
    const second = randomUUID();
    held = first;
    await start(first, 1, 'sleep 0.5; echo done');
    await waitFor(() => statuses(first).includes('running'), { timeoutMs: 20_000, what: 'the first run to run' });
    await start(second, 2, 'echo second');
    // The only slot is the first run's: the second waits for it.
    await waitFor(() => gate.holding, { timeoutMs: 10_000, what: "the first run's end to be written (and held)" });
    await waitFor(() => statuses(second).includes('running'), { timeoutMs: 10_000, what: 'the second run to start' });
    // Its end not written yet: the first run still says running (the second started beside it).
    expect(statuses(first).at(-1)).toBe('running');
    // Meanwhile the process's new HTTP requests wait (the pass recording the end goes first)...
    const requests = processTurnBudget(4);
    expect(requests.held).toBe(true);
    gate.release();
    // ...until the scheduler has nothing more to do for it.
    await waitFor(() => !requests.held, { timeoutMs: 10_000, what: 'the HTTP requests to be let go' });
    await waitFor(() => statuses(first).includes('succeeded') && statuses(second).includes('succeeded'), { timeoutMs: 20_000, what: 'both runs to succeed' });
    expect(statuses(first)).toEqual(['queued', 'starting', 'running', 'succeeded']);
    expect(statuses(second).slice(-3)).toEqual(['starting', 'running', 'succeeded']);
  });

  it('never runs more processes than the limit while many runs end and start one after the other', async () => {
    held = null;
    const dir = await createTempDir('myelin-slot-trace');
    try {
      const trace = join(dir.path, 'trace');
      const runs = Array.from({ length: 12 }, () => randomUUID());
      // Each job says when it begins and ends; appends of a line are atomic.
      await Promise.all(runs.map((runUuid, i) => start(runUuid, 10 + i, `echo "+ ${i}" >> ${trace}; sleep 0.05; echo "- ${i}" >> ${trace}`)));
      await waitFor(() => runs.every((r) => statuses(r).includes('succeeded')), { timeoutMs: 30_000, what: 'every run to succeed' });
      let live = 0;
      let most = 0;
      const lines = (await readFile(trace, 'utf8')).trim().split('\n');
      for (const line of lines) {
        live += line.startsWith('+') ? 1 : -1;
        most = Math.max(most, live);
      }
      expect(lines).toHaveLength(24);
      expect(most).toBe(1); // MYELIN_MAX_PARALLEL
    } finally {
      await dir.remove();
    }
  });

  it('never runs more than the limit: a run queued while every process lives waits for an end', async () => {
    const live = randomUUID();
    const next = randomUUID();
    held = null;
    await start(live, 3, 'sleep 1.5');
    await waitFor(() => statuses(live).includes('running'), { timeoutMs: 20_000, what: 'the live run to run' });
    await start(next, 4, 'true');
    await new Promise((r) => setTimeout(r, 600));
    expect(statuses(next)).not.toContain('starting');
    await waitFor(() => statuses(next).includes('succeeded'), { timeoutMs: 20_000, what: 'the queued run to start after the end' });
    expect(statuses(live)).toContain('succeeded');
  });
});
