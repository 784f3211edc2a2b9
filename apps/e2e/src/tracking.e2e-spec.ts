import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDir, createTestDatabase, TempDir, TestDatabase } from '@myelin/testing';
import { MyelinClient, RunTracker } from '@myelin/sdk';
import { distributedEnv, freePort, poll, removeBusPrefixes, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(120_000);

type Reply = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A job that hands its run token to the test (through its outputs) and waits to be stopped. */
const HOLDER = {
  files: [
    {
      path: 'polyaxonfile.yml',
      content: 'version: 1\nkind: experiment\nparams:\n  lr: 0.1\nrun:\n  cmd: printf %s "$MYELIN_TOKEN" > "$MYELIN_OUTPUTS_PATH/token.tmp" && mv "$MYELIN_OUTPUTS_PATH/token.tmp" "$MYELIN_OUTPUTS_PATH/token" && sleep 600\n',
    },
  ],
};

/**
 * The tracking HTTP API (docs/tracking-http-api.md) in distributed mode: the API, the scheduler
 * and two tracking replicas as processes on PostgreSQL, RabbitMQ and Redis. Runs are real jobs of
 * the local executor, so their tokens are the ones jobs get.
 */
describe('tracking HTTP API, two replicas on PostgreSQL, RabbitMQ and Redis', () => {
  let db: TestDatabase;
  let home: TempDir;
  const procs: ServiceProcess[] = [];
  let apiPort: number;
  let trackingPort: number;
  let replicaPort: number;
  let admin: string;
  const started: number[] = [];
  let startApp: (app: string, port: number) => Promise<ServiceProcess>;
  let replicaProc: ServiceProcess;

  const call = async (port: number, method: string, path: string, body?: unknown, token: string | null = admin): Promise<Reply> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `token ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const core = (method: string, path: string, body?: unknown, token: string | null = admin) => call(apiPort, method, path, body, token);
  const trk = (method: string, path: string, body?: unknown, token: string | null = admin) => call(trackingPort, method, path, body, token);

  async function newRun(): Promise<{ uuid: string; number: number; token: string }> {
    const created = await core('POST', '/api/v1/admin/tracked/runs', HOLDER);
    expect(created.status).toBe(201);
    started.push(created.body.number);
    const file = join(home.path, 'runs', created.body.uuid, 'outputs', 'token');
    const token = await poll(() => readFile(file, 'utf8').catch(() => null), { timeoutMs: 30_000, what: 'the job to start' });
    return { uuid: created.body.uuid, number: created.body.number, token };
  }

  beforeAll(async () => {
    db = await createTestDatabase('myelin_tracking_e2e');
    home = await createTempDir('myelin-e2e-tracking');
    [apiPort, trackingPort, replicaPort] = [await freePort(), await freePort(), await freePort()];
    const env = distributedEnv(
      { databaseUrl: db.url, home: home.path, apiPort, label: 'myelin-trk' },
      {
        MYELIN_TRACKING_MAX_BATCH_POINTS: '5000',
        // Every test holds a job or two running until the end.
        MYELIN_MAX_PARALLEL: '32',
        MYELIN_AUTH_CACHE_SECONDS: '0',
        // A long fallback poll: a follower that sees new lines quickly was woken by Redis pub/sub.
        MYELIN_LOG_FOLLOW_POLL_MS: '60000',
      },
    );
    startApp = async (app: string, port: number) => {
      const proc = new ServiceProcess(['serve', app], { ...env, MYELIN_PORT: String(port) });
      procs.push(proc);
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000, proc);
      return proc;
    };
    await startApp('api', apiPort);
    await Promise.all([startApp('tracking', trackingPort), startApp('tracking', replicaPort).then((p) => (replicaProc = p)), startApp('scheduler', await freePort())]);
    admin = (JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string }).token;
    expect((await core('POST', '/api/v1/projects', { name: 'tracked' })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    for (const n of started) await core('POST', `/api/v1/admin/tracked/runs/${n}/stop`).catch(() => undefined);
    await poll(async () => (await core('GET', '/api/v1/admin/tracked/runs?query=status:running')).body.results.every((r: { managed: boolean }) => !r.managed), {
      timeoutMs: 30_000,
      what: 'the jobs to stop',
    }).catch(() => undefined);
    await Promise.all(procs.map((p) => p.stop()));
    await removeBusPrefixes();
    await db?.drop();
    await home?.remove();
  });

  it('stores a metrics batch once per batch id, whatever the retries', async () => {
    const run = await newRun();
    const batch = { batchId: randomUUID(), points: Array.from({ length: 1000 }, (_, i) => ({ name: 'loss', step: i, value: 1 / (i + 1), timestamp: 1_760_000_000 + i })) };
    const first = await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, batch, run.token);
    expect(first).toEqual({ status: 200, body: { stored: 1000, duplicate: false } });
    const again = await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, batch, run.token);
    expect(again).toEqual({ status: 200, body: { stored: 0, duplicate: true } });
    const summaries = await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics/summaries`, undefined, run.token);
    expect(summaries.body).toEqual([{ name: 'loss', count: 1000, last: 1 / 1000, lastStep: 999, min: 1 / 1000, max: 1 }]);
    const series = await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics?names=loss`, undefined, run.token);
    expect(series.body.loss).toHaveLength(1000);
    expect(series.body.loss[0]).toEqual({ step: 0, value: 1, timestamp: new Date(1_760_000_000_000).toISOString() });
    // The API's copy of the summary (run tables sort by it) arrives through the outbox.
    await poll(async () => (await core('GET', `/api/v1/admin/tracked/runs?query=metrics.loss:<0.01`)).body.results.some((r: { uuid: string }) => r.uuid === run.uuid));
  });

  it('refuses an oversized batch with 413 and the limit, and a bad field with 400 naming it', async () => {
    const run = await newRun();
    const points = Array.from({ length: 5001 }, (_, i) => ({ name: 'x', step: i, value: i }));
    const big = await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, { batchId: 'b1', points }, run.token);
    expect(big.status).toBe(413);
    expect(big.body.message).toMatch(/5001 points exceeds the limit of 5000/);
    const bad = await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, { batchId: 'b2', points: [{ name: 'x', value: 1 }, { name: 'x', value: 'high' }] }, run.token);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/points\[1\]\.value/);
    const badId = await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, { batchId: 'no spaces allowed', points: [] }, run.token);
    expect(badId.status).toBe(400);
    expect(badId.body.message).toMatch(/batchId/);
    // Nothing of the refused batches was stored.
    expect((await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics/summaries`, undefined, run.token)).body).toEqual([]);
  });

  it('keeps NaN and infinities', async () => {
    const run = await newRun();
    const points = [{ name: 'v', step: 0, value: 'NaN' }, { name: 'v', step: 1, value: 'Infinity' }, { name: 'v', step: 2, value: 2 }];
    expect((await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, { batchId: 'nf', points }, run.token)).status).toBe(200);
    const series = await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics`, undefined, run.token);
    expect(series.body.v.map((p: { value: unknown }) => p.value)).toEqual(['NaN', 'Infinity', 2]);
  });

  it('params are write-once: the same value again is fine, another value is a 409 naming both', async () => {
    const run = await newRun();
    const path = `/api/v1/tracking/runs/${run.uuid}/params`;
    expect(await trk('POST', path, { params: { batch_size: 32, optimizer: { name: 'adam', beta: 0.9 } } }, run.token)).toEqual({
      status: 200,
      body: { params: { batch_size: 32, optimizer: { name: 'adam', beta: 0.9 } } },
    });
    expect((await trk('POST', path, { params: { optimizer: { beta: 0.9, name: 'adam' } } }, run.token)).status).toBe(200);
    const conflict = await trk('POST', path, { params: { batch_size: 64, epochs: 3 } }, run.token);
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toBe('params are write-once: `batch_size` is already 32, refusing 64');
    // Nothing of the refused call was kept, not even its new key.
    expect((await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metadata`, undefined, run.token)).body.params).toEqual({
      batch_size: 32,
      optimizer: { name: 'adam', beta: 0.9 },
    });
    // The API merges logged params into the run (a declared param keeps its value).
    expect((await trk('POST', path, { params: { lr: 0.5 } }, run.token)).status).toBe(200);
    await poll(async () => {
      const got = await core('GET', `/api/v1/admin/tracked/runs/${run.number}`);
      return got.body.params.batch_size === 32 && got.body.params.lr === 0.1;
    });
  });

  it('tags, code reference, environment and data references', async () => {
    const run = await newRun();
    const base = `/api/v1/tracking/runs/${run.uuid}`;
    expect((await trk('POST', `${base}/tags`, { tags: ['resnet', 'baseline'] }, run.token)).status).toBe(200);
    expect((await trk('PUT', `${base}/code-ref`, { commit: 'a1b2c3d4e5f6', branch: 'main', dirty: true, remote: 'git@example.com:me/x.git' }, run.token)).status).toBe(200);
    expect((await trk('PUT', `${base}/code-ref`, { commit: 'not a commit' }, run.token)).status).toBe(400);
    expect((await trk('PUT', `${base}/environment`, { host: 'gpu-1', python: '3.11.7', packages: { torch: '2.4.0' } }, run.token)).status).toBe(200);
    expect((await trk('POST', `${base}/data-refs`, { refs: [{ name: 'train', hash: 'sha256:aa' }] }, run.token)).status).toBe(200);
    const refs = await trk('POST', `${base}/data-refs`, { refs: [{ name: 'train', hash: 'sha256:bb', path: '/data/train' }, { name: 'val', hash: 'sha256:cc' }] }, run.token);
    expect(refs.body.refs).toEqual([{ name: 'train', hash: 'sha256:bb', path: '/data/train' }, { name: 'val', hash: 'sha256:cc' }]);
    const meta = await trk('GET', `${base}/metadata`, undefined, run.token);
    expect(meta.body).toMatchObject({
      codeRef: { commit: 'a1b2c3d4e5f6', branch: 'main', dirty: true },
      environment: { host: 'gpu-1', python: '3.11.7', packages: { torch: '2.4.0' } },
      dataRefs: refs.body.refs,
    });
    await poll(async () => (await core('GET', `/api/v1/admin/tracked/runs/${run.number}`)).body.tags.includes('baseline'));
  });

  it("a run's token writes to its run only; without a token nothing is accepted", async () => {
    const mine = await newRun();
    const other = await newRun();
    const batch = { batchId: 'x1', points: [{ name: 'loss', value: 1 }] };
    expect((await trk('POST', `/api/v1/tracking/runs/${other.uuid}/metrics`, batch, mine.token)).status).toBe(404);
    expect((await trk('POST', `/api/v1/tracking/runs/${other.uuid}/params`, { params: { a: 1 } }, mine.token)).status).toBe(404);
    expect((await trk('POST', `/api/v1/tracking/runs/${mine.uuid}/metrics`, batch, null)).status).toBe(401);
    expect((await trk('POST', `/api/v1/tracking/runs/${mine.uuid}/metrics`, batch, 'myl_not-a-real-token-at-all')).status).toBe(401);
  });

  it('downsamples a long series to the points asked, keeping its ends and its peaks, within a step range', async () => {
    const run = await newRun();
    const n = 20_000;
    for (let start = 0; start < n; start += 5000) {
      const points = Array.from({ length: 5000 }, (_, i) => {
        const step = start + i;
        return { name: 'acc', step, value: step === 12_345 ? 100 : Math.sin(step / 500) };
      });
      expect((await trk('POST', `/api/v1/tracking/runs/${run.uuid}/metrics`, { batchId: `d${start}`, points }, run.token)).status).toBe(200);
    }
    const down = (await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics?names=acc&points=500`, undefined, run.token)).body.acc as Array<{ step: number; value: number }>;
    expect(down.length).toBeLessThanOrEqual(500);
    expect(down.length).toBeGreaterThan(400);
    expect(down[0].step).toBe(0);
    expect(down[down.length - 1].step).toBe(n - 1);
    expect(down.find((p) => p.value === 100)?.step).toBe(12_345);
    const steps = down.map((p) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    // Fewer points asked: read from the rollups (buckets of 100 steps), with raw points at the range's edges.
    const coarse = (await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics?names=acc&points=50&from_step=150&to_step=19949`, undefined, run.token)).body.acc as Array<{ step: number; value: number; timestamp: string }>;
    expect(coarse.length).toBeLessThanOrEqual(50);
    expect([coarse[0].step, coarse[coarse.length - 1].step]).toEqual([150, 19_949]);
    expect(coarse.find((p) => p.value === 100)?.step).toBe(12_345);
    expect(coarse.every((p) => !Number.isNaN(Date.parse(p.timestamp)))).toBe(true);
    const ranged = (await trk('GET', `/api/v1/tracking/runs/${run.uuid}/metrics?names=acc&from_step=100&to_step=199`, undefined, run.token)).body.acc;
    expect(ranged.map((p: { step: number }) => p.step)).toEqual(Array.from({ length: 100 }, (_, i) => 100 + i));
    // Several runs at once.
    const other = await newRun();
    await trk('POST', `/api/v1/tracking/runs/${other.uuid}/metrics`, { batchId: 'o', points: [{ name: 'acc', step: 0, value: 0.5 }] }, other.token);
    const both = await trk('GET', `/api/v1/tracking/metrics?runs=${run.uuid},${other.uuid}&names=acc&points=100`);
    expect(Object.keys(both.body).sort()).toEqual([run.uuid, other.uuid].sort());
    expect(both.body[run.uuid].acc.length).toBeLessThanOrEqual(100);
    expect(both.body[other.uuid].acc).toEqual([expect.objectContaining({ step: 0, value: 0.5 })]);
  });

  it('runs tracked from outside: created running, their reports end them; managed runs refuse reports', async () => {
    const created = await core('POST', '/api/v1/admin/tracked/runs/external', { name: 'laptop', tags: ['local'], params: { lr: 0.01 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'running', managed: false, kind: 'experiment', params: { lr: 0.01 } });
    const uuid = created.body.uuid as string;
    expect((await trk('POST', `/api/v1/tracking/runs/${uuid}/metrics`, { batchId: 'e1', points: [{ name: 'loss', value: 0.3, step: 1 }] })).status).toBe(200);
    const failed = await trk('POST', `/api/v1/tracking/runs/${uuid}/status`, { status: 'failed', message: 'ValueError: bad shape', traceback: 'Traceback (most recent call last):\n  File "train.py"' });
    expect(failed).toEqual({ status: 200, body: { status: 'failed' } });
    const got = await core('GET', `/api/v1/runs/${uuid}`);
    expect(got.body).toMatchObject({ status: 'failed', statusReason: 'Failed' });
    expect(got.body.statusMessage).toMatch(/ValueError: bad shape\nTraceback/);
    // A retried report is fine; a contradicting one is refused.
    expect((await trk('POST', `/api/v1/tracking/runs/${uuid}/status`, { status: 'failed' })).status).toBe(200);
    expect((await trk('POST', `/api/v1/tracking/runs/${uuid}/status`, { status: 'succeeded' })).status).toBe(409);
    const restart = await core('POST', `/api/v1/admin/tracked/runs/${created.body.number}/restart`, {});
    expect(restart.status).toBe(409);
    expect(restart.body.message).toMatch(/tracked from outside/);
    const managed = await newRun();
    const refused = await trk('POST', `/api/v1/tracking/runs/${managed.uuid}/status`, { status: 'succeeded' }, managed.token);
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/executed by the scheduler/);
  });

  it('log followers on another replica get new lines live through Redis, then the end', async () => {
    const created = await core('POST', '/api/v1/admin/tracked/runs/external', {});
    const uuid = created.body.uuid as string;
    await trk('POST', `/api/v1/tracking/runs/${uuid}/logs`, { batchId: 'l0', lines: [{ line: 'epoch 0', timestamp: 1_760_000_000 }] });
    const res = await fetch(`http://127.0.0.1:${replicaPort}/api/v1/tracking/runs/${uuid}/logs/stream`, { headers: { Authorization: `token ${admin}` } });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string, ms: number) => {
      const deadline = Date.now() + ms;
      while (!text.includes(needle)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no "${needle}" within ${ms} ms; got: ${text}`);
        const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
        if (chunk?.value) text += decoder.decode(chunk.value, { stream: true });
        if (chunk?.done) break;
      }
    };
    await readUntil('epoch 0', 5000);
    // Stored through the first replica; the follower on the second wakes at once (its poll is 60 s).
    await trk('POST', `/api/v1/tracking/runs/${uuid}/logs`, { batchId: 'l1', lines: [{ line: 'epoch 1', stream: 'stderr' }] });
    await readUntil('epoch 1', 3000);
    await trk('POST', `/api/v1/tracking/runs/${uuid}/status`, { status: 'succeeded' });
    await readUntil('event: end', 3000);
    await reader.cancel();
    // The whole history after the run ended.
    const all = await trk('GET', `/api/v1/tracking/runs/${uuid}/logs`);
    expect(all.body).toMatchObject({ ended: true, results: [{ line: 'epoch 0', stream: 'stdout' }, { line: 'epoch 1', stream: 'stderr' }] });
  });

  it('the TypeScript RunTracker keeps points while tracking is down, splits on 413, and delivers each once', async () => {
    const created = await core('POST', '/api/v1/admin/tracked/runs/external', {});
    const warnings: string[] = [];
    const tracker = new RunTracker({
      client: new MyelinClient({ host: `http://127.0.0.1:${apiPort}`, trackingHost: `http://127.0.0.1:${replicaPort}`, token: admin }),
      runUuid: created.body.uuid,
      flushIntervalMs: 100,
      batchSize: 8000, // above this server's limit of 5000: the first send gets 413 and splits
      maxBufferedPoints: 10_000, // beyond it, batches wait in the spill file
      maxBackoffMs: 500,
      onWarning: (m) => warnings.push(m),
    });
    for (let step = 0; step < 8000; step++) tracker.logMetrics({ loss: 1 / (step + 1) }, step);
    await tracker.flush();
    expect(tracker.backlog).toBe(0);
    await replicaProc.stop('SIGKILL');
    const t0 = Date.now();
    for (let step = 8000; step < 30_000; step++) tracker.logMetrics({ loss: 1 / (step + 1) }, step);
    await tracker.flush();
    expect(Date.now() - t0).toBeLessThan(2000); // logging and a failed flush never block
    expect(tracker.backlog).toBe(22_000);
    replicaProc = await startApp('tracking', replicaPort);
    expect(await tracker.close(30_000)).toBe(0);
    const summaries = await trk('GET', `/api/v1/tracking/runs/${created.body.uuid}/metrics/summaries`);
    expect(summaries.body).toEqual([expect.objectContaining({ name: 'loss', count: 30_000, lastStep: 29_999 })]);
    expect(warnings.some((w) => /unreachable/.test(w))).toBe(true);
  });

  it('the tracking endpoints are in its OpenAPI document', async () => {
    const doc = await trk('GET', '/api/v1/tracking/openapi.json', undefined, null);
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/api/v1/tracking/runs/{uuid}/metrics', '/api/v1/tracking/runs/{uuid}/params', '/api/v1/tracking/metrics']));
  });
});
