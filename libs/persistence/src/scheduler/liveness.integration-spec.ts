import { randomUUID } from 'node:crypto';
import { serverAndEmbedded } from '@myelin/testing';
import { useSchedulerTestDatabase } from '../testing/scheduler-test-database';
import type { RunStatus } from '@myelin/contracts';
import { ExecutionsRepository } from './repositories/executions.repository';

/** Heartbeats and the cleanup of working directories, on the PostgreSQL server and on the embedded PGlite. */
const backends = serverAndEmbedded('myelin_liveness');

const LIVE: RunStatus[] = ['building', 'scheduled', 'starting', 'running', 'stopping'];
const T0 = Date.parse('2025-03-01T12:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

describe.each(backends)('scheduler liveness on %s', (_label, provision) => {
  const scheduler = useSchedulerTestDatabase(provision);

  const enqueue = async (executor = 'local', extra: Record<string, unknown> = {}): Promise<string> => {
    const runUuid = randomUUID();
    const row = {
      runUuid, project: 'p/q', number: 1, kind: 'job', cmd: 'true', params: {}, spec: {}, codeDir: null, outputsOf: null, copyOutputsFrom: null,
      priority: 0, status: 'queued', attempt: 0, maxRestarts: 0, executor, pid: null, pidStartTime: null, workdir: `/runs/${runUuid}`,
      stdoutOffset: 0, stderrOffset: 0, exitCode: null, stopRequestedAt: null, startedAt: null, finishedAt: null, submitter: null, teams: [],
      parentUuid: null, parentKind: null, parentConcurrency: null, cpu: 0, memoryMb: 0, gpu: 0, statusReason: 'Queued', statusMessage: '',
      fence: 0, owner: null, retryAt: null, timeoutSeconds: null, timedOutAt: null, heartbeatAt: null, workdirCleanedAt: null,
      ...extra,
    };
    await scheduler.executions.enqueue(row as unknown as Parameters<ExecutionsRepository['enqueue']>[0], { status: 'queued', reason: 'Queued', message: '' });
    return runUuid;
  };
  const running = async (runUuid: string) => {
    expect(await scheduler.executions.transition(runUuid, { status: 'starting', reason: 'Starting', message: '' }, { startedAt: at(0) })).not.toBeNull();
    expect(await scheduler.executions.transition(runUuid, { status: 'running', reason: 'Running', message: '' })).not.toBeNull();
  };
  const finished = async (runUuid: string, when: Date) => {
    expect(await scheduler.executions.transition(runUuid, { status: 'failed', reason: 'Error', message: '' }, { finishedAt: when })).not.toBeNull();
  };
  const heartbeatOf = async (runUuid: string) => (await scheduler.executions.find(runUuid))?.heartbeatAt?.getTime() ?? null;

  it('writes the heartbeats of live runs in one statement, at most once per throttle period', async () => {
    const [a, b, waiting] = [await enqueue(), await enqueue(), await enqueue()];
    await running(a);
    await running(b);
    const stale = (now: Date) => new Date(now.getTime() - 30_000);
    // The waiting run is not live: no heartbeat; an unknown uuid (a deleted run) changes nothing.
    expect(await scheduler.executions.touchHeartbeats([a, b, waiting, randomUUID()], LIVE, at(100), stale(at(100)))).toBe(2);
    expect(await heartbeatOf(a)).toBe(at(100).getTime());
    expect(await heartbeatOf(waiting)).toBeNull();
    // Within the throttle period nothing is written, however often the runs are seen.
    expect(await scheduler.executions.touchHeartbeats([a, b], LIVE, at(110), stale(at(110)))).toBe(0);
    expect(await heartbeatOf(b)).toBe(at(100).getTime());
    expect(await scheduler.executions.touchHeartbeats([a], LIVE, at(131), stale(at(131)))).toBe(1);
    expect(await heartbeatOf(a)).toBe(at(131).getTime());
    expect(await scheduler.executions.touchHeartbeats([], LIVE, at(200), stale(at(200)))).toBe(0);
  });

  it('a finished run’s heartbeat is never written again', async () => {
    const run = await enqueue();
    await running(run);
    await finished(run, at(50));
    expect(await scheduler.executions.touchHeartbeats([run], LIVE, at(100), at(70))).toBe(0);
    expect(await heartbeatOf(run)).toBeNull();
  });

  it('claims finished runs past the TTL for cleanup once, oldest first, of this executor only, in batches', async () => {
    const old1 = await enqueue();
    const old2 = await enqueue();
    const recent = await enqueue();
    const live = await enqueue();
    const otherExecutor = await enqueue('kubernetes');
    for (const r of [old1, old2, recent, live, otherExecutor]) await running(r);
    await finished(old2, at(-3600));
    await finished(old1, at(-7200));
    await finished(recent, at(-10));
    await finished(otherExecutor, at(-7200));
    const before = at(-60); // TTL of 60 s at T0
    const first = await scheduler.executions.claimWorkdirCleanup('local', before, at(0), 1);
    expect(first).toEqual([{ runUuid: old1, executor: 'local', workdir: `/runs/${old1}`, parentUuid: null, codeOf: null, finishedAt: at(-7200) }]);
    const rest = await scheduler.executions.claimWorkdirCleanup('local', before, at(0), 100);
    expect(rest.map((r) => r.runUuid)).toEqual([old2]);
    // Done once: nothing left to claim (the recent run waits for its TTL, the live one for its end).
    expect(await scheduler.executions.claimWorkdirCleanup('local', before, at(0), 100)).toEqual([]);
    expect((await scheduler.executions.find(old1))?.workdirCleanedAt?.getTime()).toBe(at(0).getTime());
    expect((await scheduler.executions.find(recent))?.workdirCleanedAt).toBeNull();
    expect((await scheduler.executions.claimWorkdirCleanup('local', at(0), at(1), 100)).map((r) => r.runUuid)).toEqual([recent]);
    expect((await scheduler.executions.claimWorkdirCleanup('kubernetes', before, at(0), 100)).map((r) => r.runUuid)).toEqual([otherExecutor]);
  });

  it('groups status changes asked for together, deciding each on its row in order, as one by one would', async () => {
    const [a, b, c] = [await enqueue(), await enqueue(), await enqueue()];
    const outboxBefore = Number((await scheduler.db.dataSource.query(`SELECT coalesce(max(id), 0)::bigint AS id FROM scheduler.outbox`))[0].id);
    const decided: string[] = [];
    // Asked for in one turn of the event loop: they go in one transaction.
    const results = await Promise.all([
      scheduler.executions.transition(a, { status: 'starting', reason: 'Starting', message: '' }, { startedAt: at(1), devices: ['0'] }, { token: 7, claim: true, owner: 'r1' }),
      scheduler.executions.transition(b, { status: 'starting', reason: 'Starting', message: '' }, { startedAt: at(2) }),
      // The same run twice: the second sees the first's result (running after starting).
      scheduler.executions.transition(a, { status: 'running', reason: 'Running', message: 'pid 1' }, { pid: 1, pidStartTime: 't1' }, { token: 7 }),
      // A stale token is refused, and only that change.
      scheduler.executions.transition(b, { status: 'running', reason: 'Running', message: '' }, { pid: 2 }, { token: 3 }),
      // Illegal from queued: refused.
      scheduler.executions.transition(c, { status: 'succeeded', reason: 'Done', message: '' }),
      scheduler.executions.settle(c, (current) => {
        decided.push(current.status);
        return { status: 'stopped', reason: 'Stopped', message: 'before it started', exitCode: 143 };
      }, { finishedAt: at(3) }, undefined, 'lean', [{ pattern: 'tracking.cmd.logs.append.v1', payload: { runUuid: c, eof: true } }]),
    ]);
    expect(results.map((r) => r?.status ?? null)).toEqual(['starting', 'starting', 'running', null, null, 'stopped']);
    expect(decided).toEqual(['queued']);
    // What each caller got is the row as its own change left it.
    expect(results[0]?.pid).toBeNull();
    expect(results[2]?.pid).toBe(1);
    const rowA = await scheduler.executions.find(a);
    expect(rowA).toMatchObject({ status: 'running', pid: 1, pidStartTime: 't1', owner: 'r1', statusMessage: 'pid 1', devices: ['0'] });
    expect(Number(rowA?.fence)).toBe(7);
    expect(rowA?.startedAt?.getTime()).toBe(at(1).getTime());
    expect(await scheduler.executions.find(b)).toMatchObject({ status: 'starting', pid: null });
    expect(await scheduler.executions.find(c)).toMatchObject({ status: 'stopped', exitCode: 143 });
    // One event per applied change, in the order asked, each command after its status.
    const outbox = (await scheduler.db.dataSource.query(`SELECT pattern, payload FROM scheduler.outbox WHERE id > $1 ORDER BY id`, [outboxBefore])) as Array<{
      pattern: string;
      payload: { runUuid: string; status?: string };
    }>;
    expect(outbox.map((m) => [m.payload.runUuid, m.payload.status ?? m.pattern])).toEqual([
      [a, 'starting'],
      [b, 'starting'],
      [a, 'running'],
      [c, 'stopped'],
      [c, 'tracking.cmd.logs.append.v1'],
    ]);
    // The events say the runs belong to no group or pipeline (their consumers need not look them up).
    const statuses = outbox.filter((m) => m.payload.status).map((m) => m.payload as { parentUuid?: unknown; parentKind?: unknown });
    expect(statuses.every((p) => p.parentUuid === null && !('parentKind' in p))).toBe(true);
  });

  it("names the run's parent and its kind in status events, so the other parent kind's consumer skips them unread", async () => {
    const outboxBefore = Number((await scheduler.db.dataSource.query(`SELECT coalesce(max(id), 0)::bigint AS id FROM scheduler.outbox`))[0].id);
    const pipeline = randomUUID();
    const op = await enqueue('local', { parentUuid: pipeline, parentKind: 'pipeline', parentConcurrency: 2 });
    const unknownKind = await enqueue('local', { parentUuid: randomUUID(), parentKind: null });
    await running(op);
    await running(unknownKind);
    const outbox = (await scheduler.db.dataSource.query(`SELECT payload FROM scheduler.outbox WHERE id > $1 ORDER BY id`, [outboxBefore])) as Array<{
      payload: { runUuid: string; status?: string; parentUuid?: string | null; parentKind?: string };
    }>;
    const events = outbox.map((m) => m.payload).filter((p) => p.status);
    expect(events.filter((p) => p.runUuid === op).map((p) => [p.status, p.parentUuid, p.parentKind])).toEqual([
      ['queued', pipeline, 'pipeline'],
      ['starting', pipeline, 'pipeline'],
      ['running', pipeline, 'pipeline'],
    ]);
    // A parent of unknown kind: named, its kind left out (consumers look the run up).
    expect(events.filter((p) => p.runUuid === unknownKind).every((p) => typeof p.parentUuid === 'string' && !('parentKind' in p))).toBe(true);
  });

  it('queues runs asked for together in one statement: each once, with one queued event per run stored', async () => {
    const outboxBefore = Number((await scheduler.db.dataSource.query(`SELECT coalesce(max(id), 0)::bigint AS id FROM scheduler.outbox`))[0].id);
    const known = await enqueue();
    const template = (await scheduler.executions.find(known)) as object;
    const row = async (runUuid: string) => ({ ...template, runUuid, status: 'queued', pid: null, fence: 0, owner: null }) as never;
    const [a, b] = [randomUUID(), randomUUID()];
    const queued = { status: 'queued' as const, reason: 'Queued', message: 'waiting' };
    const results = await Promise.all([
      scheduler.executions.enqueue(await row(a), queued),
      scheduler.executions.enqueue(await row(a), queued), // the same start command twice
      scheduler.executions.enqueue(await row(known), queued), // already known
      scheduler.executions.enqueue(await row(b), queued),
    ]);
    expect(results).toEqual([true, false, false, true]);
    expect(await scheduler.executions.find(a)).toMatchObject({ status: 'queued', project: 'p/q', params: {}, teams: [] });
    const events = (await scheduler.db.dataSource.query(`SELECT payload FROM scheduler.outbox WHERE id > $1 AND pattern LIKE '%status-changed%' ORDER BY id`, [outboxBefore])) as Array<{
      payload: { runUuid: string; status: string; message: string };
    }>;
    expect(events.map((e) => [e.payload.runUuid, e.payload.status])).toEqual([
      [known, 'queued'],
      [a, 'queued'],
      [b, 'queued'],
    ]);
    expect(events[1].payload.message).toBe('waiting');
  });
});
