import { randomUUID } from 'node:crypto';
import { RunStart, RunStatusChanged, RunTokenIssue, TokenVerify } from '@myelin/contracts';
import { LogLinesAppend, MetricsBatch } from '@myelin/contracts';
import { readFile } from 'node:fs/promises';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';
import { schedulerTestEnv } from '../testing/scheduler-test-env';

jest.setTimeout(60_000);

const ADMIN = 'admin-token-00001';
const ALICE = 'alice-token-00001';

/**
 * The scheduler alone on its own PostgreSQL database, the API stood in for on the in-process bus
 * (tokens, run tokens, and a recorder of every status event): limits, quotas, priorities, the
 * conditions that say why a run waits, `unschedulable`, and the queue and quota endpoints.
 */
describe('scheduler admission: limits, quotas and the queue', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let runsDir: TempDir;
  let base: string;
  const events: RunStatusChanged.Payload[] = [];
  const metrics: MetricsBatch.Payload[] = [];
  const groupUuid = randomUUID();

  const statusesOf = (uuid: string) => events.filter((e) => e.runUuid === uuid);
  const lastStatus = (uuid: string) => statusesOf(uuid).at(-1)?.status;
  let number = 0;
  const submit = async (fields: Partial<RunStart.Payload> & { cmd?: string } = {}): Promise<string> => {
    const runUuid = randomUUID();
    number += 1;
    const payload: RunStart.Payload = {
      runUuid,
      project: 'alice/vision',
      number,
      kind: 'experiment',
      cmd: 'sleep 0.6',
      params: {},
      spec: {},
      user: 'alice',
      teams: [],
      ...fields,
    };
    await bus.send(RunStart.PATTERN, payload);
    return runUuid;
  };
  const finished = (uuids: string[], timeoutMs = 30_000) =>
    waitFor(() => uuids.every((u) => lastStatus(u) === 'succeeded'), { timeoutMs, what: 'runs to succeed' });
  const http = (method: string, path: string, token: string | null, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { Authorization: `token ${token}` } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    db = await createTestDatabase('myelin_admission');
    runsDir = await createTempDir('myelin-admission-runs');
    bus = new InProcessBus();
    const verify = ((p: TokenVerify.Payload): TokenVerify.Reply => {
      if (p.token === ADMIN) return { valid: true, userId: randomUUID(), username: 'admin', isSuperuser: true };
      if (p.token === ALICE) return { valid: true, userId: randomUUID(), username: 'alice', isSuperuser: false };
      return { valid: false };
    }) as MessageHandler;
    const record = (async (e: RunStatusChanged.Payload) => void events.push(e)) as MessageHandler;
    const runToken = (async () => ({ token: 'run-token-000001' })) as MessageHandler;
    await bus.consume(
      'api',
      new Map([
        [TokenVerify.PATTERN, verify],
        [RunStatusChanged.PATTERN, record],
        [RunTokenIssue.PATTERN, runToken],
      ]),
    );
    // Tracking stood in for: the metric batches (system samples among them); log lines dropped.
    await bus.consume(
      'tracking',
      new Map<string, MessageHandler>([
        [MetricsBatch.PATTERN, (async (b: MetricsBatch.Payload) => void metrics.push(b)) as MessageHandler],
        [LogLinesAppend.PATTERN, (async () => undefined) as MessageHandler],
      ]),
    );
    app = await bootstrap({ env: schedulerEnv(), bus, listen: true });
    base = `http://127.0.0.1:${app.port}`;
  }, 60_000);

  /** Eight (pretend) GPUs on this host; CPU and memory sampled every second. */
  const schedulerEnv = () =>
    schedulerTestEnv(db.url, runsDir.path, {
      MYELIN_MAX_PARALLEL: '3',
      MYELIN_MAX_PARALLEL_PER_PROJECT: '1',
      MYELIN_RETRY_BACKOFF_SECONDS: '0.3',
      MYELIN_STOP_GRACE_SECONDS: '1',
      MYELIN_GPU_DEVICES: '0,1,2,3,4,5,6,7',
      MYELIN_SAMPLE_SECONDS: '1',
    });

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
  });

  afterEach(async () => {
    for (const q of ((await (await http('GET', '/api/v1/scheduler/quotas', ADMIN)).json()) as { results: Array<{ scope: string; name: string }> }).results) {
      await http('DELETE', `/api/v1/scheduler/quotas?scope=${q.scope}&name=${encodeURIComponent(q.name)}`, ADMIN);
    }
  });

  it('holds a project at its limit, says so once, and lets another project start meanwhile', async () => {
    const a1 = await submit();
    await waitFor(() => lastStatus(a1) === 'running', { what: 'first run to start' });
    const a2 = await submit();
    const b1 = await submit({ project: 'bob/nlp', user: 'bob' });
    await waitFor(() => statusesOf(a2).some((e) => e.reason === 'ProjectLimit'), { what: 'the project-limit condition' });
    const waiting = statusesOf(a2).find((e) => e.reason === 'ProjectLimit')!;
    expect(waiting).toMatchObject({ status: 'queued', message: 'waiting: project alice/vision has 1 of 1 runs running (project limit)' });
    await waitFor(() => lastStatus(b1) === 'running' || lastStatus(b1) === 'succeeded', { what: 'the other project to start' });
    await finished([a1, a2, b1]);
    // Queued, the limit's condition once (not once per pass), then the lifecycle.
    expect(statusesOf(a2).map((e) => `${e.status}:${e.reason}`)).toEqual([
      'queued:Queued',
      'queued:ProjectLimit',
      'starting:Starting',
      'running:Running',
      'succeeded:Succeeded',
    ]);
    const started = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'starting');
    const ended = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'succeeded');
    expect(started(a2)).toBeGreaterThan(ended(a1));
  });

  it("starts a group's trials at most hptuning.concurrency at a time, higher priority first", async () => {
    const spec = { hptuning: { concurrency: 1 } };
    const trial = (priority: number, cmd = 'sleep 0.3') => submit({ project: `g${number}/p`, spec, parentUuid: groupUuid, priority, cmd });
    const first = await trial(0, 'sleep 1.5'); // long enough for both others to be queued behind it
    await waitFor(() => lastStatus(first) === 'running', { what: 'first trial to start' });
    const low = await trial(0);
    const high = await trial(5);
    await waitFor(() => statusesOf(low).some((e) => e.reason === 'GroupLimit'), { what: 'the group-limit condition' });
    expect(statusesOf(low).find((e) => e.reason === 'GroupLimit')?.message).toBe(`waiting: group ${groupUuid} has 1 of 1 trials running (hptuning.concurrency)`);
    await finished([first, low, high]);
    const startOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'starting');
    const endOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'succeeded');
    expect(startOf(high)).toBeGreaterThan(endOf(first));
    expect(startOf(low)).toBeGreaterThan(endOf(high)); // never two at once, and priority first
  });

  it('makes a run that asks more than a quota unschedulable with the reason, and queues it again when the quota grows', async () => {
    const put = await http('PUT', '/api/v1/scheduler/quotas', ADMIN, { scope: 'team', name: 'acme/ml', gpu: 4, maxRuns: 5 });
    expect(put.status).toBe(200);
    const big = await submit({ project: 'carol/big', user: 'carol', teams: ['acme/ml'], spec: { raw: { environment: { resources: { gpu: { requests: 8 } } } } } });
    await waitFor(() => lastStatus(big) === 'unschedulable', { what: 'the run to be unschedulable' });
    expect(statusesOf(big).at(-1)).toMatchObject({ reason: 'Unschedulable', message: 'asks 8 GPU where the quota of team acme/ml allows 4' });

    const queue = (await (await http('GET', '/api/v1/scheduler/queue', ADMIN)).json()) as { waiting: Array<{ runUuid: string; status: string; message: string; demand: { gpu: number } }> };
    expect(queue.waiting.find((w) => w.runUuid === big)).toMatchObject({ status: 'unschedulable', demand: { gpu: 8 } });
    // alice sees only her own runs.
    const hers = (await (await http('GET', '/api/v1/scheduler/queue', ALICE)).json()) as { waiting: unknown[]; hidden: number };
    expect(hers.waiting).toHaveLength(0);
    expect(hers.hidden).toBeGreaterThanOrEqual(1);

    await http('PUT', '/api/v1/scheduler/quotas', ADMIN, { scope: 'team', name: 'acme/ml', gpu: 8 });
    await finished([big]);
    expect(statusesOf(big).map((e) => e.status)).toEqual(['queued', 'unschedulable', 'queued', 'starting', 'running', 'succeeded']);
  });

  it('keeps a user at their max-runs quota and releases the next run when one ends', async () => {
    await http('PUT', '/api/v1/scheduler/quotas', ADMIN, { scope: 'user', name: 'dave', maxRuns: 1 });
    const d1 = await submit({ project: 'dave/a', user: 'dave' });
    const d2 = await submit({ project: 'dave/b', user: 'dave' });
    // The two commands may arrive in either order: whichever is second waits.
    const held = await waitFor(() => [d1, d2].map((u) => statusesOf(u).find((e) => e.reason === 'Quota')).find(Boolean), { what: 'the quota condition' });
    expect(held.message).toBe('waiting: user dave has 1 of 1 runs running (quota)');
    await finished([d1, d2]);
    const other = held.runUuid === d1 ? d2 : d1;
    const startOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'starting');
    const endOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'succeeded');
    expect(startOf(held.runUuid)).toBeGreaterThan(endOf(other));
  });

  it('refuses quota changes from non-superusers and unauthenticated callers, and bad bodies', async () => {
    expect((await http('PUT', '/api/v1/scheduler/quotas', ALICE, { scope: 'user', name: 'alice', maxRuns: 100 })).status).toBe(403);
    expect((await http('PUT', '/api/v1/scheduler/quotas', null, { scope: 'user', name: 'alice', maxRuns: 100 })).status).toBe(401);
    expect((await http('PUT', '/api/v1/scheduler/quotas', 'nobody-token-0001', { scope: 'user', name: 'alice' })).status).toBe(401);
    expect((await http('PUT', '/api/v1/scheduler/quotas', ADMIN, { scope: 'galaxy', name: 'x' })).status).toBe(400);
    expect((await http('PUT', '/api/v1/scheduler/quotas', ADMIN, { scope: 'user', name: 'x', gpu: -1 })).status).toBe(400);
    expect((await http('DELETE', '/api/v1/scheduler/quotas?scope=user&name=ghost', ADMIN)).status).toBe(404);
    expect((await http('DELETE', '/api/v1/scheduler/quotas?scope=user&name=ghost', ALICE)).status).toBe(403);
    const list = (await (await http('GET', '/api/v1/scheduler/quotas', ALICE)).json()) as { results: unknown[] };
    expect(list.results).toEqual([]);
  });

  it('moves waiting runs in the queue: superusers raise, submitters only lower their own', async () => {
    const first = await submit({ project: 'prio/x', cmd: 'sleep 3' }); // long enough for the moves below
    await waitFor(() => lastStatus(first) === 'running', { what: 'first run to start' });
    const a = await submit({ project: 'prio/x' });
    const b = await submit({ project: 'prio/x' });
    const bobs = await submit({ project: 'prio/y', user: 'bob', cmd: 'sleep 1.5' });
    await waitFor(() => [a, b].every((u) => statusesOf(u).some((e) => e.reason === 'ProjectLimit')), { what: 'both to wait' });
    const setPriority = (uuid: string, token: string, priority: unknown) => http('PUT', `/api/v1/scheduler/queue/${uuid}/priority`, token, { priority });
    expect((await setPriority(b, ALICE, 5)).status).toBe(403); // raising is for superusers
    expect((await setPriority(bobs, ALICE, -1)).status).toBe(404); // not hers (and running)
    expect((await setPriority(randomUUID(), ADMIN, 1)).status).toBe(404);
    expect((await setPriority(first, ADMIN, 1)).status).toBe(404); // running: not in the queue
    expect((await setPriority(b, ADMIN, 1.5)).status).toBe(400);
    expect((await setPriority(b, ADMIN, 5000)).status).toBe(400);
    const raised = await setPriority(b, ADMIN, 10);
    expect(raised.status).toBe(200);
    expect(await raised.json()).toEqual({ runUuid: b, priority: 10 });
    expect((await setPriority(a, ALICE, -1)).status).toBe(200);
    const queue = (await (await http('GET', '/api/v1/scheduler/queue', ALICE)).json()) as { waiting: Array<{ runUuid: string; priority: number }> };
    expect(queue.waiting.map((w) => [w.runUuid, w.priority])).toEqual([[b, 10], [a, -1]]);
    await finished([first, a, b, bobs]);
    const startOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'starting');
    expect(startOf(b)).toBeLessThan(startOf(a));
  });

  it('retries a failing run max_restarts times with backoff, each attempt in the history, then fails', async () => {
    const run = await submit({ project: 'retry/a', user: 'rita', cmd: 'echo attempt; exit 3', maxRestarts: 2 });
    await waitFor(() => lastStatus(run) === 'failed', { timeoutMs: 20_000, what: 'the run to fail for good' });
    const history = statusesOf(run);
    expect(history.map((e) => e.status)).toEqual([
      'queued', 'starting', 'running', 'retrying', 'queued', 'starting', 'running', 'retrying', 'queued', 'starting', 'running', 'failed',
    ]);
    const retries = history.filter((e) => e.status === 'retrying');
    expect(retries.map((e) => e.message)).toEqual([
      'attempt 1 of 3 failed (Error: exit code 3); restart 1 of 2 in 0.3 s',
      'attempt 2 of 3 failed (Error: exit code 3); restart 2 of 2 in 0.6 s',
    ]);
    expect(history.filter((e) => e.status === 'starting').map((e) => e.attempt)).toEqual([0, 1, 2]);
    expect(history.at(-1)).toMatchObject({ reason: 'Error', exitCode: 3, attempt: 2, message: 'exit code 3 (attempt 3 of 3, no restarts left)' });
    // The backoff grows: the second wait is longer than the first.
    const at = (i: number) => new Date(history[i].at).getTime();
    expect(at(4) - at(3)).toBeGreaterThanOrEqual(250);
    expect(at(8) - at(7)).toBeGreaterThanOrEqual(550);
  });

  it('succeeds on a later attempt when the failure was transient', async () => {
    const marker = `${runsDir.path}/flaky-${randomUUID()}`;
    const run = await submit({ project: 'retry/b', user: 'rita', cmd: `if [ -f ${marker} ]; then exit 0; else touch ${marker}; exit 1; fi`, maxRestarts: 3 });
    await finished([run]);
    expect(statusesOf(run).map((e) => e.status)).toEqual(['queued', 'starting', 'running', 'retrying', 'queued', 'starting', 'running', 'succeeded']);
  });

  it('fails a run that exceeds its timeout with reason Timeout, without a retry, killing one that ignores SIGTERM', async () => {
    const run = await submit({ project: 'timeout/a', user: 'tim', cmd: "trap '' TERM; sleep 30", timeoutSeconds: 1, maxRestarts: 2 });
    await waitFor(() => lastStatus(run) === 'failed', { timeoutMs: 15_000, what: 'the timeout' });
    const last = statusesOf(run).at(-1)!;
    expect(last.reason).toBe('Timeout');
    expect(last.message).toMatch(/^exceeded its timeout of 1 s; /);
    expect(statusesOf(run).some((e) => e.status === 'retrying')).toBe(false);
    const starting = statusesOf(run).find((e) => e.status === 'starting')!;
    const took = new Date(last.at).getTime() - new Date(starting.at).getTime();
    expect(took).toBeGreaterThanOrEqual(1900); // 1 s of running, then 1 s of grace before SIGKILL (it ignores SIGTERM)
    expect(took).toBeLessThan(8000);
  });

  it('stops a run waiting for its retry at once', async () => {
    const run = await submit({ project: 'retry/c', user: 'rita', cmd: 'exit 1', maxRestarts: 1 });
    await waitFor(() => lastStatus(run) === 'retrying', { what: 'retrying' });
    await bus.send('scheduler.cmd.run.stop.v1', { runUuid: run, reason: 'enough' });
    await waitFor(() => lastStatus(run) === 'stopped', { what: 'stopped' });
    await new Promise((r) => setTimeout(r, 600));
    expect(statusesOf(run).filter((e) => e.status === 'starting')).toHaveLength(1);
  });

  it('stops an unschedulable run at once', async () => {
    await http('PUT', '/api/v1/scheduler/quotas', ADMIN, { scope: 'project', name: 'erin/frozen', maxRuns: 0 });
    const run = await submit({ project: 'erin/frozen', user: 'erin' });
    await waitFor(() => lastStatus(run) === 'unschedulable', { what: 'unschedulable' });
    expect(statusesOf(run).at(-1)?.message).toBe('the quota of project erin/frozen allows no runs');
    await bus.send('scheduler.cmd.run.stop.v1', { runUuid: run, reason: 'no longer wanted' });
    await waitFor(() => lastStatus(run) === 'stopped', { what: 'stopped' });
  });
  it('gives each GPU run devices of its own, holds a run until enough are free (also across a scheduler restart), hides GPUs from CPU runs', async () => {
    const gpu = (n: number) => ({ raw: { environment: { resources: { gpu: { requests: n } } } } });
    const printCuda = 'echo "cuda=[$CUDA_VISIBLE_DEVICES] nvidia=[$NVIDIA_VISIBLE_DEVICES]"';
    const stdoutOf = (uuid: string) => readFile(`${runsDir.path}/${uuid}/logs/stdout.log`, 'utf8');
    const six = await submit({ project: 'gpu/a', user: 'gina', spec: gpu(6), cmd: `${printCuda}; sleep 4` });
    await waitFor(() => lastStatus(six) === 'running', { what: 'the 6-GPU run to start' });
    const four = await submit({ project: 'gpu/b', user: 'gina', spec: gpu(4), cmd: printCuda });
    const cpu = await submit({ project: 'gpu/c', user: 'gina', cmd: printCuda });
    const nine = await submit({ project: 'gpu/d', user: 'gina', spec: gpu(9) });
    await waitFor(() => statusesOf(four).some((e) => e.reason === 'GpuDevices'), { what: 'the GPU-devices condition' });
    expect(statusesOf(four).find((e) => e.reason === 'GpuDevices')?.message).toBe('waiting: asks 4 GPU; 2 of 8 devices free on this host');
    await waitFor(() => lastStatus(nine) === 'unschedulable', { what: 'the 9-GPU run to be unschedulable' });
    expect(statusesOf(nine).at(-1)?.message).toBe('asks 9 GPU where this host has 8 (MYELIN_GPU_DEVICES)');
    await finished([cpu]);
    expect(await stdoutOf(cpu)).toBe('cuda=[] nvidia=[void]\n');

    // A restarted scheduler knows from the rows which devices the live run holds.
    await app.close();
    app = await bootstrap({ env: schedulerEnv(), bus, listen: true });
    base = `http://127.0.0.1:${app.port}`;
    await finished([six, four]);
    expect(await stdoutOf(six)).toBe('cuda=[0,1,2,3,4,5] nvidia=[0,1,2,3,4,5]\n');
    expect(await stdoutOf(four)).toBe('cuda=[0,1,2,3] nvidia=[0,1,2,3]\n');
    const startOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'starting');
    const endOf = (u: string) => events.findIndex((e) => e.runUuid === u && e.status === 'succeeded');
    expect(startOf(four)).toBeGreaterThan(endOf(six));
    await bus.send('scheduler.cmd.run.stop.v1', { runUuid: nine, reason: 'cannot fit' });
    await waitFor(() => lastStatus(nine) === 'stopped', { what: 'stopped' });
  });

  it('samples the CPU and memory of a live run as system metrics', async () => {
    const run = await submit({ project: 'sys/a', user: 'sam', cmd: 'sleep 3 & sleep 3 & wait' });
    await finished([run]);
    const points = metrics.filter((b) => b.runUuid === run && b.batchId.startsWith('sys:')).flatMap((b) => b.points);
    const memory = points.filter((p) => p.name === 'sys/memory_mb');
    expect(memory.length).toBeGreaterThanOrEqual(2);
    for (const p of memory) expect(p.value).toBeGreaterThan(0);
    expect(points.some((p) => p.name === 'sys/cpu_percent' && p.value >= 0)).toBe(true);
    // Steps are whole seconds since the run was queued, and grow.
    const steps = memory.map((p) => p.step ?? -1);
    expect(steps.every((s, i) => s >= 0 && (i === 0 || s >= steps[i - 1]))).toBe(true);
  });
});
