import { randomUUID } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunHeartbeat, RunStart, RunStatusChanged } from '@myelin/contracts';
import { InProcessBus } from '@myelin/bus';
import { ExecutionsRepository, openServiceDatabase, SCHEDULER_SCHEMA, ServiceDatabase } from '@myelin/persistence';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';
import { schedulerTestEnv } from '../testing/scheduler-test-env';
import { standInApi, standInTracking } from '../testing/stand-ins';

jest.setTimeout(90_000);

const exists = (path: string) => stat(path).then(() => true, () => false);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The scheduler alone on its own PostgreSQL database with the local executor, the API and tracking
 * stood in for on the in-process bus: heartbeats of live processes, client heartbeats relayed by
 * tracking, zombies (runs whose process the executor cannot know), and the TTL of working directories.
 */
describe('scheduler liveness: heartbeats, zombies, working directory TTL', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let side: ServiceDatabase;
  let repo: ExecutionsRepository;
  let runsDir: TempDir;
  let codeDir: TempDir;
  const events: RunStatusChanged.Payload[] = [];
  const systemLines: Array<{ runUuid: string; line: string }> = [];
  const lastStatus = (uuid: string) => events.filter((e) => e.runUuid === uuid).at(-1);

  beforeAll(async () => {
    db = await createTestDatabase('myelin_liveness');
    runsDir = await createTempDir('myelin-liveness-runs');
    codeDir = await createTempDir('myelin-liveness-code');
    await writeFile(join(codeDir.path, 'train.py'), 'print("hi")\n');
    bus = new InProcessBus();
    await standInApi(bus, events);
    await standInTracking(bus, (b) => {
      for (const l of b.lines) if (l.stream === 'system') systemLines.push({ runUuid: b.runUuid, line: l.line });
    });
    app = await bootstrap({
      env: schedulerTestEnv(db.url, runsDir.path, { MYELIN_ZOMBIE_SECONDS: '10', MYELIN_RUN_TTL_SECONDS: '1' }),
      bus,
      listen: false,
    });
    side = await openServiceDatabase({ url: db.url, ...SCHEDULER_SCHEMA });
    repo = new ExecutionsRepository(side.dataSource);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await side?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
    await codeDir?.remove();
  });

  let number = 0;
  const submit = async (cmd: string, fields: Partial<RunStart.Payload> = {}): Promise<string> => {
    const runUuid = randomUUID();
    number += 1;
    await bus.send(RunStart.PATTERN, { runUuid, project: 'alice/vision', number, kind: 'experiment', cmd, params: {}, spec: {}, user: 'alice', teams: [], ...fields } satisfies RunStart.Payload);
    return runUuid;
  };

  /** A live run the local executor has no process id for (the scheduler died between claiming and spawning it). */
  const orphan = async (startedSecondsAgo: number, heartbeatSecondsAgo: number | null): Promise<string> => {
    const runUuid = randomUUID();
    const row = {
      runUuid, project: 'alice/vision', number: 0, kind: 'experiment', cmd: 'true', params: {}, spec: {}, codeDir: null, outputsOf: null, copyOutputsFrom: null,
      priority: 0, status: 'queued', attempt: 0, maxRestarts: 2, executor: 'local', pid: null, pidStartTime: null, workdir: null,
      stdoutOffset: 0, stderrOffset: 0, exitCode: null, stopRequestedAt: null, startedAt: null, finishedAt: null, submitter: 'alice', teams: [],
      parentUuid: null, parentKind: null, parentConcurrency: null, cpu: 0, memoryMb: 0, gpu: 0, statusReason: 'Queued', statusMessage: '',
      fence: 0, owner: null, retryAt: null, timeoutSeconds: null, timedOutAt: null, workdirCleanedAt: null,
      heartbeatAt: heartbeatSecondsAgo === null ? null : new Date(Date.now() - heartbeatSecondsAgo * 1000),
    };
    await repo.enqueue(row as unknown as Parameters<ExecutionsRepository['enqueue']>[0], { status: 'queued', reason: 'Queued', message: '' });
    // Straight to running, as if started by a scheduler that died before recording the process.
    await repo.transition(runUuid, { status: 'running', reason: 'Running', message: '' }, { startedAt: new Date(Date.now() - startedSecondsAgo * 1000) });
    return runUuid;
  };

  it('refreshes the heartbeat of a run whose process it sees alive', async () => {
    const run = await submit('sleep 3');
    await waitFor(async () => lastStatus(run)?.status === 'running' && (await repo.find(run))?.heartbeatAt != null, { timeoutMs: 10_000, what: 'a heartbeat' });
    const beat = (await repo.find(run))?.heartbeatAt as Date;
    expect(Math.abs(beat.getTime() - Date.now())).toBeLessThan(5000);
    await waitFor(() => lastStatus(run)?.status === 'succeeded', { timeoutMs: 15_000, what: 'the run to succeed' });
  });

  it('fails a silent run it cannot see as a zombie, not retried, with a system log line; client heartbeats keep another alive', async () => {
    const silent = await orphan(60, null);
    const beating = await orphan(60, 5); // 5 s of the 10 s window left
    // The job's tracking client keeps beating (relayed by tracking) for longer than the window it had left.
    const beats = setInterval(() => void bus.emit(RunHeartbeat.PATTERN, { runUuid: beating, at: new Date().toISOString() } satisfies RunHeartbeat.Payload), 500);
    try {
      await waitFor(() => lastStatus(silent)?.status === 'failed', { timeoutMs: 10_000, what: 'the silent run to fail' });
      expect(lastStatus(silent)).toMatchObject({ status: 'failed', reason: 'Zombie' });
      expect(lastStatus(silent)?.message).toMatch(/^no heartbeat for \d+ s \(last sign of life at .*\) and no process id was recorded .*MYELIN_ZOMBIE_SECONDS=10$/);
      const row = await repo.find(silent);
      expect(row?.finishedAt).not.toBeNull();
      expect(row?.attempt).toBe(0); // restarts were left, yet a zombie is not retried
      await waitFor(() => systemLines.some((l) => l.runUuid === silent && /zombie/.test(l.line)), { timeoutMs: 5000, what: 'the system line' });
      await sleep(8000);
      expect(lastStatus(beating)?.status).toBe('running');
      expect(Date.now() - ((await repo.find(beating))?.heartbeatAt?.getTime() ?? 0)).toBeLessThan(5000);
    } finally {
      clearInterval(beats);
    }
    // Once its client stops beating, the window runs out for it too.
    await waitFor(() => lastStatus(beating)?.status === 'failed', { timeoutMs: 20_000, what: 'the run to fail once silent' });
    expect(lastStatus(beating)).toMatchObject({ status: 'failed', reason: 'Zombie' });
  });

  it('removes a finished run’s code, logs and bookkeeping after the TTL, keeping its outputs, once', async () => {
    const run = await submit('echo weights > "$MYELIN_OUTPUTS_PATH/model.txt"; echo done', { codeDir: codeDir.path });
    await waitFor(() => lastStatus(run)?.status === 'succeeded', { timeoutMs: 15_000, what: 'the run to succeed' });
    const workdir = join(runsDir.path, run);
    // The three directories go one after the other: wait for all of them, not just the first.
    const leftovers = async () => {
      const present = await Promise.all(['code', '.myelin', 'logs'].map((d) => exists(join(workdir, d))));
      return ['code', '.myelin', 'logs'].filter((_, i) => present[i]);
    };
    await waitFor(async () => (await leftovers()).length === 0, { timeoutMs: 10_000, what: 'the cleanup of code, .myelin and logs' });
    expect(await leftovers()).toEqual([]);
    expect(await readFile(join(workdir, 'outputs', 'model.txt'), 'utf8')).toBe('weights\n');
    const cleanedAt = (await repo.find(run))?.workdirCleanedAt;
    expect(cleanedAt).toBeInstanceOf(Date);
    // Recorded: a directory that comes back (a copy into it) is not cleaned a second time.
    await mkdir(join(workdir, 'code'));
    await sleep(2500);
    expect(await exists(join(workdir, 'code'))).toBe(true);
    expect((await repo.find(run))?.workdirCleanedAt?.getTime()).toBe(cleanedAt?.getTime());
  });
});
