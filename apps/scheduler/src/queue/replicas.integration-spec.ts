import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { RunStart, RunStatusChanged, RunTokenIssue, TokenVerify } from '@myelin/contracts';
import { createBus, MessageBus, MessageHandler } from '@myelin/bus';
import { ExecutionsRepository, openServiceDatabase, SCHEDULER_SCHEMA, ServiceDatabase } from '@myelin/persistence';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, removeBusPrefix, TempDir, TEST_AMQP_URL, TEST_REDIS_URL, TestDatabase, uniqueName, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';
import { RedisRunLease } from './run-lease';

jest.setTimeout(180_000);

const RUNS = 200;

/**
 * Two scheduler replicas in one process, each with its own RabbitMQ connection (competing
 * consumers of the start commands), sharing one PostgreSQL database and one Redis: every run is
 * started exactly once (one `starting` event, one process) and ends `succeeded`.
 */
describe('two scheduler replicas racing over the same queue', () => {
  let db: TestDatabase;
  let runsDir: TempDir;
  let bus: MessageBus;
  const replicas: AppHandle[] = [];
  const closed = new Set<AppHandle>();
  let prefix: string;
  const events: RunStatusChanged.Payload[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('myelin_replicas');
    runsDir = await createTempDir('myelin-replicas-runs');
    prefix = uniqueName('myelin-replicas').replace(/_/g, '-');
    bus = createBus({ url: TEST_AMQP_URL, prefix });
    // The API's part: run tokens, and a recorder of every status event.
    await bus.consume(
      'api',
      new Map<string, MessageHandler>([
        [RunStatusChanged.PATTERN, (async (e: RunStatusChanged.Payload) => void events.push(e)) as MessageHandler],
        [RunTokenIssue.PATTERN, (async () => ({ token: 'run-token-000001' })) as MessageHandler],
        [TokenVerify.PATTERN, (async () => ({ valid: false })) as MessageHandler],
      ]),
    );
    await bus.consume('tracking', new Map<string, MessageHandler>([
      ['tracking.cmd.logs.append.v1', (async () => undefined) as MessageHandler],
      ['tracking.cmd.metrics.append.v1', (async () => undefined) as MessageHandler],
    ]));
    for (const name of ['replica-a', 'replica-b']) {
      replicas.push(
        await bootstrap({
          env: {
            MYELIN_DATABASE_URL: db.url,
            MYELIN_AMQP_URL: TEST_AMQP_URL,
            MYELIN_BUS_PREFIX: prefix,
            MYELIN_REDIS_URL: TEST_REDIS_URL,
            MYELIN_SCHEDULER_REPLICA: name,
            MYELIN_PORT: '0',
            MYELIN_LOG_LEVEL: 'error',
            MYELIN_RUNS_DIR: runsDir.path,
            MYELIN_MAX_PARALLEL: '16',
            MYELIN_SCHEDULER_TICK_MS: '50',
            MYELIN_JOB_PYTHONPATH: '',
            MYELIN_SCHEDULER_LEASE_MS: '3000',
          },
          listen: false,
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) if (!closed.has(r)) await r.close();
    await bus?.close();
    if (prefix) await removeBusPrefix(prefix);
    await db?.drop();
    await runsDir?.remove();
  });

  it(`starts each of ${RUNS} runs exactly once, and every run succeeds`, async () => {
    const startsFile = join(runsDir.path, 'starts.log');
    const uuids = Array.from({ length: RUNS }, () => randomUUID());
    await Promise.all(
      uuids.map((runUuid, i) =>
        bus.send(RunStart.PATTERN, {
          runUuid,
          project: `team/p${i % 7}`,
          number: i + 1,
          kind: 'job',
          // The process itself records that it started: a second start would show up here.
          cmd: `echo "$MYELIN_RUN_UUID" >> ${startsFile}`,
          params: {},
          spec: {},
        } satisfies RunStart.Payload),
      ),
    );
    // A repeated start command (a redelivery, the API's reconciler) must not start anything again.
    await Promise.all(uuids.slice(0, 20).map((runUuid, i) => bus.send(RunStart.PATTERN, { runUuid, project: 'team/p0', number: i + 1, kind: 'job', cmd: 'true', params: {}, spec: {} })));

    const final = new Map<string, string>();
    await waitFor(
      () => {
        for (const e of events) if (e.status === 'succeeded' || e.status === 'failed') final.set(e.runUuid, e.status);
        return final.size === RUNS;
      },
      { timeoutMs: 150_000, intervalMs: 200, what: `${RUNS} runs to end` },
    );
    expect([...final.values()].every((s) => s === 'succeeded')).toBe(true);

    const startingEvents = new Map<string, number>();
    for (const e of events) if (e.status === 'starting') startingEvents.set(e.runUuid, (startingEvents.get(e.runUuid) ?? 0) + 1);
    expect(startingEvents.size).toBe(RUNS);
    expect([...startingEvents.values()].every((n) => n === 1)).toBe(true);

    const started = (await readFile(startsFile, 'utf8')).trim().split('\n');
    expect(started).toHaveLength(RUNS);
    expect(new Set(started)).toEqual(new Set(uuids));

    // Both replicas took part, each run has one owner, and the fencing tokens are all distinct.
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const owners = (await pg.query(`SELECT "owner", count(*)::int AS n FROM "scheduler"."executions" GROUP BY "owner" ORDER BY "owner"`)).rows as Array<{ owner: string; n: number }>;
      expect(owners.reduce((a, o) => a + o.n, 0)).toBe(RUNS);
      expect(owners.every((o) => o.owner === 'replica-a' || o.owner === 'replica-b')).toBe(true);
      const fences = (await pg.query(`SELECT count(DISTINCT "fence")::int AS n FROM "scheduler"."executions" WHERE "fence" > 0`)).rows as Array<{ n: number }>;
      expect(fences[0].n).toBe(RUNS);
    } finally {
      await pg.end();
    }
  });

  it('stops runs whichever replica receives the stop command', async () => {
    const uuids = Array.from({ length: 6 }, () => randomUUID());
    await Promise.all(uuids.map((runUuid, i) => bus.send(RunStart.PATTERN, { runUuid, project: 'team/stop', number: 500 + i, kind: 'job', cmd: 'sleep 60', params: {}, spec: {} } satisfies RunStart.Payload)));
    const statusOf = (u: string) => events.filter((e) => e.runUuid === u).at(-1)?.status;
    await waitFor(() => uuids.every((u) => statusOf(u) === 'running'), { timeoutMs: 20_000, what: 'the runs to start' });
    const sent = Date.now();
    await Promise.all(uuids.map((runUuid) => bus.send('scheduler.cmd.run.stop.v1', { runUuid, reason: 'test' })));
    await waitFor(() => uuids.every((u) => statusOf(u) === 'stopped'), { timeoutMs: 20_000, what: 'the runs to stop' });
    expect(Date.now() - sent).toBeLessThan(8000); // SIGTERM ended them, not SIGKILL after the 10 s grace
    for (const u of uuids) expect(events.filter((e) => e.runUuid === u).map((e) => e.status).slice(-2)).toEqual(['stopping', 'stopped']);
  });

  it('lets the surviving replica adopt and settle a run whose replica went away mid-run', async () => {
    const runUuid = randomUUID();
    await bus.send(RunStart.PATTERN, { runUuid, project: 'team/adopt', number: 999, kind: 'job', cmd: 'sleep 2', params: {}, spec: {} } satisfies RunStart.Payload);
    await waitFor(() => events.some((e) => e.runUuid === runUuid && e.status === 'running'), { timeoutMs: 20_000, what: 'the run to start' });
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const ownerOf = async () => ((await pg.query(`SELECT "owner", "fence" FROM "scheduler"."executions" WHERE "run_uuid" = $1`, [runUuid])).rows[0] as { owner: string; fence: string });
      const before = await ownerOf();
      // The replica that started it stops (its process keeps running; its claim is not renewed any more).
      const gone = replicas[before.owner === 'replica-a' ? 0 : 1];
      closed.add(gone);
      await gone.close();
      await waitFor(() => events.some((e) => e.runUuid === runUuid && e.status === 'succeeded'), { timeoutMs: 30_000, what: 'the survivor to settle the run' });
      const after = await ownerOf();
      expect(after.owner).not.toBe(before.owner);
      expect(Number(after.fence)).toBeGreaterThan(Number(before.fence));
      expect(events.filter((e) => e.runUuid === runUuid && e.status === 'starting')).toHaveLength(1);
    } finally {
      await pg.end();
    }
  });
});

