import { randomUUID } from 'node:crypto';
import { ExecutionsRepository } from '@myelin/persistence';
import type { RunStatus } from '@myelin/contracts';
import { waitFor } from '@myelin/testing';
import { startTestScheduler, TestScheduler } from '../testing/test-scheduler';
import { SchedulerService } from './scheduler.service';

jest.setTimeout(60_000);

/**
 * What the scheduler reads of its runs when nothing new can happen: a run queued while every slot
 * is taken gets no admission pass of its own (the pass a freed slot sets off admits it), and a pass
 * between two log shipments reads only the runs with an exit notice. In a queue that never
 * empties these reads were most of the platform's database time (decision 0015).
 */
describe('scheduler: passes that cannot change anything read nothing', () => {
  let scheduler: TestScheduler;
  /** The scheduler service itself, seen through its own calls. */
  let service: SchedulerService | undefined;
  let admissionReads = 0;
  /** Reads of every live run's row by supervision (admission's start with the held statuses). */
  let supervisionReads = 0;
  let supervisionPasses = 0;

  beforeAll(async () => {
    const rows = (SchedulerService.prototype as unknown as { admissionRows: () => Promise<unknown> }).admissionRows;
    jest.spyOn(SchedulerService.prototype as unknown as { admissionRows: () => Promise<unknown> }, 'admissionRows').mockImplementation(function (this: SchedulerService) {
      admissionReads++;
      return rows.call(this);
    });
    const supervise = (SchedulerService.prototype as unknown as { superviseLive: () => Promise<void> }).superviseLive;
    jest.spyOn(SchedulerService.prototype as unknown as { superviseLive: () => Promise<void> }, 'superviseLive').mockImplementation(function (this: SchedulerService) {
      // (The service under test, kept to poke it: it is not reachable from the app handle.)
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      service = this;
      supervisionPasses++;
      return supervise.call(this);
    });
    const listLean = ExecutionsRepository.prototype.listLean;
    jest.spyOn(ExecutionsRepository.prototype, 'listLean').mockImplementation(function (this: ExecutionsRepository, statuses: RunStatus[]) {
      if (!['unschedulable', 'queued', 'retrying'].includes(statuses[0])) supervisionReads++;
      return listLean.call(this, statuses);
    });
    scheduler = await startTestScheduler('admission_reads', { MYELIN_MAX_PARALLEL: '2' });
  }, 60_000);

  afterAll(async () => {
    await scheduler?.close();
    jest.restoreAllMocks();
  });

  const statuses = (runUuid: string) => scheduler.statuses(runUuid);

  it('queues runs while every slot is taken without an admission pass each, and starts each when a slot frees', async () => {
    const busy = [randomUUID(), randomUUID()];
    await Promise.all(busy.map((runUuid, i) => scheduler.start(runUuid, 1 + i, 'sleep 2')));
    await waitFor(() => busy.every((r) => statuses(r).includes('running')), { timeoutMs: 20_000, what: 'both slots to be taken' });
    const waiting = Array.from({ length: 8 }, () => randomUUID());
    const since = Date.now();
    admissionReads = 0;
    for (const [i, runUuid] of waiting.entries()) {
      await scheduler.start(runUuid, 10 + i, 'echo waited');
      await waitFor(() => statuses(runUuid).includes('queued'), { timeoutMs: 10_000, what: `run ${i} to be queued` });
    }
    const reads = admissionReads;
    const windowMs = Date.now() - since;
    // Only the once-a-second full pass (every waiting run's condition) reads in the meantime; a
    // pass per queued run would have read 8 times.
    expect(reads).toBeLessThanOrEqual(1 + Math.ceil(windowMs / 1000));
    expect(busy.every((r) => statuses(r).at(-1) === 'running')).toBe(true);
    // Nothing was left behind: each waiting run starts as slots free, all succeed.
    await waitFor(() => waiting.every((r) => statuses(r).includes('succeeded')), { timeoutMs: 30_000, what: 'every waiting run to succeed' });
    for (const runUuid of waiting) expect(statuses(runUuid).slice(-3)).toEqual(['starting', 'running', 'succeeded']);
  });

  it('reads every live run only to ship logs or inspect, not at each poke in between', async () => {
    const live = [randomUUID(), randomUUID()];
    await Promise.all(live.map((runUuid, i) => scheduler.start(runUuid, 30 + i, 'sleep 2')));
    await waitFor(() => live.every((r) => statuses(r).includes('running')), { timeoutMs: 20_000, what: 'both runs to run' });
    expect(service).toBeDefined();
    const since = Date.now();
    supervisionReads = 0;
    supervisionPasses = 0;
    for (let i = 0; i < 40; i++) {
      service!.poke();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const windowMs = Date.now() - since;
    // The pokes did make passes...
    expect(supervisionPasses).toBeGreaterThanOrEqual(10);
    // ...and only those due to ship lines (every 200 ms) or to inspect (every second) read the live runs.
    expect(supervisionReads).toBeLessThanOrEqual(2 + Math.ceil(windowMs / 200) + Math.ceil(windowMs / 1000));
    expect(supervisionReads).toBeLessThan(supervisionPasses);
    // The ends are still seen (their exit notices are looked at with their rows alone).
    await waitFor(() => live.every((r) => statuses(r).includes('succeeded')), { timeoutMs: 20_000, what: 'both runs to succeed' });
  });
});
