import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTempDir, createTestDatabase, TempDir, TestDatabase } from '@myelin/testing';
import { distributedEnv, freePort, myelin, poll, removeBusPrefixes, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(180_000);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const TRAIN = `
import os
from myelin import tracking

run = tracking.Run()
params = run.get_params()
run.log_params(batch_size=32, arch="resnet18", lr=params["lr"])
for step in range(10000):
    run.log_metrics(step=step, loss=1.0 / (step + 1))
with open("model.txt", "w") as f:
    f.write("weights v1")
run.log_artifact("model.txt")
ckpt = os.path.join(run.get_outputs_path(), "checkpoints")
os.makedirs(ckpt, exist_ok=True)
with open(os.path.join(ckpt, "ckpt-1.bin"), "wb") as f:
    f.write(bytes(range(256)) * 4)
run.log_tags(["python"])
print("trained", flush=True)
`;

/** Logs 3,000 points over ~6 s and says when it is a tenth of the way (the test stops tracking then). */
const RESILIENT = `
import os, time
from myelin import tracking

run = tracking.Run()
started = time.time()
for step in range(3000):
    run.log_metrics(step=step, acc=step / 3000.0)
    if step == 300:
        open(os.path.join(run.get_outputs_path(), "halfway"), "w").close()
    time.sleep(0.002)
print("loop took %.1f s" % (time.time() - started), flush=True)
`;

const spec = (script: string, params = '') =>
  ['version: 1', 'kind: experiment', ...(params ? ['params:', params] : []), 'run:', `  cmd: python3 ${script}`, ''].join('\n');

/**
 * A real Python training script, using the bundled client (clients/python), run by the local
 * executor in distributed mode (API, scheduler and tracking as processes on PostgreSQL, RabbitMQ,
 * Redis): everything it logs is readable afterwards, and stopping the tracking service mid-run
 * neither fails nor stalls the script, and loses nothing.
 */
describe('Python client in a real job', () => {
  let db: TestDatabase;
  let home: TempDir;
  let code: TempDir;
  const procs = new Map<string, ServiceProcess>();
  let env: Record<string, string>;
  let apiPort: number;
  let trackingPort: number;
  let admin: string;

  const start = async (app: string, port: number) => {
    const proc = new ServiceProcess(['serve', app], { ...env, MYELIN_PORT: String(port) });
    procs.set(app, proc);
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000, proc);
  };
  const call = async (port: number, method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `token ${admin}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const submit = (file: string) =>
    call(apiPort, 'POST', '/api/v1/admin/py/runs', { files: [{ path: 'polyaxonfile.yml', content: file }], codeDir: code.path });
  const finished = (uuid: string) =>
    poll(async () => {
      const run = await call(apiPort, 'GET', `/api/v1/runs/${uuid}`);
      return ['succeeded', 'failed', 'stopped'].includes(run.status) ? run : null;
    }, { timeoutMs: 120_000, what: 'the run to finish' });

  beforeAll(async () => {
    db = await createTestDatabase('myelin_python_e2e');
    home = await createTempDir('myelin-e2e-python');
    code = await createTempDir('myelin-e2e-python-code');
    await writeFile(join(code.path, 'train.py'), TRAIN);
    await writeFile(join(code.path, 'resilient.py'), RESILIENT);
    [apiPort, trackingPort] = [await freePort(), await freePort()];
    env = distributedEnv({ databaseUrl: db.url, home: home.path, apiPort, label: 'myelin-py' }, { MYELIN_PUBLIC_TRACKING_URL: `http://127.0.0.1:${trackingPort}` });
    await start('api', apiPort);
    await Promise.all([start('tracking', trackingPort), start('scheduler', await freePort())]);
    admin = (JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string }).token;
    await call(apiPort, 'POST', '/api/v1/projects', { name: 'py' });
    await mkdir(join(home.path, 'runs'), { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await removeBusPrefixes();
    await db?.drop();
    await home?.remove();
    await code?.remove();
  });

  it('params, 10,000 metric points, an artifact, a checkpoint and a tag are all readable afterwards', async () => {
    const created = await submit(spec('train.py', '  lr: 0.01'));
    const run = await finished(created.uuid);
    const logs = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/logs`);
    expect({ status: run.status, logs: logs.results.map((l: { line: string }) => l.line) }).toEqual({ status: 'succeeded', logs: expect.arrayContaining(['trained']) });
    const summaries = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/metrics/summaries`);
    // The executor's own system metrics (sys/cpu_percent, sys/memory_mb...) appear when the job
    // outlives a sampling interval, which on a slow host this one can: only the job's own are counted.
    const own = (summaries as Array<{ name: string }>).filter((s) => !s.name.startsWith('sys/'));
    expect(own).toEqual([{ name: 'loss', count: 10_000, last: 1 / 10_000, lastStep: 9999, min: 1 / 10_000, max: 1 }]);
    const series = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/metrics?names=loss`);
    expect(series.loss.map((p: { step: number }) => p.step)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    const meta = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/metadata`);
    expect(meta.params).toEqual({ batch_size: 32, arch: 'resnet18', lr: 0.01 });
    const tree = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/outputs/tree`);
    const files = Object.fromEntries(tree.entries.filter((e: { type: string }) => e.type === 'file').map((e: { path: string; size: number }) => [e.path, e.size]));
    expect(files).toMatchObject({ 'model.txt': 10, 'checkpoints/ckpt-1.bin': 1024 });
    const model = await fetch(`http://127.0.0.1:${trackingPort}/api/v1/tracking/runs/${created.uuid}/outputs/file?path=model.txt`, { headers: { Authorization: `token ${admin}` } });
    expect(await model.text()).toBe('weights v1');
    await poll(async () => {
      const got = await call(apiPort, 'GET', `/api/v1/runs/${created.uuid}`);
      return got.tags.includes('python') && got.params.batch_size === 32;
    }, { what: 'tags and logged params in the API' });
    // The CLI: a table from the summaries, and a downsampled series.
    const cliEnv = { MYELIN_HOST: `http://127.0.0.1:${apiPort}`, MYELIN_TRACKING_HOST: `http://127.0.0.1:${trackingPort}`, MYELIN_TOKEN: admin, MYELIN_HOME: home.path };
    const shown = await myelin(['metrics', created.uuid], cliEnv);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/loss\s.*9999\s.*10000/);
    const down = JSON.parse((await myelin(['metrics', created.uuid, '--json', '--points', '100'], cliEnv)).stdout) as Record<string, unknown[]>;
    expect(down.loss.length).toBeLessThanOrEqual(100);
    expect((await myelin(['metrics', created.uuid, '--json', '--points', '0'], cliEnv)).code).not.toBe(0);
  });

  it('stopping tracking mid-run neither fails nor stalls the script, and every point arrives once it is back', async () => {
    const created = await submit(spec('resilient.py'));
    const halfway = join(home.path, 'runs', created.uuid, 'outputs', 'halfway');
    await poll(() => existsSync(halfway), { timeoutMs: 60_000, what: 'the script to be a tenth of the way' });
    await procs.get('tracking')!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 2500));
    await start('tracking', trackingPort);
    const run = await finished(created.uuid);
    expect(run.status).toBe('succeeded');
    await poll(async () => {
      const [acc] = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/metrics/summaries`);
      return acc?.count === 3000;
    }, { timeoutMs: 30_000, what: 'all 3,000 points' });
    const series = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/metrics?names=acc`);
    expect(series.acc.map((p: { step: number }) => p.step)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    // The loop was not held up by the outage: a client that blocked on each failed send (a 10 s
    // timeout per call) would take minutes here, not the ~6 s of the loop's own sleeps.
    const logs = await call(trackingPort, 'GET', `/api/v1/tracking/runs/${created.uuid}/logs`);
    const took = Number(/loop took ([\d.]+) s/.exec(logs.results.map((l: { line: string }) => l.line).join('\n'))?.[1]);
    expect(took).toBeLessThan(20);
  });
});