describe('run claims and fencing', () => {
  let db: TestDatabase;
  let service: ServiceDatabase;
  const leases: RedisRunLease[] = [];
  const prefix = uniqueName('myelin-lease');

  beforeAll(async () => {
    db = await createTestDatabase('myelin_fencing');
    service = await openServiceDatabase({ url: db.url, ...SCHEDULER_SCHEMA });
    leases.push(new RedisRunLease(TEST_REDIS_URL, prefix, 'a', 2000), new RedisRunLease(TEST_REDIS_URL, prefix, 'b', 2000));
  });

  afterAll(async () => {
    for (const l of leases) await l.close();
    await service?.close();
    await db?.drop();
  });

  it('gives each run to exactly one of two replicas claiming it at the same moment, with growing tokens', async () => {
    const [a, b] = leases;
    const runs = Array.from({ length: 100 }, () => randomUUID());
    const results = await Promise.all(runs.map(async (r) => [await a.claim(r), await b.claim(r)] as const));
    for (const [ta, tb] of results) expect((ta === null) !== (tb === null)).toBe(true);
    const tokens = results.map(([ta, tb]) => (ta ?? tb)!);
    expect(new Set(tokens).size).toBe(runs.length);
    // Renewal only works for the holder; release frees the run for the other replica.
    const r0 = runs[0];
    const holder = results[0][0] !== null ? a : b;
    const other = holder === a ? b : a;
    expect([...(await holder.renew([r0]))]).toEqual([r0]);
    expect([...(await other.renew([r0]))]).toEqual([]);
    await other.release(r0); // not its claim: nothing happens
    expect([...(await a.held([r0]))]).toEqual([r0]);
    await holder.release(r0);
    const again = await other.claim(r0);
    expect(again).not.toBeNull();
    expect(again!).toBeGreaterThan(Math.max(...tokens));
  });

  it('lets another replica take a run over when its claim expires', async () => {
    const [a, b] = leases;
    const run = randomUUID();
    expect(await a.claim(run)).not.toBeNull();
    expect(await b.claim(run)).toBeNull();
    await new Promise((r) => setTimeout(r, 2100));
    expect([...(await b.held([run]))]).toEqual([]);
    expect(await b.claim(run)).not.toBeNull();
    expect([...(await a.renew([run]))]).toEqual([]); // a learns it lost the run
  });

  it('refuses status writes and process updates made with a stale token', async () => {
    const repo = new ExecutionsRepository(service.dataSource);
    const runUuid = randomUUID();
    await repo.enqueue(
      {
        runUuid, project: 'p/q', number: 1, kind: 'job', cmd: 'true', params: {}, spec: {}, codeDir: null, outputsOf: null, copyOutputsFrom: null,
        priority: 0, status: 'queued', attempt: 0, maxRestarts: 0, executor: 'local', pid: null, pidStartTime: null, workdir: null,
        stdoutOffset: 0, stderrOffset: 0, exitCode: null, stopRequestedAt: null, startedAt: null, finishedAt: null, submitter: null, teams: [],
        parentUuid: null, codeOf: null, parentKind: null, parentConcurrency: null, cpu: 0, memoryMb: 0, gpu: 0, statusReason: 'Queued', statusMessage: '',
        fence: 0, owner: null, retryAt: null, timeoutSeconds: null, timedOutAt: null, heartbeatAt: null, workdirCleanedAt: null,
        devices: null,
      },
      { status: 'queued', reason: 'Queued', message: '' },
    );
    const starting = { status: 'starting' as const, reason: 'Starting', message: '' };
    // Two replicas claim with tokens 5 and 7: the first write decides; a lower token can never claim after a higher one.
    expect(await repo.transition(runUuid, starting, {}, { token: 7, claim: true, owner: 'b' })).not.toBeNull();
    expect(await repo.transition(runUuid, starting, {}, { token: 5, claim: true, owner: 'a' })).toBeNull();
    // The holder of 7 writes; a replica with 5 is refused, for statuses and for process fields.
    expect(await repo.patch(runUuid, { pid: 4242 }, { token: 5 })).toBe(false);
    expect(await repo.transition(runUuid, { status: 'running', reason: 'Running', message: '' }, {}, { token: 5 })).toBeNull();
    expect(await repo.patch(runUuid, { pid: 1234 }, { token: 7 })).toBe(true);
    // b dies; c adopts with token 9; b's late write is refused, c's accepted.
    expect(await repo.adopt(runUuid, 7, 9, 'c')).toBe(true);
    expect(await repo.adopt(runUuid, 7, 10, 'd')).toBe(false); // adopting from a stale read fails
    expect(await repo.transition(runUuid, { status: 'running', reason: 'Running', message: '' }, {}, { token: 7 })).toBeNull();
    const row = await repo.transition(runUuid, { status: 'running', reason: 'Running', message: '' }, {}, { token: 9 });
    expect(row).toMatchObject({ status: 'running', owner: 'c', pid: 1234 });
    expect(Number(row!.fence)).toBe(9);
  });
});
