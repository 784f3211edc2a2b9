import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTempDir, createTestDatabase, TempDir, TestDatabase } from '@myelin/testing';
import { distributedEnv, freePort, myelin, poll, removeBusPrefixes, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(240_000);

const APPS = ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'] as const;
type App = (typeof APPS)[number];

/**
 * Distributed mode: the six apps as six processes (`myelin serve <app>`) on the local PostgreSQL,
 * RabbitMQ and Redis, each run with its own database and queue prefix. Then the scheduler is
 * killed with SIGKILL mid-run and restarted: the run still reaches its true final status, with
 * every log line stored exactly once.
 */
describe('distributed mode: six processes on PostgreSQL, RabbitMQ and Redis', () => {
  let db: TestDatabase;
  let home: TempDir;
  let specs: TempDir;
  const procs = new Map<App, ServiceProcess>();
  const ports = new Map<App, number>();
  let baseEnv: Record<string, string>;
  let cliEnv: Record<string, string>;

  const startApp = async (app: App) => {
    const proc = new ServiceProcess(['serve', app], { ...baseEnv, MYELIN_PORT: String(ports.get(app)) });
    procs.set(app, proc);
    await waitForHttp(`http://127.0.0.1:${ports.get(app)}/readyz`, 60_000, proc);
  };

  beforeAll(async () => {
    db = await createTestDatabase('myelin_e2e');
    home = await createTempDir('myelin-e2e-dist');
    specs = await createTempDir('myelin-e2e-dist-specs');
    for (const app of APPS) ports.set(app, await freePort());
    const apiUrl = `http://127.0.0.1:${ports.get('api')}`;
    baseEnv = distributedEnv(
      { databaseUrl: db.url, home: home.path, apiPort: ports.get('api') as number, label: 'myelin-e2e' },
      // Quicker catch-up than the production defaults, so the optimizer-restart test stays short.
      { MYELIN_TRIAL_CHECK_SECONDS: '2', MYELIN_OPTIMIZER_TICK_MS: '500' },
    );
    // The API first (it owns accounts); the others in parallel.
    await startApp('api');
    await Promise.all(APPS.filter((a) => a !== 'api').map(startApp));
    const creds = JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string };
    cliEnv = {
      MYELIN_HOME: home.path,
      MYELIN_HOST: apiUrl,
      MYELIN_TRACKING_HOST: `http://127.0.0.1:${ports.get('tracking')}`,
      MYELIN_TOKEN: creds.token,
    };
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await removeBusPrefixes();
    await db?.drop();
    await home?.remove();
    await specs?.remove();
  });

  it('every app is its own process, ready on its own port', async () => {
    for (const app of APPS) {
      const res = await fetch(`http://127.0.0.1:${ports.get(app)}/readyz`);
      const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
      expect(body.ready).toBe(true);
      expect(Object.keys(body.checks).sort()).toEqual(['bus', 'database', 'redis']);
    }
    expect(new Set([...procs.values()].map((p) => p.child.pid)).size).toBe(APPS.length);
  });

  it('runs the quickstart to success across the processes', async () => {
    const run = await myelin(['run', '-f', 'examples/quickstart/polyaxonfile.yml', '-P', 'lr=0.05', '--watch', '--json'], cliEnv, 90_000);
    expect(run.code).toBe(0);
    const { uuid } = JSON.parse(run.stdout) as { uuid: string };
    const metrics = JSON.parse((await myelin(['metrics', uuid, '--json'], cliEnv)).stdout) as Record<string, unknown[]>;
    expect(metrics.loss).toHaveLength(20);
    const get = JSON.parse((await myelin(['get', uuid, '--json'], cliEnv)).stdout) as { status: string };
    expect(get.status).toBe('succeeded');
  });

  it('survives kill -9 of the scheduler mid-run: the run ends with its true status and every line once', async () => {
    const file = join(specs.path, 'ticker.yml');
    await writeFile(
      file,
      [
        'version: 1',
        'kind: experiment',
        'run:',
        '  cmd: for i in $(seq 1 40); do echo "tick $i"; echo "myelin:metric step=$i tick=$i"; sleep 0.3; done',
        '',
      ].join('\n'),
    );
    const created = JSON.parse((await myelin(['run', '-f', file, '--json'], cliEnv)).stdout) as { uuid: string };
    const status = async () => (JSON.parse((await myelin(['get', created.uuid, '--json'], cliEnv)).stdout) as { status: string }).status;
    await poll(async () => (await status()) === 'running', { timeoutMs: 30_000, what: 'the run to start' });

    await procs.get('scheduler')!.stop('SIGKILL');
    // While the scheduler is down, a second run is submitted: it must wait, not vanish.
    const queued = JSON.parse((await myelin(['run', '-f', 'examples/quickstart/polyaxonfile.yml', '--json'], cliEnv)).stdout) as { uuid: string };
    await new Promise((r) => setTimeout(r, 1500));
    await startApp('scheduler');

    await poll(async () => (await status()) === 'succeeded', { timeoutMs: 60_000, what: 'the killed-scheduler run to succeed' });
    const logs = (await myelin(['logs', created.uuid], cliEnv)).stdout.split('\n').filter((l) => l.startsWith('tick '));
    expect(logs).toEqual(Array.from({ length: 40 }, (_, i) => `tick ${i + 1}`));
    const metrics = JSON.parse((await myelin(['metrics', created.uuid, '--json'], cliEnv)).stdout) as Record<string, Array<{ step: number }>>;
    expect(metrics.tick.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));

    await poll(
      async () => (JSON.parse((await myelin(['get', queued.uuid, '--json'], cliEnv)).stdout) as { status: string }).status === 'succeeded',
      { timeoutMs: 60_000, what: 'the run submitted while the scheduler was down' },
    );
  });

  it('runs 20 trials 4 at a time, early stopping condemns some, the optimizer is killed mid-search, exactly 20 trials', async () => {
    const file = join(specs.path, 'group.yml');
    await writeFile(
      file,
      [
        'version: 1',
        'kind: group',
        'hptuning:',
        '  concurrency: 4',
        '  seed: 11',
        '  random_search: {n_experiments: 20}',
        '  early_stopping: [{policy: median, metric: loss, optimization: minimize, min_trials: 3, min_steps: 2}]',
        '  matrix:',
        '    x: {uniform: [0, 1]}',
        'run:',
        '  cmd: for s in 1 2 3 4 5 6; do echo "myelin:metric step=$s loss=$(python3 -c "print({{ x }} + 1.0 / $s)")"; sleep 0.4; done',
        '',
      ].join('\n'),
    );
    const group = JSON.parse((await myelin(['run', '-f', file, '-p', 'grp', '--json'], cliEnv)).stdout) as { uuid: string; number: number };
    const trials = async () =>
      JSON.parse((await myelin(['group', 'experiments', String(group.number), '-p', 'grp', '--json'], cliEnv)).stdout) as { results: Array<{ status: string }> };
    await poll(async () => (await trials()).results.length >= 6, { timeoutMs: 60_000, what: 'the first trials' });
    await procs.get('optimizer')!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000)); // trials end while the optimizer is down
    await startApp('optimizer');
    const final = await poll(
      async () => {
        const g = JSON.parse((await myelin(['get', String(group.number), '-p', 'grp', '--json'], cliEnv)).stdout) as { status: string; statusMessage: string };
        return g.status === 'done' ? g : null;
      },
      { timeoutMs: 150_000, what: 'the group to be done' },
    );
    expect(final.statusMessage).toMatch(/^20 trials; best trial/);
    const all = (await trials()).results;
    expect(all).toHaveLength(20); // none lost, none duplicated
    const count = (status: string) => all.filter((t) => t.status === status).length;
    expect(count('succeeded') + count('stopped')).toBe(20);
    expect(count('stopped')).toBeGreaterThan(0); // the median rule stopped the worse ones
    expect(count('succeeded')).toBeGreaterThan(0);
  });

  it('fails a run whose process was killed while the scheduler was down', async () => {
    const file = join(specs.path, 'sleeper.yml');
    await writeFile(file, 'version: 1\nkind: experiment\nrun:\n  cmd: echo sleeping; sleep 300\n');
    const created = JSON.parse((await myelin(['run', '-f', file, '--json'], cliEnv)).stdout) as { uuid: string };
    const get = async () => JSON.parse((await myelin(['get', created.uuid, '--json'], cliEnv)).stdout) as { status: string; statusMessage: string };
    await poll(async () => (await get()).status === 'running', { timeoutMs: 30_000, what: 'the run to start' });
    await procs.get('scheduler')!.stop('SIGKILL');
    // The job's process group dies too (a node crash, an OOM kill of the whole tree).
    const pidFile = join(home.path, 'runs', created.uuid, '.myelin', 'pid');
    process.kill(-Number(await readFile(pidFile, 'utf8')), 'SIGKILL');
    await startApp('scheduler');
    const final = await poll(async () => {
      const r = await get();
      return r.status === 'failed' ? r : null;
    }, { timeoutMs: 30_000, what: 'the orphaned run to be failed' });
    expect(final.statusMessage).toMatch(/killed by SIGKILL|disappeared/);
  });
});
