import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { MyelinClient } from '@myelin/sdk';
import { createTempDir, createTestDatabase, PrivateRabbitMq, startPrivateRabbitMq, TempDir, TestDatabase } from '@myelin/testing';
import { distributedEnv, freePort, myelin, poll, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(180_000);

const APPS = ['api', 'tracking', 'scheduler', 'pipelines', 'optimizer', 'ci'] as const;
type App = (typeof APPS)[number];
const RUNS = 100;

interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

/**
 * Distributed mode on a RabbitMQ node of this test's own (the shared broker is never touched):
 * a burst of 100 runs is submitted, and the broker is stopped and started again while they are
 * created, started and finishing. Every run still succeeds exactly once (one `succeeded` in its
 * history, its `done` line stored once), every service reports the outage on /readyz and
 * recovers on its own, and no service process dies.
 */
describe('distributed: a broker restart during a burst of 100 runs loses none', () => {
  let broker: PrivateRabbitMq;
  let db: TestDatabase;
  let home: TempDir;
  let client: MyelinClient;
  const procs = new Map<App, ServiceProcess>();
  const ports = new Map<App, number>();

  const sql = async (text: string): Promise<Array<Record<string, unknown>>> => {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      return (await pg.query(text)).rows;
    } finally {
      await pg.end();
    }
  };

  const readiness = async (app: App): Promise<Readiness | null> => {
    try {
      return (await (await fetch(`http://127.0.0.1:${ports.get(app)}/readyz`)).json()) as Readiness;
    } catch {
      return null;
    }
  };

  beforeAll(async () => {
    broker = await startPrivateRabbitMq({ label: 'myelin-e2e-broker' });
    db = await createTestDatabase('myelin_e2e_broker');
    home = await createTempDir('myelin-e2e-broker');
    for (const app of APPS) ports.set(app, await freePort());
    const env = distributedEnv(
      { databaseUrl: db.url, home: home.path, apiPort: ports.get('api') as number, label: 'myelin-e2e-broker' },
      {
        MYELIN_AMQP_URL: broker.url,
        MYELIN_JOB_PYTHONPATH: '',
        // Few slots, so runs wait queued in the scheduler when the broker stops (they must not start while it is down).
        MYELIN_MAX_PARALLEL: '4',
        // The API's safety net re-sends the start command of a run left `created`: pushed out of
        // the test's window, so a start command lost on the bus would show as a run that never starts.
        MYELIN_RECONCILE_AFTER_SECONDS: '3600',
      },
    );
    const serve = async (app: App) => {
      const proc = new ServiceProcess(['serve', app], { ...env, MYELIN_PORT: String(ports.get(app)) });
      procs.set(app, proc);
      await waitForHttp(`http://127.0.0.1:${ports.get(app)}/readyz`, 90_000, proc);
    };
    await serve('api');
    await Promise.all(APPS.filter((a) => a !== 'api').map(serve));
    const { token } = JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string };
    const apiUrl = `http://127.0.0.1:${ports.get('api')}`;
    client = new MyelinClient({ host: apiUrl, trackingHost: `http://127.0.0.1:${ports.get('tracking')}`, token });
    expect((await myelin(['project', 'create', 'burst'], { MYELIN_HOME: home.path, MYELIN_HOST: apiUrl, MYELIN_TOKEN: token })).code).toBe(0);
  }, 150_000);

  afterAll(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await broker?.destroy();
    await db?.drop();
    await home?.remove();
  });

  it('every run succeeds exactly once, /readyz reports the outage and recovers, no service dies', async () => {
    const began = Date.now();
    const uuids: string[] = [];
    const submit = async () => {
      const run = await client.createRun('admin/burst', {
        files: [{ path: 'polyaxonfile.yml', content: 'version: 1\nkind: experiment\nrun:\n  cmd: sleep 0.6; echo "done token=${MYELIN_TOKEN:+yes}"\n' }],
      });
      uuids.push(run.uuid);
    };
    /** `count` runs, four submissions at a time. */
    const submitMany = async (count: number) => {
      let left = count;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left > 0) {
            left--;
            await submit();
          }
        }),
      );
    };
    const succeeded = async () =>
      (await client.listRuns('admin/burst', { limit: 200, query: 'status:succeeded' })).results.length;

    // 40 runs, and the broker stops while they are queued, starting, running and finishing (each
    // sleeps 0.6 s: at 0.3 s a scheduler that starts runs quickly could drain the queue before all
    // 40 were submitted, and the moment below never came);
    // 30 more are submitted while it is down, 30 as it comes back.
    const first = submitMany(40);
    const queued = async () => (await client.listRuns('admin/burst', { limit: 1, query: 'status:queued' })).count;
    await poll(async () => uuids.length >= 40 && (await succeeded()) >= 5 && (await queued()) >= 10, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'the burst to be under way, with runs waiting in the queue',
    });
    await first;
    const succeededBefore = await succeeded();
    await broker.stop();
    const downAt = Date.now();
    const [outage] = await Promise.all([
      // Every service notices: its readiness names the bus, the rest of it stays fine.
      Promise.all(
        APPS.map((app) =>
          poll(async () => {
            const r = await readiness(app);
            return r && !r.ready && r.checks.bus && !r.checks.bus.ok ? r : null;
          }, { timeoutMs: 20_000, intervalMs: 200, what: `${app} to report the bus down` }),
        ),
      ),
      // Creating a run needs no broker: the API writes it and its messages to its outbox.
      submitMany(30),
    ]);
    for (const r of outage) expect(r.checks.database.ok).toBe(true);
    expect(uuids).toHaveLength(70);
    // Supervision does not wait on the broker: the runs that were in flight when it stopped
    // (each sleeps 0.6 s) are settled in the scheduler's table while it is still down; their last
    // log lines wait in the scheduler's outbox.
    const inFlight = async () =>
      Number((await sql(`SELECT count(*)::int AS n FROM "scheduler"."executions" WHERE "status" IN ('starting', 'running', 'stopping')`))[0].n);
    await poll(async () => (await inFlight()) === 0, { timeoutMs: 15_000, intervalMs: 200, what: 'the runs in flight to settle while the broker is down' });
    expect(Date.now() - downAt).toBeLessThan(15_000);
    await new Promise((r) => setTimeout(r, Math.max(0, 2000 - (Date.now() - downAt))));
    // The outage ends when the broker is started, not when start() returns: services reconnecting
    // can get in (and start runs) before the helper's own test connection does.
    const restartAt = Date.now();
    await broker.start();
    const upAt = Date.now();
    const downMs = upAt - downAt;

    // All of them come back by themselves, while the last 30 runs are submitted.
    await Promise.all([
      ...APPS.map((app) => poll(async () => (await readiness(app))?.ready, { timeoutMs: 30_000, intervalMs: 200, what: `${app} to be ready again` })),
      submitMany(30),
    ]);
    expect(uuids).toHaveLength(RUNS);
    expect(succeededBefore).toBeLessThan(40); // the outage really hit runs in flight

    await poll(async () => (await succeeded()) === RUNS, { timeoutMs: 90_000, intervalMs: 1000, what: `all ${RUNS} runs to succeed` });
    const runs = (await client.listRuns('admin/burst', { limit: 200 })).results;
    expect(runs.filter((r) => r.status === 'succeeded')).toHaveLength(RUNS);

    for (const [i, uuid] of uuids.entries()) {
      const history = await client.statuses('admin/burst', uuid);
      // Nothing starts while the bus is down (a second for the scheduler to notice the drop).
      const started = Date.parse(history.find((c) => c.status === 'starting')?.at ?? '');
      const during = started > downAt + 1000 && started < restartAt;
      // On failure, where in the outage it started (ms after the stop, ms before the restart).
      expect({ uuid, startedDuringOutage: during, ...(during ? { afterStop: started - downAt, beforeRestart: restartAt - started } : {}) }).toEqual({ uuid, startedDuringOutage: false });
      expect({ uuid, succeeded: history.filter((c) => c.status === 'succeeded').length }).toEqual({ uuid, succeeded: 1 });
      const logs = await poll(async () => {
        const page = await client.logs(uuid);
        return page.ended ? page.results : null;
      }, { timeoutMs: 20_000, intervalMs: 200, what: `the logs of ${uuid} to end` });
      const done = logs.filter((l) => l.stream === 'stdout' && l.line.startsWith('done'));
      expect({ uuid, done: done.length }).toEqual({ uuid, done: 1 });
      // No run starts while the bus is down: those submitted during and after the outage all
      // started with their run token (issued by the API over the bus).
      if (i >= 40) expect({ uuid, line: done[0].line }).toEqual({ uuid, line: 'done token=yes' });
    }

    for (const [app, proc] of procs) expect({ app, exited: proc.exited }).toEqual({ app, exited: false });
    process.stdout.write(`broker down ${downMs} ms; ${succeededBefore} runs had succeeded when it stopped; all ${RUNS} done in ${Date.now() - began} ms\n`);
  });
});
