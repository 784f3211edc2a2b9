import { randomUUID } from 'node:crypto';
import { AccountsRepository, CORE_SCHEMA, openServiceDatabase, RunsRepository, ServiceDatabase } from '@myelin/persistence';
import { createTestDatabase, TestDatabase } from '@myelin/testing';
import { ParentRuns } from './parent-runs';

/** Parent runs as child creation reads them: kept spec, fresh status, name, tags and project name. */
describe('ParentRuns', () => {
  let db: TestDatabase;
  let core: ServiceDatabase;
  let runs: RunsRepository;
  let parents: ParentRuns;
  let userId: string;
  let projectId: string;

  beforeAll(async () => {
    db = await createTestDatabase('myelin_parent_runs');
    core = await openServiceDatabase({ url: db.url, ...CORE_SCHEMA });
    runs = new RunsRepository(core.dataSource);
    parents = new ParentRuns(runs);
    userId = (await new AccountsRepository(core.dataSource).createUser({ username: 'gil' })).id;
    projectId = (await runs.getOrCreateProject(userId, 'hpo')).id;
  }, 60_000);

  afterAll(async () => {
    await core?.close();
    await db?.drop();
  });

  const parent = (kind: 'group' | 'pipeline', spec: Record<string, unknown>) =>
    runs.create({ projectId, kind, content: 'x', spec, params: {}, createdBy: userId, name: 'search', tags: ['a'] });

  it('reads a parent once, then only what can change: status, name, tags and the project name', async () => {
    const group = await parent('group', { hptuning: { concurrency: 2 } });
    const first = await parents.get(group.uuid, 'group');
    expect(first).toMatchObject({ projectName: 'gil/hpo', run: { uuid: group.uuid, status: 'created', name: 'search', tags: ['a'], spec: { hptuning: { concurrency: 2 } } } });
    await runs.applyStatus(group.uuid, { status: 'running', reason: 'Running', message: '', at: new Date() });
    await core.dataSource.query(`UPDATE core.runs SET name = 'renamed', tags = '["b"]'::jsonb WHERE uuid = $1`, [group.uuid]);
    await core.dataSource.query(`UPDATE core.projects SET name = 'tuning' WHERE id = $1`, [projectId]);
    // The spec never changes through the platform: a change behind its back shows it is not read again.
    await core.dataSource.query(`UPDATE core.runs SET spec = '{"hptuning": {"concurrency": 9}}'::jsonb WHERE uuid = $1`, [group.uuid]);
    const again = await parents.get(group.uuid, 'group');
    expect(again).toMatchObject({ projectName: 'gil/tuning', run: { status: 'running', name: 'renamed', tags: ['b'], spec: { hptuning: { concurrency: 2 } } } });
    // What it hands out is a copy: the caller cannot change what is kept.
    again!.run.status = 'failed';
    expect((await parents.get(group.uuid, 'group'))?.run.status).toBe('running');
    await core.dataSource.query(`UPDATE core.projects SET name = 'hpo' WHERE id = $1`, [projectId]);
  });

  it('answers null for a run of another kind, an unknown run and a deleted one', async () => {
    const pipeline = await parent('pipeline', { raw: {} });
    expect(await parents.get(pipeline.uuid, 'group')).toBeNull();
    expect(await parents.get(pipeline.uuid, 'pipeline')).not.toBeNull();
    expect(await parents.get(randomUUID(), 'pipeline')).toBeNull();
    await core.dataSource.query(`DELETE FROM core.run_conditions WHERE run_uuid = $1`, [pipeline.uuid]);
    await core.dataSource.query(`DELETE FROM core.runs WHERE uuid = $1`, [pipeline.uuid]);
    expect(await parents.get(pipeline.uuid, 'pipeline')).toBeNull();
  });
});
