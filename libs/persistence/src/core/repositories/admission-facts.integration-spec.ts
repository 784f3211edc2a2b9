import { randomUUID } from 'node:crypto';
import { RunStart } from '@myelin/contracts';
import { useCoreTestDatabase } from '../../testing/core-test-database';

/** What the API tells the scheduler's admission, and how it records a queued run's changing condition. */
describe('runs repository: admission facts and queued conditions', () => {
  const db = useCoreTestDatabase('myelin_admission_facts');

  const startPayloads = async (uuid: string) =>
    ((await db.core.dataSource.query(`SELECT payload FROM core.outbox WHERE pattern = $1`, [RunStart.PATTERN])) as Array<{ payload: Record<string, unknown> }>)
      .map((r) => (typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload))
      .filter((p) => p['runUuid'] === uuid);

  it("adds the submitter, their teams and the parent's concurrency to start commands", async () => {
    const alice = await db.accounts.createUser({ username: 'alice' });
    const org = randomUUID();
    await db.core.dataSource.query(`INSERT INTO core.organizations (id, name) VALUES ($1, 'acme')`, [org]);
    for (const team of ['ml', 'vision']) {
      const id = randomUUID();
      await db.core.dataSource.query(`INSERT INTO core.teams (id, org_id, name) VALUES ($1, $2, $3)`, [id, org, team]);
      await db.core.dataSource.query(`INSERT INTO core.team_members (team_id, user_id) VALUES ($1, $2)`, [id, alice.id]);
    }
    const project = await db.runs.getOrCreateProject(alice.id, 'p');
    const base = { projectId: project.id, content: 'x', params: {}, createdBy: alice.id };
    const start = [{ kind: 'command' as const, pattern: RunStart.PATTERN, payload: (r: { uuid: string }) => ({ runUuid: r.uuid }) }];
    const group = await db.runs.create({ ...base, kind: 'group', spec: { hptuning: { concurrency: 2 } } });
    const pipeline = await db.runs.create({ ...base, kind: 'pipeline', spec: { raw: { concurrency: 3 } } });
    const plain = await db.runs.create({ ...base, kind: 'experiment', spec: {} }, start);
    const trial = await db.runs.create({ ...base, kind: 'experiment', spec: {}, parentUuid: group.uuid }, start);
    const op = await db.runs.create({ ...base, kind: 'job', spec: {}, parentUuid: pipeline.uuid }, start);

    expect(await startPayloads(plain.uuid)).toEqual([{ runUuid: plain.uuid, user: 'alice', teams: ['acme/ml', 'acme/vision'] }]);
    expect((await startPayloads(trial.uuid))[0]).toMatchObject({ parentKind: 'group', parentConcurrency: 2 });
    expect((await startPayloads(op.uuid))[0]).toMatchObject({ parentKind: 'pipeline', parentConcurrency: 3 });
  });

  it("names whose code a child runs: its parent's, and for the trial of a search that is a pipeline's op, the pipeline's", async () => {
    const gus = await db.accounts.createUser({ username: 'gus' });
    const project = await db.runs.getOrCreateProject(gus.id, 'p');
    const base = { projectId: project.id, content: 'x', params: {}, createdBy: gus.id };
    const start = [{ kind: 'command' as const, pattern: RunStart.PATTERN, payload: (r: { uuid: string }) => ({ runUuid: r.uuid }) }];
    const pipeline = await db.runs.create({ ...base, kind: 'pipeline', spec: { raw: {} } });
    const search = await db.runs.create({ ...base, kind: 'group', spec: { hptuning: {} }, parentUuid: pipeline.uuid });
    const alone = await db.runs.create({ ...base, kind: 'group', spec: { hptuning: {} } });
    const op = await db.runs.create({ ...base, kind: 'job', spec: {}, parentUuid: pipeline.uuid }, start);
    const trialOfOp = await db.runs.create({ ...base, kind: 'experiment', spec: {}, parentUuid: search.uuid }, start);
    const trialInHand = await db.runs.create({ ...base, kind: 'experiment', spec: {}, parentUuid: search.uuid, parentRun: search }, start);
    const trial = await db.runs.create({ ...base, kind: 'experiment', spec: {}, parentUuid: alone.uuid }, start);
    const plain = await db.runs.create({ ...base, kind: 'experiment', spec: {} }, start);
    expect((await startPayloads(op.uuid))[0]?.['codeOf']).toBe(pipeline.uuid);
    expect((await startPayloads(trialOfOp.uuid))[0]?.['codeOf']).toBe(pipeline.uuid);
    expect((await startPayloads(trialInHand.uuid))[0]?.['codeOf']).toBe(pipeline.uuid);
    expect((await startPayloads(trial.uuid))[0]?.['codeOf']).toBe(alone.uuid);
    expect((await startPayloads(plain.uuid))[0]).not.toHaveProperty('codeOf');
  });

  it('leaves the parent concurrency out when the parent has none, and teams empty for a user without teams', async () => {
    const bob = await db.accounts.createUser({ username: 'bob' });
    const project = await db.runs.getOrCreateProject(bob.id, 'p');
    const base = { projectId: project.id, content: 'x', params: {}, createdBy: bob.id };
    const pipeline = await db.runs.create({ ...base, kind: 'pipeline', spec: { raw: {} } });
    const op = await db.runs.create({ ...base, kind: 'job', spec: {}, parentUuid: pipeline.uuid }, [
      { kind: 'command', pattern: RunStart.PATTERN, payload: (r) => ({ runUuid: r.uuid }) },
    ]);
    expect(await startPayloads(op.uuid)).toEqual([{ runUuid: op.uuid, user: 'bob', teams: [], parentKind: 'pipeline', codeOf: pipeline.uuid }]);
  });

  it('takes the parent the caller has in hand instead of reading it, and reads it when that is another run', async () => {
    const erin = await db.accounts.createUser({ username: 'erin' });
    const project = await db.runs.getOrCreateProject(erin.id, 'p');
    const base = { projectId: project.id, content: 'x', params: {}, createdBy: erin.id };
    const start = [{ kind: 'command' as const, pattern: RunStart.PATTERN, payload: (r: { uuid: string }) => ({ runUuid: r.uuid }) }];
    const pipeline = await db.runs.create({ ...base, kind: 'pipeline', spec: { raw: { concurrency: 3 } } });
    // The row in hand says 5 where the stored one says 3: the facts come from the row in hand.
    const inHand = { uuid: pipeline.uuid, kind: 'pipeline' as const, spec: { raw: { concurrency: 5 } }, parentUuid: null };
    const op = await db.runs.create({ ...base, kind: 'job', spec: {}, parentUuid: pipeline.uuid, parentRun: inHand }, start);
    expect((await startPayloads(op.uuid))[0]).toMatchObject({ parentKind: 'pipeline', parentConcurrency: 5 });
    // A row in hand of another run is not taken for the parent.
    const other = { uuid: randomUUID(), kind: 'group' as const, spec: { hptuning: { concurrency: 9 } }, parentUuid: null };
    const op2 = await db.runs.create({ ...base, kind: 'job', spec: {}, parentUuid: pipeline.uuid, parentRun: other }, start);
    expect((await startPayloads(op2.uuid))[0]).toMatchObject({ parentKind: 'pipeline', parentConcurrency: 3 });
  });

  it("reads a run's changing fields and its project's full name in one statement", async () => {
    const fay = await db.accounts.createUser({ username: 'fay' });
    const own = await db.runs.getOrCreateProject(fay.id, 'mine');
    const run = await db.runs.create({ projectId: own.id, kind: 'pipeline', content: 'x', spec: {}, params: {}, createdBy: fay.id, name: 'wide', tags: ['a'] });
    expect(await db.runs.liveFacts(run.uuid)).toEqual({ status: 'created', name: 'wide', tags: ['a'], project: 'fay/mine' });
    await db.core.dataSource.query(`UPDATE core.runs SET name = 'renamed', tags = '["b"]'::jsonb WHERE uuid = $1`, [run.uuid]);
    await db.core.dataSource.query(`UPDATE core.projects SET name = 'moved' WHERE id = $1`, [own.id]);
    await db.runs.applyStatus(run.uuid, { status: 'running', reason: 'Running', message: '', at: new Date() });
    expect(await db.runs.liveFacts(run.uuid)).toEqual({ status: 'running', name: 'renamed', tags: ['b'], project: 'fay/moved' });
    // An organization's project is named after the organization.
    const org = randomUUID();
    await db.core.dataSource.query(`INSERT INTO core.organizations (id, name) VALUES ($1, 'lab')`, [org]);
    const orgProject = randomUUID();
    await db.core.dataSource.query(`INSERT INTO core.projects (id, org_id, name) VALUES ($1, $2, 'shared')`, [orgProject, org]);
    const orgRun = await db.runs.create({ projectId: orgProject, kind: 'experiment', content: 'x', spec: {}, params: {}, createdBy: fay.id });
    expect((await db.runs.liveFacts(orgRun.uuid))?.project).toBe('lab/shared');
    expect(await db.runs.liveFacts(randomUUID())).toBeNull();
  });

  it("records a queued run's new condition once, refuses an identical one, and never moves a started run back", async () => {
    const carol = await db.accounts.createUser({ username: 'carol' });
    const project = await db.runs.getOrCreateProject(carol.id, 'p');
    const run = await db.runs.create({ projectId: project.id, kind: 'experiment', content: 'x', spec: {}, params: {}, createdBy: carol.id });
    const at = new Date();
    expect((await db.runs.applyStatus(run.uuid, { status: 'queued', reason: 'Queued', message: 'waiting for a free slot', at })).applied).toBe(true);
    const limit = { status: 'queued' as const, reason: 'ProjectLimit', message: 'waiting: project carol/p has 1 of 1 runs running (project limit)', at };
    const changed = await db.runs.applyStatus(run.uuid, limit);
    expect(changed.applied).toBe(true);
    expect(changed.run).toMatchObject({ status: 'queued', statusReason: 'ProjectLimit' });
    expect((await db.runs.applyStatus(run.uuid, limit)).applied).toBe(false); // a resync of the same condition
    expect((await db.runs.applyStatus(run.uuid, { status: 'running', reason: 'Running', message: '', at })).applied).toBe(true);
    expect((await db.runs.applyStatus(run.uuid, { ...limit, reason: 'Quota' })).applied).toBe(false);
    expect((await db.runs.conditions(run.uuid)).map((c) => `${c.status}:${c.reason}`)).toEqual(['created:Created', 'queued:Queued', 'queued:ProjectLimit', 'running:Running']);
  });

  it("records an unschedulable run's new reason once too", async () => {
    const dan = await db.accounts.createUser({ username: 'dan' });
    const project = await db.runs.getOrCreateProject(dan.id, 'p');
    const run = await db.runs.create({ projectId: project.id, kind: 'experiment', content: 'x', spec: {}, params: {}, createdBy: dan.id });
    const at = new Date();
    const never = { status: 'unschedulable' as const, reason: 'Unschedulable', message: 'asks 8 GPU where the quota of user dan allows 4', at };
    expect((await db.runs.applyStatus(run.uuid, never)).applied).toBe(true);
    expect((await db.runs.applyStatus(run.uuid, never)).applied).toBe(false);
    const lower = { ...never, message: 'asks 8 GPU where the quota of user dan allows 2' };
    expect((await db.runs.applyStatus(run.uuid, lower)).applied).toBe(true);
    expect((await db.runs.conditions(run.uuid)).map((c) => `${c.status}:${c.message}`).slice(1)).toEqual([`unschedulable:${never.message}`, `unschedulable:${lower.message}`]);
  });
});
