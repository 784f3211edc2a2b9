import { randomUUID } from 'node:crypto';
import { serverAndEmbedded } from '@myelin/testing';
import { useSchedulerTestDatabase } from '../testing/scheduler-test-database';
import { ExecutionEntity } from './entities/execution.entity';
import { ExecutionsRepository } from './repositories/executions.repository';

/**
 * The scheduler's hot reads (listLean, findLean, listQueueHead, the row a status change returns): the
 * entities a plain TypeORM read gives, with the same value types, in queue order, on both
 * databases.
 */
const backends = serverAndEmbedded('myelin_exec_reads');

describe.each(backends)('scheduler execution reads on %s', (_label, provision) => {
  const scheduler = useSchedulerTestDatabase(provision);

  const enqueue = async (extra: Record<string, unknown> = {}): Promise<string> => {
    const runUuid = randomUUID();
    const row = {
      runUuid, project: 'p/q', number: 7, kind: 'job', cmd: 'python train.py', params: { lr: 0.01, layers: [1, 2] }, spec: { kind: 'experiment', run: { cmd: 'x' } },
      codeDir: '/code', outputsOf: null, copyOutputsFrom: null, priority: 0, status: 'queued', attempt: 0, maxRestarts: 2, executor: 'local',
      pid: null, pidStartTime: null, workdir: null, stdoutOffset: 0, stderrOffset: 0, exitCode: null, stopRequestedAt: null, startedAt: null,
      finishedAt: null, submitter: 'alice', teams: ['acme/ml'], parentUuid: null, parentKind: null, parentConcurrency: null, cpu: 1.5, memoryMb: 512,
      gpu: 0, devices: null, statusReason: 'Queued', statusMessage: 'waiting', fence: 0, owner: null, retryAt: null, timeoutSeconds: 600,
      timedOutAt: null, heartbeatAt: null, workdirCleanedAt: null,
      ...extra,
    };
    await scheduler.executions.enqueue(row as unknown as Parameters<ExecutionsRepository['enqueue']>[0], { status: 'queued', reason: 'Queued', message: 'waiting' });
    return runUuid;
  };
  /** The row as TypeORM hydrates it, without the columns a lean read leaves out. */
  const hydrated = async (runUuid: string, lean = true): Promise<Partial<ExecutionEntity>> => {
    const row = (await scheduler.db.dataSource.getRepository(ExecutionEntity).findOneByOrFail({ runUuid })) as Partial<ExecutionEntity>;
    if (lean) {
      delete row.cmd;
      delete row.params;
      delete row.spec;
    }
    return row;
  };

  beforeEach(async () => {
    await scheduler.db.dataSource.query('DELETE FROM "scheduler"."executions"');
  });

  it('a lean read gives the entity TypeORM gives, with every value of the same type, and without command, params and spec', async () => {
    const runUuid = await enqueue();
    const started = await scheduler.executions.transition(
      runUuid,
      { status: 'starting', reason: 'Starting', message: '' },
      { startedAt: new Date('2026-01-02T03:04:05.678Z'), devices: ['0', '1'], stdoutOffset: 12_345_678_901, attempt: 1 },
      { token: 42, claim: true, owner: 'replica-a' },
      'full',
    );
    // The row a status change returns ('full': to launch the run) is the whole entity (as it was
    // read under the lock, with the changes applied: its updated_at is the database's to set).
    expect({ ...started, updatedAt: undefined }).toEqual({ ...(await hydrated(runUuid, false)), updatedAt: undefined });
    const [lean] = await scheduler.executions.listLean(['starting']);
    expect(lean).toEqual(await hydrated(runUuid));
    expect(await scheduler.executions.findLean(runUuid)).toEqual(lean);
    expect(await scheduler.executions.findLean(randomUUID())).toBeNull();
    expect(lean).toBeInstanceOf(ExecutionEntity);
    expect(lean.cmd).toBeUndefined();
    expect(lean.params).toBeUndefined();
    expect(lean.startedAt).toBeInstanceOf(Date);
    expect(lean.startedAt?.toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(lean.stdoutOffset).toBe(12_345_678_901); // bigint, as a number
    expect(lean.fence).toBe(42);
    expect(lean.cpu).toBe(1.5);
    expect(lean.devices).toEqual(['0', '1']);
    expect(lean.teams).toEqual(['acme/ml']);
    expect(lean.pid).toBeNull();
  });

  it('listLean reads only the statuses asked for, oldest first; listQueueHead the queue in order, up to its limit', async () => {
    // Queued a few ms apart: the embedded database's clock can give two rows written within the
    // same millisecond the same created_at, and then their order is not defined.
    const apart = () => new Promise((r) => setTimeout(r, 5));
    const low = await enqueue({ priority: 0 });
    await apart();
    const high = await enqueue({ priority: 5 });
    await apart();
    const lowLater = await enqueue({ priority: 0 });
    await apart();
    const highLater = await enqueue({ priority: 5 });
    const running = await enqueue();
    await scheduler.executions.transition(running, { status: 'starting', reason: 'Starting', message: '' });
    expect((await scheduler.executions.listLean(['queued'])).map((e) => e.runUuid)).toEqual([low, high, lowLater, highLater]);
    expect((await scheduler.executions.listLean(['starting', 'running'])).map((e) => e.runUuid)).toEqual([running]);
    expect(await scheduler.executions.listLean(['failed'])).toEqual([]);
    expect((await scheduler.executions.listQueueHead(3)).map((e) => e.runUuid)).toEqual([high, highLater, low]);
    expect((await scheduler.executions.listQueueHead(10)).map((e) => e.runUuid)).toEqual([high, highLater, low, lowLater]);
  });
});
