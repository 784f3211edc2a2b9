import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { MyelinClient } from '@myelin/sdk';
import { createTempDir, createTestDatabase, TempDir, TestDatabase } from '@myelin/testing';
import { distributedEnv, freePort, myelin, poll, removeBusPrefixes, ServiceProcess, waitForHttp } from './cli-harness';

jest.setTimeout(240_000);

/**
 * Two scheduler replicas (`myelin serve scheduler` twice) beside the API and tracking, on one
 * PostgreSQL database, RabbitMQ and Redis. The replica running a job is killed with SIGKILL: its
 * claim expires, the other replica adopts the run (a new fencing token, the same process) and
 * reports its true final status; runs submitted meanwhile each start once.
 */
describe('distributed: scheduler replicas survive kill -9 of one of them', () => {
  let db: TestDatabase;
  let home: TempDir;
  let pg: Client;
  let client: MyelinClient;
  let cliEnv: Record<string, string>;
  const procs = new Map<string, ServiceProcess>();

  beforeAll(async () => {
    db = await createTestDatabase('myelin_e2e_replicas');
    home = await createTempDir('myelin-e2e-replicas');
    const ports = { api: await freePort(), tracking: await freePort(), a: await freePort(), b: await freePort() };
    const apiUrl = `http://127.0.0.1:${ports.api}`;
    const env = distributedEnv(
      { databaseUrl: db.url, home: home.path, apiPort: ports.api, label: 'myelin-e2e-replicas' },
      { MYELIN_SCHEDULER_LEASE_MS: '3000', MYELIN_JOB_PYTHONPATH: '' },
    );
    const serve = async (name: string, app: string, port: number, extra: Record<string, string> = {}) => {
      const proc = new ServiceProcess(['serve', app], { ...env, ...extra, MYELIN_PORT: String(port) });
      procs.set(name, proc);
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, 90_000, proc);
    };
    await serve('api', 'api', ports.api);
    await Promise.all([
      serve('tracking', 'tracking', ports.tracking),
      serve('replica-a', 'scheduler', ports.a, { MYELIN_SCHEDULER_REPLICA: 'replica-a' }),
      serve('replica-b', 'scheduler', ports.b, { MYELIN_SCHEDULER_REPLICA: 'replica-b' }),
    ]);
    const { token } = JSON.parse(await readFile(join(home.path, 'credentials.json'), 'utf8')) as { token: string };
    client = new MyelinClient({ host: apiUrl, trackingHost: `http://127.0.0.1:${ports.tracking}`, token });
    cliEnv = { MYELIN_HOME: home.path, MYELIN_HOST: apiUrl, MYELIN_TOKEN: token };
    expect((await myelin(['project', 'create', 'replicas'], cliEnv)).code).toBe(0);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  }, 180_000);

  afterAll(async () => {
    await pg?.end();
    await Promise.all([...procs.values()].map((p) => p.stop()));
    await removeBusPrefixes();
    await db?.drop();
    await home?.remove();
  });

  const submit = async (cmd: string) =>
    (await client.createRun('admin/replicas', { files: [{ path: 'polyaxonfile.yml', content: `version: 1\nkind: experiment\nrun:\n  cmd: ${cmd}\n` }] })).uuid;
  const status = async (uuid: string) => (await client.getRunByUuid(uuid)).status;
  const execution = async (uuid: string) =>
    (await pg.query(`SELECT "owner", "fence", "pid" FROM "scheduler"."executions" WHERE "run_uuid" = $1`, [uuid])).rows[0] as { owner: string; fence: string; pid: number };

  it('adopts the job of the killed replica, reports its true status, and starts every other run once', async () => {
    const job = await submit('echo started; sleep 5; exit 7');
    await poll(async () => (await status(job)) === 'running', { timeoutMs: 30_000, what: 'the job to run' });
    const before = await execution(job);
    await procs.get(before.owner)!.stop('SIGKILL');

    const more = await Promise.all(Array.from({ length: 8 }, () => submit('echo once')));
    await poll(async () => (await status(job)) === 'failed', { timeoutMs: 60_000, what: 'the adopted job to be settled' });
    const run = await client.getRunByUuid(job);
    expect(run.exitCode).toBe(7);
    const after = await execution(job);
    expect(after.owner).not.toBe(before.owner);
    expect(Number(after.fence)).toBeGreaterThan(Number(before.fence));
    expect(after.pid).toBe(before.pid); // the same process, adopted, not started again

    await poll(async () => (await Promise.all(more.map(status))).every((s) => s === 'succeeded'), { timeoutMs: 60_000, what: 'the runs submitted meanwhile' });
    // Each printed its line once: a second start would have appended a second one to the same log.
    for (const uuid of [job, ...more]) {
      let lastPage: unknown;
      const logs = await poll(async () => {
        const page = await client.logs(uuid);
        lastPage = page;
        return page.ended ? page.results : null;
      }, { timeoutMs: 30_000, what: `the logs of ${uuid === job ? 'the adopted job' : 'a run submitted meanwhile'} ${uuid} to end` }).catch((error: Error) => {
        // What a failure needs to be understood: the last page read and the services' state.
        const services = [...procs.entries()].map(([name, p]) => `${name}: ${p.exited ? `exited\n${p.output.slice(-3000)}` : 'running'}`);
        throw new Error(`${error.message}\nlast page: ${JSON.stringify(lastPage)}\n${services.join('\n')}`);
      });
      expect(logs.filter((l) => l.stream === 'stdout').map((l) => l.line)).toEqual([uuid === job ? 'started' : 'once']);
    }
  });
});
