import { randomUUID } from 'node:crypto';
import { RunCreated, RunStart } from '@myelin/contracts';
import { useCoreTestDatabase } from '../../testing/core-test-database';
import { openServiceDatabase } from '../../data-source/create-data-source';
import { CORE_SCHEMA } from '../../schemas';
import { NewRun, RunsRepository } from './runs.repository';

/** Runs created side by side are written together; each caller still gets its own run, or its own error. */
describe('runs repository: creations written together', () => {
  const db = useCoreTestDatabase('myelin_run_creation');

  const announce = [
    { kind: 'event' as const, pattern: RunCreated.PATTERN, payload: (r: { uuid: string; number: number }) => ({ runUuid: r.uuid, number: r.number }) },
    { kind: 'command' as const, pattern: RunStart.PATTERN, payload: (r: { uuid: string }) => ({ runUuid: r.uuid }) },
  ];
  const outbox = async () =>
    ((await db.core.dataSource.query(`SELECT pattern, payload FROM core.outbox ORDER BY id`)) as Array<{ pattern: string; payload: Record<string, unknown> | string }>).map(
      (r) => ({ pattern: r.pattern, payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload }),
    );

  it('numbers a burst over two projects in the order of arrival, with every row, condition and message of each run', async () => {
    const carol = await db.accounts.createUser({ username: 'carol' });
    const one = await db.runs.getOrCreateProject(carol.id, 'one');
    const two = await db.runs.getOrCreateProject(carol.id, 'two');
    await db.core.dataSource.query(`DELETE FROM core.outbox`);
    const input = (projectId: string, i: number): NewRun => ({
      projectId,
      kind: 'experiment',
      name: `r${i}`,
      tags: [`t${i}`, 'burst'],
      content: `content ${i}`,
      spec: { kind: 'experiment', run: { cmd: `echo ${i}` } },
      params: { i },
      createdBy: carol.id,
    });
    // 150 creations in one turn of the event loop: more than one group's worth.
    const created = await Promise.all(Array.from({ length: 150 }, (_, i) => db.runs.create(input(i % 3 === 0 ? two.id : one.id, i), announce)));

    const numbersOf = (projectId: string) => created.filter((r) => r.projectId === projectId).map((r) => r.number);
    expect(numbersOf(one.id)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
    expect(numbersOf(two.id)).toEqual(Array.from({ length: 50 }, (_, k) => k + 1));
    const counters = (await db.core.dataSource.query(`SELECT name, last_run_number FROM core.projects WHERE id = ANY($1::uuid[]) ORDER BY name`, [[one.id, two.id]])) as Array<{
      name: string;
      last_run_number: number;
    }>;
    expect(counters.map((c) => [c.name, Number(c.last_run_number)])).toEqual([
      ['one', 100],
      ['two', 50],
    ]);

    // What each caller got back is what was stored.
    const r7 = created[7];
    const stored = await db.runs.findByUuid(r7.uuid);
    expect(stored).toMatchObject({ name: 'r7', tags: ['t7', 'burst'], content: 'content 7', params: { i: 7 }, status: 'created', statusReason: 'Created', managed: true, readme: '' });
    expect(stored?.spec).toEqual({ kind: 'experiment', run: { cmd: 'echo 7' } });
    expect(r7.createdAt).toBeInstanceOf(Date);
    expect(r7.createdAt.getTime()).toBe(stored?.createdAt.getTime());
    // Written together: a transaction's now() is the creation time of all its runs, so 150 runs
    // created side by side carry as many distinct times as transactions wrote them (64 at most each).
    expect(new Set(created.map((r) => r.createdAt.getTime())).size).toBeLessThanOrEqual(3);
    const conditions = (await db.core.dataSource.query(`SELECT run_uuid, status, reason FROM core.run_conditions WHERE run_uuid = ANY($1::uuid[])`, [created.map((r) => r.uuid)])) as Array<{
      run_uuid: string;
      status: string;
    }>;
    expect(conditions).toHaveLength(150);
    expect(new Set(conditions.map((c) => c.run_uuid)).size).toBe(150);
    expect(conditions.every((c) => c.status === 'created')).toBe(true);

    // Each run's messages, in the order the runs arrived: "created" then "start", with the admission facts.
    const messages = await outbox();
    expect(messages).toHaveLength(300);
    expect(messages.filter((m) => m.pattern === RunCreated.PATTERN).map((m) => m.payload['runUuid'])).toEqual(created.map((r) => r.uuid));
    for (const [k, run] of created.entries()) {
      expect(messages[2 * k]).toEqual({ pattern: RunCreated.PATTERN, payload: { runUuid: run.uuid, number: run.number } });
      expect(messages[2 * k + 1]).toEqual({ pattern: RunStart.PATTERN, payload: { runUuid: run.uuid, user: 'carol', teams: [] } });
    }
  });

  it('fails only the bad creation of a group: a project that does not exist, a trial key already taken', async () => {
    const dan = await db.accounts.createUser({ username: 'dan' });
    const project = await db.runs.getOrCreateProject(dan.id, 'p');
    const base = { projectId: project.id, kind: 'experiment' as const, content: 'x', spec: {}, params: {}, createdBy: dan.id };
    const group = await db.runs.create({ ...base, kind: 'group' });
    await db.runs.create({ ...base, parentUuid: group.uuid, trialKey: 'k1' });
    await db.core.dataSource.query(`DELETE FROM core.outbox`);

    const outcomes = await Promise.allSettled([
      db.runs.create({ ...base, name: 'a' }, announce),
      db.runs.create({ ...base, projectId: randomUUID(), name: 'nowhere' }, announce),
      db.runs.create({ ...base, name: 'b' }, announce),
      db.runs.create({ ...base, parentUuid: group.uuid, trialKey: 'k1', name: 'taken' }, announce),
      db.runs.create({ ...base, parentUuid: group.uuid, trialKey: 'k2', name: 'c' }, announce),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/does not exist/);
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toMatch(/duplicate key|unique/i);
    const made = outcomes.filter((o): o is PromiseFulfilledResult<Awaited<ReturnType<RunsRepository['create']>>> => o.status === 'fulfilled').map((o) => o.value);
    // The group and k1 took 1 and 2; the failed creations left no number, row or message behind.
    expect(made.map((r) => [r.name, r.number])).toEqual([
      ['a', 3],
      ['b', 4],
      ['c', 5],
    ]);
    const names = (await db.core.dataSource.query(`SELECT name FROM core.runs WHERE project_id = $1 ORDER BY number`, [project.id])) as Array<{ name: string | null }>;
    expect(names.map((n) => n.name)).toEqual([null, null, 'a', 'b', 'c']);
    const started = (await outbox()).filter((m) => m.pattern === RunStart.PATTERN).map((m) => m.payload['runUuid']);
    for (const run of made) expect(started).toContain(run.uuid);
    expect(started.filter((u) => !made.some((r) => r.uuid === u))).toHaveLength(0);
  });

  it("records each creation's activity with its own run, and none for a creation that failed", async () => {
    const eve = await db.accounts.createUser({ username: 'eve' });
    const project = await db.runs.getOrCreateProject(eve.id, 'p');
    const base = { projectId: project.id, kind: 'experiment' as const, content: 'x', spec: {}, params: {}, createdBy: eve.id };
    const group = await db.runs.create({ ...base, kind: 'group', trialKey: null });
    await db.runs.create({ ...base, parentUuid: group.uuid, trialKey: 'taken' });
    const activity = (action: string) => ({ actorId: eve.id, actor: 'eve', action, details: (run: { number: number }) => ({ number: run.number }) });
    const outcomes = await Promise.allSettled([
      db.runs.create({ ...base, name: 'x' }, [], activity('run.created')),
      db.runs.create({ ...base, name: 'y', parentUuid: group.uuid, trialKey: 'taken' }, [], activity('run.refused')),
      db.runs.create({ ...base, name: 'z' }, [], activity('run.copy')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rows = (await db.core.dataSource.query(
      `SELECT a.actor, a.action, a.details, r.name FROM core.activity a JOIN core.runs r ON r.uuid::text = a.entity_id WHERE a.project_id = $1 ORDER BY a.id`,
      [project.id],
    )) as Array<{ actor: string; action: string; details: Record<string, unknown> | string; name: string }>;
    expect(rows.map((r) => ({ ...r, details: typeof r.details === 'string' ? (JSON.parse(r.details) as unknown) : r.details }))).toEqual([
      { actor: 'eve', action: 'run.created', details: { number: 3 }, name: 'x' },
      { actor: 'eve', action: 'run.copy', details: { number: 4 }, name: 'z' },
    ]);
  });

  it('two API replicas creating runs in the same two projects at once: no deadlock, every number once per project', async () => {
    const fay = await db.accounts.createUser({ username: 'fay' });
    const [a, b] = [await db.runs.getOrCreateProject(fay.id, 'a'), await db.runs.getOrCreateProject(fay.id, 'b')];
    const second = await openServiceDatabase({ url: db.url, ...CORE_SCHEMA });
    try {
      const replicas = [db.runs, new RunsRepository(second.dataSource)];
      const base = { kind: 'experiment' as const, content: 'x', spec: {}, params: {}, createdBy: fay.id };
      // Each replica's groups hold runs of both projects, in both orders.
      const created = await Promise.all(
        Array.from({ length: 240 }, (_, i) => replicas[i % 2].create({ ...base, projectId: (i >> 1) % 2 === i % 2 ? a.id : b.id }, announce)),
      );
      for (const project of [a, b]) {
        const numbers = created.filter((r) => r.projectId === project.id).map((r) => r.number).sort((x, y) => x - y);
        expect(numbers).toEqual(Array.from({ length: 120 }, (_, k) => k + 1));
      }
    } finally {
      await second.close();
    }
  });

  it('reads a run for its view without its spec and files, every other field as the full read has it', async () => {
    const gus = await db.accounts.createUser({ username: 'gus' });
    const project = await db.runs.getOrCreateProject(gus.id, 'view');
    const spec = { kind: 'pipeline', raw: { ops: Array.from({ length: 50 }, (_, i) => ({ name: `op${i}` })) } };
    const run = await db.runs.create({ projectId: project.id, kind: 'pipeline', name: 'wide', tags: ['t'], content: 'the files', spec, params: { p: 1 }, createdBy: gus.id }, announce);
    const full = await db.runs.findByUuid(run.uuid);
    for (const view of [await db.runs.findView({ uuid: run.uuid }), await db.runs.findView({ projectId: project.id, number: run.number })]) {
      expect(view).not.toBeNull();
      expect(view).not.toHaveProperty('spec');
      expect(view).not.toHaveProperty('content');
      const { spec: _spec, content: _content, ...rest } = full!;
      expect({ ...view }).toEqual({ ...rest });
    }
    expect(await db.runs.findView({ uuid: randomUUID() })).toBeNull();
    expect(await db.runs.findView({ projectId: project.id, number: run.number + 1 })).toBeNull();
  });
});
