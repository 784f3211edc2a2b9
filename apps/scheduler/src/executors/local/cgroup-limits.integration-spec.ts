import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunStart, RunStatusChanged, RunTokenIssue } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import type { ExecutionEntity } from '@myelin/persistence';
import { AppHandle } from '@myelin/runtime';
import { parsePolyaxonfiles } from '@myelin/spec';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../../bootstrap';
import { schedulerTestEnv } from '../../testing/scheduler-test-env';
import { CgroupLimiter, detectCgroups } from './cgroup-limits';
import { LocalProcessExecutor } from './local-process.executor';
import { runLocalJobToEnd } from '../../testing/run-local-job';

jest.setTimeout(30_000);

/**
 * Limits on this host's real cgroups (as the scheduler sets them up: MYELIN_CGROUP_PARENT=auto).
 * Where this process may not make cgroups (not root, no delegation), what is checked is that the
 * run says its limits are not enforced; the test says which case it ran.
 */
describe('local executor: cpu and memory limits', () => {
  let home: TempDir;
  let executor: LocalProcessExecutor;
  let limiter: CgroupLimiter | null = null;

  beforeAll(async () => {
    home = await createTempDir('myelin-limits');
    const detected = await detectCgroups('auto');
    limiter = 'layout' in detected ? new CgroupLimiter(detected.layout) : null;
    process.stdout.write(`cgroups on this host: ${'layout' in detected ? JSON.stringify(detected.layout) : detected.unavailable}\n`);
    executor = new LocalProcessExecutor({ runsDir: join(home.path, 'runs'), publicUrl: 'http://127.0.0.1:1', baseEnv: { PATH: process.env['PATH'] }, cgroups: limiter ?? detected as { unavailable: string } });
  });
  afterAll(async () => {
    executor.close();
    await home.remove();
  });

  const execution = (cmd: string, resources: string | null): ExecutionEntity => {
    const content = `version: 1\nkind: experiment\n${resources ? `environment:\n  resources:\n${resources}\n` : ''}run:\n  cmd: ${JSON.stringify(cmd)}\n`;
    const spec = JSON.parse(JSON.stringify(parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content }]))) as unknown;
    return { runUuid: randomUUID(), project: 'alice/vision', number: 1, kind: 'job', cmd, params: {}, spec, codeDir: null, outputsOf: null, copyOutputsFrom: null, attempt: 0 } as unknown as ExecutionEntity;
  };

  const runToEnd = (run: ExecutionEntity) => runLocalJobToEnd(executor, run, 1000);

  it('kills a run that goes over its memory limit: it ends OOMKilled, and its cgroup is removed', async () => {
    const run = execution("python3 -c \"b = bytearray(256 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('allocated')\"", '    memory: {requests: 32, limits: 64}');
    const { state, stdout, row, notice } = await runToEnd(run);
    if (!limiter) {
      expect(notice).toMatch(/^memory limited to 64 MB asked; not enforced on this host \(.+\): admission counts the requests only$/);
      expect(state).toEqual({ state: 'exited', exitCode: 0 });
      return;
    }
    expect(notice).toBe(`memory limited to 64 MB (cgroup v${limiter.layout.version})`);
    expect(stdout).toBe('');
    expect(state).toEqual({
      state: 'exited',
      exitCode: 137,
      signal: 'SIGKILL',
      reason: 'OOMKilled',
      detail: 'the kernel killed a process of the run for going over its memory limit',
    });
    for (const dir of limiter.dirs(run.runUuid, 0)) expect(existsSync(dir)).toBe(false);
    // Asked again (a restarted scheduler), the answer is the same without the cgroup.
    expect(await executor.inspect(row)).toMatchObject({ reason: 'OOMKilled' });
  });

  it('gives a run with a cpu limit no more than its share of a core', async () => {
    // Busy for 1.5 s of wall time, then the CPU seconds it got.
    const busy = 'python3 -c "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass\nprint(time.process_time())"';
    const run = execution(busy, '    cpu: {requests: 0.1, limits: 0.2}');
    const ending = runToEnd(run);
    // Midway, the kernel says whether it held the run back (a busy host alone could also keep the job under 0.5 s).
    await new Promise((r) => setTimeout(r, 1000));
    const cpuStat = limiter ? await readFile(join(limiter.dirs(run.runUuid, 0).at(-1)!, 'cpu.stat'), 'utf8').catch(() => '') : '';
    const { state, stdout, notice } = await ending;
    expect(state).toEqual({ state: 'exited', exitCode: 0 });
    if (!limiter) {
      expect(notice).toMatch(/^cpu limited to 0.2 cores asked; not enforced on this host/);
      return;
    }
    expect(notice).toBe(`cpu limited to 0.2 cores (cgroup v${limiter.layout.version})`);
    const cpuSeconds = Number(stdout.trim());
    // 0.2 of a core over 1.5 s is 0.3 s (interpreter start-up adds a little); unlimited it would be close to 1.5 s.
    expect(cpuSeconds).toBeGreaterThan(0);
    expect(cpuSeconds).toBeLessThan(0.5);
    expect(Number(/^nr_throttled (\d+)$/m.exec(cpuStat)?.[1] ?? 0)).toBeGreaterThan(0);
  });

  it('removes a cgroup left behind (a run failed as a zombie) with the run\'s working directory', async () => {
    const runUuid = randomUUID();
    if (limiter) for (const attempt of [0, 1]) await limiter.create(runUuid, attempt, { cpu: 1, memoryMb: 128 });
    await expect(executor.cleanWorkdir({ runUuid, workdir: join(home.path, 'runs', runUuid) })).resolves.toBeUndefined();
    if (limiter) for (const dir of [...limiter.dirs(runUuid, 0), ...limiter.dirs(runUuid, 1)]) expect(existsSync(dir)).toBe(false);
  });

  /** Alive and not a zombie (an orphan waits for its reaper a moment after it died). */
  const alive = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };
  /** The pid a job wrote to `escaped.pid` in its code directory, once written. */
  const escapedPid = async (run: ExecutionEntity): Promise<number> => {
    const file = join(home.path, 'runs', run.runUuid, 'code', 'escaped.pid');
    await waitFor(async () => Number(await readFile(file, 'utf8').catch(() => '')) > 0, { timeoutMs: 5000, what: 'the job to start its escaping process' });
    return Number(await readFile(file, 'utf8'));
  };
  // `setsid` puts the sleep in a session and process group of its own: supervision, which signals and watches the run's process group, does not see it.
  const ESCAPE = 'setsid sleep 60 & echo $! > escaped.pid';

  it('ends a run with limits as a container ends: a process that left its process group dies with it', async () => {
    const run = execution(`${ESCAPE}; echo done`, '    memory: {limits: 256}');
    const { state, stdout } = await runToEnd(run);
    expect({ state, stdout }).toEqual({ state: { state: 'exited', exitCode: 0 }, stdout: 'done\n' });
    const pid = await escapedPid(run);
    if (!limiter) {
      // No cgroup to find it by: it outlives the run (the run's history says its limits are not enforced).
      expect(alive(pid)).toBe(true);
      process.kill(pid, 'SIGKILL');
      return;
    }
    await waitFor(() => !alive(pid), { timeoutMs: 2000, what: 'the escaped process to die' });
    for (const dir of limiter.dirs(run.runUuid, 0)) expect(existsSync(dir)).toBe(false);
  });

  it("stops every process of a run with limits, also one that left the run's process group", async () => {
    const run = execution(`${ESCAPE}; sleep 60`, '    memory: {limits: 256}');
    const launched = await executor.launch(run);
    const row = { ...run, ...launched } as ExecutionEntity;
    const pid = await escapedPid(run);
    await executor.terminate(row);
    let state = await executor.inspect(row);
    for (let i = 0; i < 100 && state.state === 'running'; i++) state = await new Promise((r) => setTimeout(r, 20)).then(() => executor.inspect(row));
    expect(state).toEqual({ state: 'vanished' }); // the wrapper too got SIGTERM, before writing an exit code (a stopped run)
    if (!limiter) {
      expect(alive(pid)).toBe(true);
      process.kill(pid, 'SIGKILL');
      return;
    }
    await waitFor(() => !alive(pid), { timeoutMs: 2000, what: 'the escaped process to die' });
  });

  it('makes no cgroup for a run without limits', async () => {
    const run = execution('echo plain', '    cpu: {requests: 1}');
    const { state, stdout, notice } = await runToEnd(run);
    expect({ state, stdout, notice }).toEqual({ state: { state: 'exited', exitCode: 0 }, stdout: 'plain\n', notice: undefined });
    if (limiter) for (const dir of limiter.dirs(run.runUuid, 0)) expect(existsSync(dir)).toBe(false);
  });
});

