import { randomUUID } from 'node:crypto';
import { createTestDatabase, serverAndEmbedded } from '@myelin/testing';
import { RunStart } from '@myelin/contracts';
import { openServiceDatabase, ServiceDatabase } from './data-source/create-data-source';
import { CORE_SCHEMA, SCHEDULER_SCHEMA, TRACKING_SCHEMA } from './schemas';
import { AccountsRepository, verifyPassword } from './core/repositories/accounts.repository';
import { RunsRepository } from './core/repositories/runs.repository';
import { TrackingRepository } from './tracking/repositories/tracking.repository';
import { enqueueOutbox, OutboxRelay } from './outbox/outbox-relay';

/** The same suite runs on the PostgreSQL server and on the embedded PGlite: one dialect, one set of migrations. */
const backends = serverAndEmbedded('myelin_persistence');

describe.each(backends)('persistence on %s', (_label, provision) => {
  let url: string;
  let cleanup: () => Promise<void>;
  let core: ServiceDatabase;
  let tracking: ServiceDatabase;
  let scheduler: ServiceDatabase;

  beforeAll(async () => {
    ({ url, cleanup } = await provision());
    core = await openServiceDatabase({ url, ...CORE_SCHEMA });
    tracking = await openServiceDatabase({ url, ...TRACKING_SCHEMA });
    scheduler = await openServiceDatabase({ url, ...SCHEDULER_SCHEMA });
  }, 60_000);

  afterAll(async () => {
    await scheduler?.close();
    await tracking?.close();
    await core?.close();
    await cleanup?.();
  });

  it('migrates each schema up and down and up again', async () => {
    for (const db of [core, tracking, scheduler]) {
      const ds = db.dataSource;
      const schema = (ds.options as { schema?: string }).schema as string;
      const count = async () =>
        Number(
          (await ds.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`, [schema]))[0]
            .n,
        );
      const before = await count();
      expect(before).toBeGreaterThan(1);
      for (let i = 0; i < (ds.migrations.length); i++) await ds.undoLastMigration({ transaction: 'each' });
      expect(await count()).toBe(1); // only the migrations table is left
      await ds.runMigrations({ transaction: 'each' });
      expect(await count()).toBe(before);
    }
  });

  it('stores users and verifies hashed tokens, refusing revoked and expired ones', async () => {
    const accounts = new AccountsRepository(core.dataSource);
    const user = await accounts.createUser({ username: `u${Date.now()}`, password: 's3cret!', isSuperuser: true });
    expect(user.passwordHash).not.toContain('s3cret');
    expect(await verifyPassword('s3cret!', user.passwordHash)).toBe(true);
    expect(await verifyPassword('wrong', user.passwordHash)).toBe(false);
    const { token, entity } = await accounts.issueToken({ userId: user.id, name: 'cli' });
    const stored = await core.dataSource.query(`SELECT token_hash FROM core.tokens WHERE id = $1`, [entity.id]);
    expect(stored[0].token_hash).not.toBe(token); // hashed at rest
    expect((await accounts.verifyToken(token))?.user.username).toBe(user.username);
    expect(await accounts.verifyToken(`${token}x`)).toBeNull();
    await accounts.revokeToken(entity.id);
    expect(await accounts.verifyToken(token)).toBeNull();
    const expiring = await accounts.issueToken({ userId: user.id, name: 'short', expiresAt: new Date(Date.now() + 1000) });
    expect(await accounts.verifyToken(expiring.token)).not.toBeNull();
    expect(await accounts.verifyToken(expiring.token, new Date(Date.now() + 5000))).toBeNull();
  });

  it('numbers runs per project, keeps conditions, queues outbox messages atomically', async () => {
    const accounts = new AccountsRepository(core.dataSource);
    const runs = new RunsRepository(core.dataSource);
    const user = await accounts.createUser({ username: `r${Date.now()}` });
    const p1 = await runs.getOrCreateProject(user.id, 'p1');
    const p2 = await runs.getOrCreateProject(user.id, 'p2');
    expect((await runs.getOrCreateProject(user.id, 'p1')).id).toBe(p1.id);
    const base = { kind: 'experiment' as const, content: 'x', spec: {}, params: { lr: 0.1 }, createdBy: user.id };
    const made = await Promise.all([1, 2, 3].map(() => runs.create({ ...base, projectId: p1.id })));
    const other = await runs.create({ ...base, projectId: p2.id }, [
      {
        kind: 'command',
        pattern: RunStart.PATTERN,
        payload: (r) => ({ runUuid: r.uuid, number: r.number }),
      },
    ]);
    expect(made.map((r) => r.number).sort()).toEqual([1, 2, 3]);
    expect(other.number).toBe(1);
    const outbox = await core.dataSource.query(`SELECT pattern, payload FROM core.outbox`);
    expect(outbox).toHaveLength(1);
    const payload = typeof outbox[0].payload === 'string' ? JSON.parse(outbox[0].payload) : outbox[0].payload;
    expect(payload.runUuid).toBe(other.uuid);

    const uuid = made[0].uuid;
    const at = new Date();
    expect((await runs.applyStatus(uuid, { status: 'queued', reason: 'Queued', message: '', at })).applied).toBe(true);
    expect((await runs.applyStatus(uuid, { status: 'running', reason: 'Started', message: '', at })).applied).toBe(true);
    // A late "queued" and a duplicate "running" are refused.
    expect(await runs.applyStatus(uuid, { status: 'queued', reason: 'Late', message: '', at })).toMatchObject({
      applied: false,
      reason: 'illegal_transition',
    });
    expect((await runs.applyStatus(uuid, { status: 'running', reason: 'Dup', message: '', at })).applied).toBe(false);
    const done = await runs.applyStatus(uuid, { status: 'failed', reason: 'Exit', message: 'exit code 3', at, exitCode: 3 });
    expect(done.applied && done.run.exitCode).toBe(3);
    expect((await runs.conditions(uuid)).map((c) => c.status)).toEqual(['created', 'queued', 'running', 'failed']);
    expect((await runs.applyStatus(randomUUID(), { status: 'running', reason: '', message: '', at })).applied).toBe(false);
    const page = await runs.listFiltered(p1.id, { where: 'TRUE', orderBy: '', params: [], whereParamCount: 0 }, { limit: 2 });
    expect(page.count).toBe(3);
    expect(page.results.map((r) => r.number)).toEqual([3, 2]);
  });

  it('applies a group of status changes in one transaction, in order per run, as one by one would', async () => {
    const accounts = new AccountsRepository(core.dataSource);
    const runs = new RunsRepository(core.dataSource);
    const user = await accounts.createUser({ username: `g${Date.now()}` });
    const project = await runs.getOrCreateProject(user.id, 'group-commit');
    const base = { kind: 'experiment' as const, content: 'x', spec: {}, params: {}, createdBy: user.id, projectId: project.id };
    const [a, b] = await Promise.all([runs.create(base), runs.create(base)]);
    const { token } = await accounts.issueToken({ userId: user.id, name: `run ${a.uuid}`, scope: 'run', runUuid: a.uuid });
    expect(await accounts.verifyToken(token)).not.toBeNull();
    const t = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ms));
    const missing = randomUUID();
    const results = await runs.applyStatuses([
      { uuid: a.uuid, change: { status: 'queued', reason: 'Queued', message: 'slot', at: t(1) } },
      { uuid: b.uuid, change: { status: 'queued', reason: 'Queued', message: '', at: t(2) } },
      { uuid: a.uuid, change: { status: 'running', reason: 'Running', message: 'pid 1', at: t(3) } },
      // Refused as they would be alone: a late status, a duplicate, a run that does not exist.
      { uuid: a.uuid, change: { status: 'queued', reason: 'Late', message: '', at: t(4) } },
      { uuid: b.uuid, change: { status: 'queued', reason: 'Queued', message: '', at: t(5) } },
      { uuid: missing, change: { status: 'running', reason: 'Running', message: '', at: t(6) } },
      // The same status with another condition: kept in the history, status unchanged.
      { uuid: b.uuid, change: { status: 'queued', reason: 'ProjectLimit', message: 'limit 1', at: t(7) } },
      { uuid: a.uuid, change: { status: 'succeeded', reason: 'Succeeded', message: 'exit code 0', at: t(8), exitCode: 0 } },
    ]);
    expect(results.map((r) => (r.applied ? 'applied' : r.reason))).toEqual([
      'applied', 'applied', 'applied', 'illegal_transition', 'illegal_transition', 'not_found', 'applied', 'applied',
    ]);
    expect((await runs.conditions(a.uuid)).map((c) => c.status)).toEqual(['created', 'queued', 'running', 'succeeded']);
    expect((await runs.conditions(b.uuid)).map((c) => `${c.status}/${c.reason}`)).toEqual(['created/Created', 'queued/Queued', 'queued/ProjectLimit']);
    const ra = await runs.findByUuid(a.uuid);
    expect(ra).toMatchObject({ status: 'succeeded', exitCode: 0, statusMessage: 'exit code 0' });
    expect(ra?.startedAt?.toISOString()).toBe(t(3).toISOString());
    expect(ra?.finishedAt?.toISOString()).toBe(t(8).toISOString());
    expect(await runs.findByUuid(b.uuid)).toMatchObject({ status: 'queued', statusReason: 'ProjectLimit', statusMessage: 'limit 1' });
    // The run's own token died with it, in the same transaction.
    expect(await accounts.verifyToken(token)).toBeNull();
  });

  it('relays the outbox through a publisher and empties it', async () => {
    const published: string[] = [];
    const relay = new OutboxRelay(core.dataSource, 'core', {
      send: async (pattern) => {
        published.push(pattern);
      },
      emit: async (pattern) => {
        published.push(pattern);
      },
    });
    const before = Number((await core.dataSource.query(`SELECT count(*)::int AS n FROM core.outbox`))[0].n);
    expect(await relay.flush()).toBe(before);
    expect(published).toHaveLength(before);
    expect(Number((await core.dataSource.query(`SELECT count(*)::int AS n FROM core.outbox`))[0].n)).toBe(0);
  });

  it('keeps the outbox when publishing fails', async () => {
    const runs = new RunsRepository(core.dataSource);
    const accounts = new AccountsRepository(core.dataSource);
    const user = await accounts.createUser({ username: `o${Date.now()}` });
    const p = await runs.getOrCreateProject(user.id, 'p');
    await runs.create({ projectId: p.id, kind: 'job', content: '', spec: {}, params: {}, createdBy: user.id }, [
      { kind: 'event', pattern: 'api.evt.run.created.v1', payload: (r) => ({ runUuid: r.uuid }) },
    ]);
    const relay = new OutboxRelay(core.dataSource, 'core', {
      send: async () => undefined,
      emit: async () => {
        throw new Error('broker down');
      },
    });
    await expect(relay.flush()).rejects.toThrow('broker down');
    expect(Number((await core.dataSource.query(`SELECT count(*)::int AS n FROM core.outbox`))[0].n)).toBe(1);
  });

  it('polls less and less while idle, and still publishes a committed message at once', async () => {
    const published: string[] = [];
    const publisher = { send: async (p: string) => void published.push(p), emit: async (p: string) => void published.push(p) };
    const relay = new OutboxRelay(scheduler.dataSource, 'scheduler', publisher, { intervalMs: 20 });
    const passes = jest.spyOn(relay, 'flush');
    relay.start();
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // Every 20 ms would be about 50 passes; doubling while idle (40, 80, ... ms) makes it a handful.
      expect(passes.mock.calls.length).toBeGreaterThanOrEqual(3);
      expect(passes.mock.calls.length).toBeLessThanOrEqual(10);
      const committedAt = Date.now();
      await scheduler.dataSource.transaction((m) => enqueueOutbox(m, 'scheduler', 'event', 'scheduler.evt.run.status-changed.v1', { runUuid: randomUUID() }));
      while (!published.length && Date.now() - committedAt < 2000) await new Promise((r) => setTimeout(r, 5));
      expect(published).toEqual(['scheduler.evt.run.status-changed.v1']);
      expect(Date.now() - committedAt).toBeLessThan(500); // not after the idle interval
    } finally {
      await relay.stop();
    }
  });

  it('stores metrics and logs once per batch id, with NaN and infinities', async () => {
    const repo = new TrackingRepository(tracking.dataSource);
    const run = randomUUID();
    const at = new Date();
    const points = [
      { name: 'loss', step: 1, value: 0.5, at },
      { name: 'loss', step: 2, value: 0.25, at },
      { name: 'acc', step: 2, value: Number.NaN, at },
      { name: 'acc', value: Infinity, at },
      { name: 'acc', step: 3, value: -Infinity, at },
      // Extremes travel as JavaScript prints them (exponents included) and come back equal.
      { name: 'extreme', step: 1, value: 1e-300, at },
      { name: 'extreme', step: 9_007_199_254_740_991, value: -1.7976931348623157e308, at: new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 250)) },
    ];
    expect(await repo.appendMetrics(run, 'b1', points)).toBe(true);
    expect(await repo.appendMetrics(run, 'b1', points)).toBe(false); // retried batch
    const series = await repo.series(run);
    expect(series.loss.map((p) => [p.step, p.value])).toEqual([
      [1, 0.5],
      [2, 0.25],
    ]);
    expect(series.acc).toHaveLength(3);
    expect(series.acc.some((p) => Number.isNaN(p.value))).toBe(true);
    expect(series.acc.some((p) => p.value === Infinity)).toBe(true);
    expect(series.acc.some((p) => p.value === -Infinity && p.step === 3)).toBe(true);
    expect(series.extreme.map((p) => [p.step, p.value, new Date(p.timestamp).getTime()])).toEqual([
      [1, 1e-300, at.getTime()],
      [9_007_199_254_740_991, -1.7976931348623157e308, Date.UTC(1969, 11, 31, 23, 59, 59, 250)],
    ]);
    expect(Object.keys(await repo.series(run, { names: ['loss'] }))).toEqual(['loss']);

    const lines = [
      { at, stream: 'stdout' as const, line: 'hello' },
      { at, stream: 'stderr' as const, line: 'warn: ü ✓' },
    ];
    expect(await repo.appendLogs(run, 'l1', lines)).toBe(true);
    expect(await repo.appendLogs(run, 'l1', lines)).toBe(false);
    const stored = await repo.logs(run);
    expect(stored.map((l) => l.line)).toEqual(['hello', 'warn: ü ✓']);
    expect(await repo.logs(run, { afterId: stored[0].id })).toHaveLength(1);
    // The last batch of a run records the end of its logs with it; a redelivery stores nothing twice.
    expect(await repo.logsEnded(run)).toBe(false);
    const last = [{ at, stream: 'stdout' as const, line: 'bye' }];
    expect(await repo.appendLogs(run, 'l2', last, true)).toBe(true);
    expect(await repo.appendLogs(run, 'l2', last, true)).toBe(false);
    expect(await repo.logsEnded(run)).toBe(true);
    expect((await repo.logs(run)).map((l) => l.line)).toEqual(['hello', 'warn: ü ✓', 'bye']);

    // Ends of logs recorded side by side (one statement), a run named twice among them.
    const ending = [randomUUID(), randomUUID(), randomUUID()];
    await Promise.all([...ending, ending[0], run].map((uuid) => repo.markLogsEnded(uuid)));
    for (const uuid of ending) expect(await repo.logsEnded(uuid)).toBe(true);
    expect(await repo.logsEnded(randomUUID())).toBe(false);
  });

  it('keeps per-metric summaries (last by step, finite min/max, count) and the API copy never regresses', async () => {
    const repo = new TrackingRepository(tracking.dataSource);
    const run = randomUUID();
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
    const seen: unknown[] = [];
    await repo.appendMetrics(run, 's1', [
      { name: 'loss', step: 2, value: 0.5, at: t(2) },
      { name: 'loss', step: 1, value: 0.9, at: t(1) },
      { name: 'loss', step: 3, value: Number.NaN, at: t(3) },
    ]);
    await repo.appendMetrics(run, 's2', [{ name: 'loss', step: 0, value: 0.1, at: t(0) }]); // a late, earlier step
    const [loss] = await repo.summaries(run);
    expect(loss).toMatchObject({ name: 'loss', lastStep: 3, min: 0.1, max: 0.9, count: 4 });
    expect(Number.isNaN(loss.last as number)).toBe(true); // the last step's value, even if NaN
    // Two batches, one announcement of the run's summaries; then nothing is pending for it.
    const announce = async (_m: unknown, uuid: string, summaries: unknown[]) => void (uuid === run && seen.push(summaries));
    while ((await repo.takePendingSummaries(100, announce)) > 0);
    expect(seen).toEqual([[expect.objectContaining({ name: 'loss', count: 4 })]]);
    await repo.appendMetrics(run, 's3', [{ name: 'loss', step: 4, value: 0.05, at: t(4) }]);
    while ((await repo.takePendingSummaries(100, announce)) > 0);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual([expect.objectContaining({ count: 5, lastStep: 4, min: 0.05 })]);

    const runs = new RunsRepository(core.dataSource);
    const accounts = new AccountsRepository(core.dataSource);
    const user = await accounts.createUser({ username: `m${Date.now()}` });
    const p = await runs.getOrCreateProject(user.id, 'metrics');
    const r = await runs.create({ projectId: p.id, kind: 'job', content: '', spec: {}, params: {}, createdBy: user.id });
    await runs.upsertMetricSummaries(r.uuid, [{ name: 'loss', last: 0.2, lastStep: 5, min: 0.2, max: 1, count: 5 }]);
    await runs.upsertMetricSummaries(r.uuid, [{ name: 'loss', last: 0.9, lastStep: 1, min: 0.9, max: 0.9, count: 1 }]); // stale event
    expect(await runs.metricSummaries(r.uuid)).toEqual([{ name: 'loss', last: 0.2, lastStep: 5, min: 0.2, max: 1, count: 5 }]);
    await runs.upsertMetricSummaries(randomUUID(), [{ name: 'loss', last: 1, lastStep: 1, min: 1, max: 1, count: 1 }]); // deleted run: ignored
  });

  it('stores groups of batches in one transaction, each batch once, without deadlocks between groups', async () => {
    const repo = new TrackingRepository(tracking.dataSource);
    const [a, b] = [randomUUID(), randomUUID()];
    const at = new Date();
    const batch = (run: string, id: string, from: number) => ({ runUuid: run, batchId: id, points: Array.from({ length: 50 }, (_, i) => ({ name: 'g', step: from + i, value: from + i, at })) });
    // The same id twice in a group, and an id already stored: stored once.
    expect(await repo.appendMetricBatches([batch(a, 'x', 0), batch(b, 'x', 0), batch(a, 'x', 0)])).toEqual([true, true, false]);
    expect(await repo.appendMetricBatches([batch(a, 'x', 0), batch(a, 'y', 50)])).toEqual([false, true]);
    // Concurrent groups touching the same runs' summaries in opposite orders of arrival.
    const groups = Array.from({ length: 8 }, (_, g) =>
      repo.appendMetricBatches(g % 2 ? [batch(a, `c${g}`, 100 + g * 50), batch(b, `c${g}`, 100 + g * 50)] : [batch(b, `c${g}`, 100 + g * 50), batch(a, `c${g}`, 100 + g * 50)]),
    );
    expect((await Promise.all(groups)).flat().every(Boolean)).toBe(true);
    const counts = async (run: string) => (await repo.summaries(run))[0].count;
    expect([await counts(a), await counts(b)]).toEqual([100 + 8 * 50, 50 + 8 * 50]);
    // Two batches of one run in one group, in the same 100-step bucket: one rollup row counts both.
    expect(await repo.appendMetricBatches([batch(a, 'm1', 1000), batch(a, 'm2', 1050)])).toEqual([true, true]);
    const [bucket] = await tracking.dataSource.query(
      `SELECT "count", "min_step", "max_step" FROM "tracking"."metric_rollups" WHERE "run_uuid" = $1 AND "width" = 100 AND "bucket" = 10`,
      [a],
    );
    expect([Number(bucket.count), Number(bucket.min_step), Number(bucket.max_step)]).toEqual([100, 1000, 1099]);
  });

  it('keeps metric rollups at ingest equal to what the migration computes from the stored points', async () => {
    const repo = new TrackingRepository(tracking.dataSource);
    const run = randomUUID();
    const at = new Date();
    // Out-of-order batches, ties, NaN and a bucket of only NaN.
    const steps = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 25_000);
    for (let b = 0; b < 6; b++) {
      const chunk = steps.slice(b * 500, (b + 1) * 500);
      await repo.appendMetrics(run, `r${b}`, chunk.map((step) => ({ name: 'r', step, value: step % 97 === 0 ? Number.NaN : Math.round(Math.sin(step) * 10), at })));
    }
    await repo.appendMetrics(run, 'nan-only', [{ name: 'r', step: 40_001, value: Number.NaN, at }]);
    const ds = tracking.dataSource;
    const rollups = () =>
      ds.query(`SELECT "width", "bucket", "min_value", "min_step", "max_value", "max_step", "count" FROM "tracking"."metric_rollups" WHERE "run_uuid" = $1 ORDER BY 1, 2`, [run]);
    const incremental = await rollups();
    expect(incremental.length).toBeGreaterThan(250);
    await ds.undoLastMigration({ transaction: 'each' });
    await ds.runMigrations({ transaction: 'each' });
    expect(await rollups()).toEqual(incremental);
  });

  it('serialises concurrent transactions (no interleaving on the embedded session)', async () => {
    const repo = new TrackingRepository(tracking.dataSource);
    const run = randomUUID();
    const at = new Date();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => repo.appendMetrics(run, `c${i}`, [{ name: 'x', step: i, value: i, at }])),
    );
    expect((await repo.series(run)).x).toHaveLength(20);
  });
});

describe('replicas starting together on a PostgreSQL server', () => {
  it("relay one schema's outbox one at a time: two replicas' relays publish its messages in order", async () => {
    const db = await createTestDatabase('myelin_relay_race');
    const [a, b] = await Promise.all([1, 2].map(() => openServiceDatabase({ url: db.url, ...SCHEDULER_SCHEMA })));
    try {
      // 600 log batches of one run, committed in order, as the replica that owns the run writes them.
      for (let i = 0; i < 600; i += 100) {
        await a.dataSource.transaction(async (m) => {
          for (let j = i; j < i + 100; j++) await enqueueOutbox(m, 'scheduler', 'command', 'tracking.cmd.logs.append.v1', { seq: j });
        });
      }
      const published: number[] = [];
      // A broker that takes a moment per message: the first relay is still publishing when the second starts.
      const publisher = {
        send: async (_pattern: string, payload: object) => {
          await new Promise((r) => setTimeout(r, 1));
          published.push((payload as { seq: number }).seq);
        },
        emit: async () => undefined,
      };
      const relays = [new OutboxRelay(a.dataSource, 'scheduler', publisher, { batchSize: 100 }), new OutboxRelay(b.dataSource, 'scheduler', publisher, { batchSize: 100 })];
      await Promise.all(relays.map((r) => r.flush()));
      expect(published).toEqual(Array.from({ length: 600 }, (_, i) => i));
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  }, 60_000);

  it('migrate once: the others wait for the first instead of racing it', async () => {
    const db = await createTestDatabase('myelin_migrate_race');
    try {
      const replicas = await Promise.all([1, 2, 3].map(() => openServiceDatabase({ url: db.url, ...TRACKING_SCHEMA })));
      const ran = (await replicas[0].dataSource.query(`SELECT count(*)::int AS n FROM "tracking"."migrations"`)) as Array<{ n: number }>;
      expect(ran[0].n).toBe(TRACKING_SCHEMA.migrations.length);
      for (const r of replicas) await r.close();
    } finally {
      await db.drop();
    }
  }, 60_000);
});
