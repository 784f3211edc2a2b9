import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDir, TempDir } from '@myelin/testing';
import { freePort, myelin, poll, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(180_000);

/**
 * The queue as a user meets it: `myelin up` with a per-project limit, quotas set with
 * `myelin quota`, runs that wait or can never fit, and `myelin queue` saying why.
 */
describe('embedded mode: queue, limits and quotas through the CLI', () => {
  let home: TempDir;
  let specs: TempDir;
  let up: ServiceProcess;
  let env: Record<string, string>;
  let base: string;
  const apiRun = async (uuid: string) => {
    const { token } = JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string };
    const res = await fetch(`${base}/api/v1/runs/${uuid}`, { headers: { Authorization: `token ${token}` } });
    return (await res.json()) as { status: string; statusMessage: string; number: number; statuses?: Array<{ status: string; reason: string; message: string }>; startedAt?: string | null };
  };
  const spec = async (name: string, body: string) => {
    const path = join(specs.path, name);
    await writeFile(path, body);
    return path;
  };
  const submit = async (file: string, project: string) => {
    const res = await myelin(['run', '-f', file, '-p', project, '--json'], env);
    expect(res.code).toBe(0);
    return (JSON.parse(res.stdout) as { uuid: string }).uuid;
  };

  beforeAll(async () => {
    home = await createTempDir('myelin-e2e-queue');
    specs = await createTempDir('myelin-e2e-queue-specs');
    const port = await freePort();
    // Eight pretend GPUs: runs asking for GPUs are held by quotas here, not by the host's devices.
    env = { MYELIN_HOME: home.path, MYELIN_MAX_PARALLEL: '4', MYELIN_MAX_PARALLEL_PER_PROJECT: '1', MYELIN_GPU_DEVICES: '0,1,2,3,4,5,6,7' };
    base = `http://127.0.0.1:${port}`;
    up = new ServiceProcess(['up', '--port', String(port)], env);
    await waitForHttp(`${base}/readyz`, 90_000, up);
    env = { ...env, MYELIN_HOST: base };
    for (const p of ['vision', 'big', 'ordering']) expect((await myelin(['project', 'create', p], env)).code).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
    await home?.remove();
    await specs?.remove();
  });

  it('shows a run held by its project limit, and one that can never fit its quota, until the quota grows', async () => {
    expect((await myelin(['quota', 'set', 'user', 'admin', '--gpu', '4', '--memory', '16Gi'], env)).code).toBe(0);
    const ls = await myelin(['quota', 'ls', '--json'], env);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ scope: 'user', name: 'admin', gpu: 4, memoryMb: 16384, maxRuns: null })]);

    const sleeper = await spec('sleep.yml', 'version: 1\nkind: experiment\nenvironment:\n  resources:\n    gpu: {requests: 1}\nrun:\n  cmd: sleep 120\n');
    const quick = await spec('quick.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: echo quick\n');
    const big = await spec('big.yml', 'version: 1\nkind: experiment\nenvironment:\n  resources:\n    gpu: {requests: 8}\nrun:\n  cmd: echo big\n');
    const first = await submit(sleeper, 'vision');
    await poll(async () => (await apiRun(first)).status === 'running', { timeoutMs: 30_000, what: 'the first run to start' });
    const second = await submit(quick, 'vision');
    const huge = await submit(big, 'big');
    await poll(async () => (await apiRun(huge)).status === 'unschedulable', { timeoutMs: 30_000, what: 'the big run to be unschedulable' });
    await poll(async () => (await apiRun(second)).statusMessage.includes('project limit'), { timeoutMs: 30_000, what: 'the project-limit condition' });

    const queue = await myelin(['queue', '--json'], env);
    expect(queue.code).toBe(0);
    const view = JSON.parse(queue.stdout) as { waiting: Array<{ runUuid: string; status: string; message: string; position: number }> };
    expect(view.waiting.map((w) => [w.runUuid, w.status, w.message])).toEqual([
      [second, 'queued', 'waiting: project admin/vision has 1 of 1 runs running (project limit)'],
      [huge, 'unschedulable', 'asks 8 GPU where the quota of user admin allows 4'],
    ]);
    const text = await myelin(['queue'], env);
    expect(text.stdout).toMatch(/admin\/vision#2 .* \(project limit\)/);
    expect(text.stdout).toMatch(/admin\/big#1 .*unschedulable +asks 8 GPU/);

    // A superuser moves it in the queue (by number within its project).
    const moved = await myelin(['queue', 'priority', '2', '7', '-p', 'vision'], env);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toBe('run admin/vision#2: priority 7\n');
    expect((await myelin(['queue', 'priority', '2', 'high', '-p', 'vision'], env)).code).toBe(2);
    expect((await myelin(['queue', 'priority', '1', '7', '-p', 'vision'], env)).code).toBe(3); // running: not in the queue

    // The run's own history says why it waited.
    const got = JSON.parse((await myelin(['get', second, '--json'], env)).stdout) as { statuses: Array<{ status: string; reason: string }> };
    expect(got.statuses.map((s) => `${s.status}:${s.reason}`).slice(0, 3)).toEqual(['created:Created', 'queued:Queued', 'queued:ProjectLimit']);

    // With 8 GPUs allowed it could fit, but the first run holds one of them: it waits, queued again.
    expect((await myelin(['quota', 'set', 'user', 'admin', '--gpu', '8'], env)).code).toBe(0);
    await poll(async () => (await apiRun(huge)).statusMessage === 'waiting: asks 8 GPU; user admin uses 1 of 8 (quota)', { timeoutMs: 30_000, what: 'the big run to wait for GPUs' });
    expect((await apiRun(huge)).status).toBe('queued');
    expect((await apiRun(second)).status).toBe('queued'); // still behind the first run of its project
    expect((await myelin(['stop', first], env)).code).toBe(0);
    await poll(async () => (await apiRun(huge)).status === 'succeeded', { timeoutMs: 30_000, what: 'the big run once the GPUs are free' });
    await poll(async () => (await apiRun(second)).status === 'succeeded', { timeoutMs: 30_000, what: 'the second run once the first stopped' });
    const empty = await myelin(['queue'], env);
    expect(empty.stdout).toMatch(/^Nothing waits/);
  });

  it('starts a run submitted with a higher priority first (`myelin run --priority`)', async () => {
    const sleeper = await spec('hold.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: sleep 120\n');
    const quick = await spec('q.yml', 'version: 1\nkind: experiment\nrun:\n  cmd: echo quick\n');
    const holder = await submit(sleeper, 'ordering');
    await poll(async () => (await apiRun(holder)).status === 'running', { timeoutMs: 30_000, what: 'the first run to start' });
    // The project limit (1) holds both: the later one, with priority 5, is ahead in the queue.
    const normal = await submit(quick, 'ordering');
    const urgent = await myelin(['run', '-f', quick, '-p', 'ordering', '--priority', '5', '--json'], env);
    expect(urgent.code).toBe(0);
    const urgentUuid = (JSON.parse(urgent.stdout) as { uuid: string }).uuid;
    const view = await poll(async () => {
      const q = JSON.parse((await myelin(['queue', '--json'], env)).stdout) as { waiting: Array<{ runUuid: string; priority: number }> };
      return q.waiting.length === 2 ? q : null;
    }, { timeoutMs: 30_000, what: 'both runs in the queue' });
    expect(view.waiting.map((w) => [w.runUuid, w.priority])).toEqual([
      [urgentUuid, 5],
      [normal, 0],
    ]);
    expect((await myelin(['run', '-f', quick, '-p', 'ordering', '--priority', 'high'], env)).code).toBe(2);
    expect((await myelin(['stop', holder], env)).code).toBe(0);
    await poll(async () => (await apiRun(normal)).status === 'succeeded', { timeoutMs: 30_000, what: 'the normal run' });
    const urgentRun = await apiRun(urgentUuid);
    const normalRun = await apiRun(normal);
    expect(urgentRun.status).toBe('succeeded');
    // Submitted later, started first.
    expect(Date.parse(urgentRun.startedAt ?? '')).toBeLessThan(Date.parse(normalRun.startedAt ?? ''));
  });

  it('runs a build section in the host environment, saying so, and manages the build cache with `myelin build`', async () => {
    const built = await spec('built.yml', 'version: 1\nkind: experiment\nbuild:\n  image: python:3.12-slim\n  build_steps: [pip install torch]\nrun:\n  cmd: echo trained\n');
    const uuid = await submit(built, 'ordering');
    await poll(async () => (await apiRun(uuid)).status === 'succeeded', { timeoutMs: 30_000, what: 'the run with a build section' });
    const logs = await myelin(['logs', uuid], env);
    expect(logs.stdout).toBe('trained\n');
    // The platform's own lines go to stderr, after the job's output.
    expect(logs.stderr).toMatch(/myelin: .*build steps \(1\) were not applied: the local executor runs in the host environment/);
    const dropped = await myelin(['build', 'invalidate', uuid, '--json'], env);
    expect(dropped.code).toBe(0);
    expect(JSON.parse(dropped.stdout)).toMatchObject({ runUuid: uuid, invalidated: false, image: null });
    const ls = await myelin(['build', 'ls', '-p', 'admin/ordering', '--json'], env);
    expect(JSON.parse(ls.stdout)).toEqual([]);
    expect((await myelin(['build', 'invalidate'], env)).code).toBe(2);
    const buildKind = await spec('kaniko.yml', 'version: 1\nkind: build\nimage: python:3.12-slim\nbuild_steps: [pip install torch]\n');
    const refused = await submit(buildKind, 'ordering');
    await poll(async () => (await apiRun(refused)).status === 'failed', { timeoutMs: 30_000, what: 'the kind: build run to be refused' });
    expect((await apiRun(refused)).statusMessage).toMatch(/MYELIN_EXECUTOR=kubernetes/);
  });

  it('reports usage errors and unknown quotas with their exit codes', async () => {
    expect((await myelin(['quota', 'set', 'galaxy', 'x', '--gpu', '1'], env)).code).toBe(2);
    expect((await myelin(['quota', 'set', 'user', 'x', '--memory', 'lots'], env)).code).toBe(2);
    const rm = await myelin(['quota', 'rm', 'team', 'acme/none'], env);
    expect(rm.code).toBe(3);
    expect(rm.stderr).toMatch(/no quota for team acme\/none/);
  });
});