/** The same through the scheduler: what the run's history says, and how it ends. */
describe('scheduler: a run over its memory limit', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let runsDir: TempDir;
  const events: RunStatusChanged.Payload[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('myelin_limits');
    runsDir = await createTempDir('myelin-limits-runs');
    bus = new InProcessBus();
    await bus.consume(
      'api',
      new Map<string, MessageHandler>([
        [RunStatusChanged.PATTERN, (async (e: RunStatusChanged.Payload) => void events.push(e)) as MessageHandler],
        [RunTokenIssue.PATTERN, (async () => ({ token: 'run-token' })) as MessageHandler],
      ]),
    );
    app = await bootstrap({ env: schedulerTestEnv(db.url, runsDir.path), bus, listen: false });
  });
  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
  });

  it('says its limit when it starts and fails OOMKilled (where this host enforces limits)', async () => {
    const detected = await detectCgroups('auto');
    const content = 'version: 1\nkind: experiment\nenvironment:\n  resources:\n    memory: {limits: 64}\nrun:\n  cmd: python3 -c "b = bytearray(256 * 1024 * 1024)"\n';
    const spec = JSON.parse(JSON.stringify(parsePolyaxonfiles([{ path: 'polyaxonfile.yml', content }]))) as RunStart.Payload['spec'];
    const runUuid = randomUUID();
    await bus.send(RunStart.PATTERN, { runUuid, project: 'alice/vision', number: 1, kind: 'experiment', cmd: 'python3 -c "b = bytearray(256 * 1024 * 1024)"', params: {}, spec, user: 'alice', teams: [] } satisfies RunStart.Payload);
    const statuses = () => events.filter((e) => e.runUuid === runUuid);
    await waitFor(() => ['succeeded', 'failed'].includes(statuses().at(-1)?.status ?? ''), { timeoutMs: 20_000, what: 'the run to end' });
    const running = statuses().find((e) => e.status === 'running')!;
    if ('layout' in detected) {
      expect(running.message).toMatch(new RegExp(`^process \\d+ in .+; memory limited to 64 MB \\(cgroup v${detected.layout.version}\\)$`));
      expect(statuses().at(-1)).toMatchObject({ status: 'failed', reason: 'OOMKilled', message: 'exit code 137 (killed by SIGKILL): the kernel killed a process of the run for going over its memory limit' });
    } else {
      expect(running.message).toMatch(/; memory limited to 64 MB asked; not enforced on this host \(.+\): admission counts the requests only$/);
      expect(statuses().at(-1)).toMatchObject({ status: 'succeeded' });
    }
  });
});
