import { randomUUID } from 'node:crypto';
import { openServiceDatabase, PIPELINES_SCHEMA, ServiceDatabase } from '@myelin/persistence';
import { serverAndEmbedded } from '@myelin/testing';
import { PipelinesRepository } from './pipelines.repository';

/**
 * A pipeline run's snapshot: its op rows in `op_states`, each written only when it changes, and
 * the whole snapshot read back as it was saved, on both databases.
 */
describe.each(serverAndEmbedded('myelin_pipeline_snapshots'))('pipeline snapshots on %s', (_label, provision) => {
  let db: ServiceDatabase;
  let repo: PipelinesRepository;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const provisioned = await provision();
    cleanup = provisioned.cleanup;
    db = await openServiceDatabase({ url: provisioned.url, ...PIPELINES_SCHEMA });
    repo = new PipelinesRepository(db.dataSource);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
  });

  /** Each stored op row's transaction id: a row that was not written again keeps it. */
  const versions = async (uuid: string): Promise<Map<number, string>> =>
    new Map(
      ((await db.dataSource.query(`SELECT "op", xmin::text AS "v" FROM "pipelines"."op_states" WHERE "pipeline_uuid" = $1`, [uuid])) as Array<{ op: number; v: string }>).map(
        (r) => [Number(r.op), r.v],
      ),
    );

  it('writes only the op rows that changed, and reads the whole snapshot back', async () => {
    const uuid = randomUUID();
    await repo.insertRun(uuid, 'alice/p', { kind: 'pipeline' }, null);
    const header = { version: 2, fingerprint: 'rs-1', phase: 'running', timerSeq: 0, queue: [3], blocked: [], timers: [], reused: [] };
    const first = { ...header, ops: [[0, 4, 1, 0], [1, 4, 1, 0], [2, 6, 1, 0, null, null, 'succeeded', { loss: 0.25 }]] as Array<[number, ...unknown[]]> };
    const written = await db.dataSource.transaction((m) => repo.save(m, uuid, first, undefined));
    expect((await repo.find(db.dataSource, uuid))?.snapshot).toEqual(first);
    const before = await versions(uuid);
    expect([...before.keys()].sort()).toEqual([0, 1, 2]);

    // op 0 succeeds, op 3 starts: two rows written, the others left as they were.
    const second = { ...header, queue: [], ops: [[0, 6, 1, 0, null, null, 'succeeded'], first.ops[1], first.ops[2], [3, 4, 1, 5]] as Array<[number, ...unknown[]]> };
    const again = await db.dataSource.transaction((m) => repo.save(m, uuid, second, undefined, undefined, written));
    const after = await versions(uuid);
    expect(after.get(1)).toBe(before.get(1));
    expect(after.get(2)).toBe(before.get(2));
    expect(after.get(0)).not.toBe(before.get(0));
    expect(after.has(3)).toBe(true);
    const found = await repo.find(db.dataSource, uuid);
    expect(found?.snapshot).toEqual(second);
    expect(found?.opsWritten).toEqual(again);
    // The run's own row holds the rest, not the ops.
    const stored = ((await db.dataSource.query(`SELECT "snapshot" FROM "pipelines"."runs" WHERE "uuid" = $1`, [uuid])) as Array<{ snapshot: Record<string, unknown> }>)[0].snapshot;
    expect(stored['ops']).toBeUndefined();
    expect(stored['opsIn']).toBe('op_states');

    // Saved without knowing what is stored (after a restart): every row written, stale ones removed.
    const third = { ...header, ops: [[0, 6, 1, 0, null, null, 'succeeded']] as Array<[number, ...unknown[]]> };
    await db.dataSource.transaction((m) => repo.save(m, uuid, third, undefined));
    expect((await repo.find(db.dataSource, uuid))?.snapshot).toEqual(third);
  });

  it('still reads a snapshot stored whole in the run row (before op_states)', async () => {
    const uuid = randomUUID();
    await repo.insertRun(uuid, 'alice/p', { kind: 'pipeline' }, null);
    const whole = { version: 1, fingerprint: 'rs-1', phase: 'running', timerSeq: 0, ops: { a: { state: 'running', attempt: 1 } }, queue: [], blocked: [], timers: [], reused: [] };
    await db.dataSource.query(`UPDATE "pipelines"."runs" SET "snapshot" = $2 WHERE "uuid" = $1`, [uuid, JSON.stringify(whole)]);
    const found = await repo.find(db.dataSource, uuid);
    expect(found?.snapshot).toEqual(whole);
    expect(found?.opsWritten).toBeUndefined();
  });
});
