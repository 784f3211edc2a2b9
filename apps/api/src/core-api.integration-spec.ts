import { GroupStatusChanged, RunStart, RunStatusChanged, RunTokenIssue, TokenVerify, TrialCreate } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { AccountsRepository, CORE_SCHEMA, openServiceDatabase, RunsRepository, ServiceDatabase } from '@myelin/persistence';
import { AppHandle } from '@myelin/runtime';
import { createTestDatabase, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from './bootstrap';

type Call = (method: string, path: string, body?: unknown, token?: string | null) => Promise<{ status: number; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any

const GOOD = 'version: 1\nkind: experiment\nparams:\n  lr: 0.1\nrun:\n  cmd: python train.py --lr={{ lr }}\n';
const spec = (content = GOOD) => ({ files: [{ path: 'polyaxonfile.yml', content }] });

/** The whole core API surface, on the PostgreSQL server and on the embedded PostgreSQL. */
describe.each([
  ['PostgreSQL server', 'server'],
  ['embedded PGlite', 'embedded'],
] as const)('core API on %s', (_label, backend) => {
  let testDb: TestDatabase | undefined;
  let url: string;
  let app: AppHandle;
  let bus: InProcessBus;
  let db: ServiceDatabase;
  let call: Call;
  let admin: string;
  const tokens: Record<string, string> = {};
  const starts: RunStart.Payload[] = [];

  beforeAll(async () => {
    if (backend === 'server') {
      testDb = await createTestDatabase('myelin_core_api');
      url = testDb.url;
    } else {
      url = 'pglite://memory';
    }
    bus = new InProcessBus();
    await bus.consume('scheduler', new Map([[RunStart.PATTERN, ((p: RunStart.Payload) => void starts.push(p)) as MessageHandler]]));
    app = await bootstrap({
      env: {
        MYELIN_DATABASE_URL: url,
        MYELIN_PORT: '0',
        MYELIN_ADMIN_PASSWORD: 'admin-pw',
        MYELIN_LOG_LEVEL: 'error',
        MYELIN_RATE_LIMIT_PER_MINUTE: '100000',
      },
      bus,
      listen: true,
    });
    const base = `http://127.0.0.1:${app.port}`;
    call = async (method, path, body, token = admin) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `token ${token}` } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    };
    db = await openServiceDatabase({ url, ...CORE_SCHEMA });
    admin = (await call('POST', '/api/v1/users/token', { username: 'admin', password: 'admin-pw' }, null)).body.token;
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      expect((await call('POST', '/api/v1/users/accounts', { username: name, password: `${name}-password` })).status).toBe(201);
      tokens[name] = (await call('POST', '/api/v1/users/token', { username: name, password: `${name}-password` }, null)).body.token;
    }
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await bus?.close();
    await testDb?.drop();
  });

  it('projects: create, list, get, update, archive, restore, bookmark, delete', async () => {
    const created = await call('POST', '/api/v1/projects', { name: 'vision', description: 'cv', tags: ['cv'] }, tokens.alice);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ fullName: 'alice/vision', role: 'owner', isPublic: false });
    expect((await call('POST', '/api/v1/projects', { name: 'vision' }, tokens.alice)).status).toBe(409);
    expect((await call('POST', '/api/v1/projects', { name: 'bad name!' }, tokens.alice)).body.message).toMatch(/name/);
    const patched = await call('PATCH', '/api/v1/alice/vision', { readme: '# Vision', isPublic: false }, tokens.alice);
    expect(patched.body.readme).toBe('# Vision');
    expect((await call('POST', '/api/v1/alice/vision/bookmark', undefined, tokens.alice)).status).toBe(204);
    expect((await call('GET', '/api/v1/alice/vision', undefined, tokens.alice)).body.bookmarked).toBe(true);
    expect((await call('POST', '/api/v1/alice/vision/archive', undefined, tokens.alice)).status).toBe(200);
    expect((await call('GET', '/api/v1/alice?archived=true', undefined, tokens.alice)).body.results.map((p: { name: string }) => p.name)).toEqual(['vision']);
    expect((await call('GET', '/api/v1/alice', undefined, tokens.alice)).body.count).toBe(0);
    expect((await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).status).toBe(404); // archived
    expect((await call('POST', '/api/v1/alice/vision/restore', undefined, tokens.alice)).status).toBe(200);
    expect((await call('GET', '/api/v1/alice', undefined, tokens.alice)).body.count).toBe(1);
    await call('POST', '/api/v1/projects', { name: 'scratch' }, tokens.alice);
    expect((await call('DELETE', '/api/v1/alice/scratch', undefined, tokens.alice)).status).toBe(204);
    expect((await call('GET', '/api/v1/alice/scratch', undefined, tokens.alice)).status).toBe(404);
    // A run submitted to a project of one's own that does not exist yet makes it; never someone else's.
    expect((await call('POST', '/api/v1/alice/first-use/runs', spec(), tokens.alice)).status).toBe(201);
    expect((await call('GET', '/api/v1/alice/first-use', undefined, tokens.alice)).body).toMatchObject({ fullName: 'alice/first-use', role: 'owner' });
    expect((await call('POST', '/api/v1/alice/not-bobs/runs', spec(), tokens.bob)).status).toBe(404);
    expect((await call('GET', '/api/v1/alice/not-bobs', undefined, tokens.alice)).status).toBe(404);
  });

  it('hides a private project from non-members: 404 to read, list, write or delete', async () => {
    const run = (await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).body;
    for (const [method, path, body] of [
      ['GET', '/api/v1/alice/vision'],
      ['GET', '/api/v1/alice/vision/runs'],
      ['GET', `/api/v1/alice/vision/runs/${run.number}`],
      ['GET', `/api/v1/runs/${run.uuid}`],
      ['POST', '/api/v1/alice/vision/runs', spec()],
      ['PATCH', '/api/v1/alice/vision', { description: 'x' }],
      ['DELETE', '/api/v1/alice/vision'],
      ['DELETE', `/api/v1/alice/vision/runs/${run.number}`],
      ['POST', `/api/v1/alice/vision/runs/${run.number}/stop`],
    ] as Array<[string, string, unknown?]>) {
      const res = await call(method, path, body, tokens.bob);
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    expect((await call('GET', '/api/v1/alice', undefined, tokens.bob)).body.count).toBe(0);
    expect((await call('GET', '/api/v1/alice')).body.results.map((p: { name: string }) => p.name)).toContain('vision'); // superuser sees all
  });

  it('grants roles: a viewer reads but cannot write (403), a member runs, an admin manages', async () => {
    await call('PUT', '/api/v1/alice/vision/grants', { user: 'bob', role: 'viewer' }, tokens.alice);
    expect((await call('GET', '/api/v1/alice/vision/runs', undefined, tokens.bob)).status).toBe(200);
    expect((await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.bob)).status).toBe(403);
    expect((await call('PATCH', '/api/v1/alice/vision', { description: 'x' }, tokens.bob)).status).toBe(403);
    await call('PUT', '/api/v1/alice/vision/grants', { user: 'bob', role: 'member' }, tokens.alice);
    const bobRun = await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.bob);
    expect(bobRun.status).toBe(201);
    expect((await call('DELETE', `/api/v1/alice/vision/runs/${bobRun.body.number}`, undefined, tokens.bob)).status).toBe(403);
    expect((await call('PUT', '/api/v1/alice/vision/grants', { user: 'carol', role: 'admin' }, tokens.bob)).status).toBe(403);
    const grants = (await call('GET', '/api/v1/alice/vision/grants', undefined, tokens.alice)).body.results;
    expect(grants).toEqual([expect.objectContaining({ user: 'bob', role: 'member' })]);
    expect((await call('DELETE', `/api/v1/alice/vision/grants/${grants[0].id}`, undefined, tokens.alice)).status).toBe(204);
    expect((await call('GET', '/api/v1/alice/vision', undefined, tokens.bob)).status).toBe(404);
  });

  it('public projects are readable by everyone, writable by none but members', async () => {
    await call('POST', '/api/v1/projects', { name: 'open', isPublic: true }, tokens.alice);
    expect((await call('GET', '/api/v1/alice/open', undefined, tokens.dave)).body.role).toBe('viewer');
    expect((await call('POST', '/api/v1/alice/open/runs', spec(), tokens.dave)).status).toBe(403);
    expect((await call('GET', '/api/v1/alice', undefined, tokens.dave)).body.results.map((p: { name: string }) => p.name)).toEqual(['open']);
  });

  it('organizations and teams: members get their org role, teams get project grants', async () => {
    expect((await call('POST', '/api/v1/orgs', { name: 'acme' }, tokens.carol)).status).toBe(201);
    expect((await call('POST', '/api/v1/orgs', { name: 'alice' }, tokens.carol)).status).toBe(409); // a user's name
    expect((await call('POST', '/api/v1/projects', { name: 'research', owner: 'acme' }, tokens.carol)).body.fullName).toBe('acme/research');
    expect((await call('POST', '/api/v1/projects', { name: 'x', owner: 'acme' }, tokens.dave)).status).toBe(404); // not a member
    expect((await call('GET', '/api/v1/orgs/acme', undefined, tokens.dave)).status).toBe(404);
    await call('PUT', '/api/v1/orgs/acme/members/dave', { role: 'viewer' }, tokens.carol);
    expect((await call('GET', '/api/v1/acme/research', undefined, tokens.dave)).body.role).toBe('viewer');
    expect((await call('PUT', '/api/v1/orgs/acme/members/bob', { role: 'member' }, tokens.dave)).status).toBe(403);
    await call('POST', '/api/v1/orgs/acme/teams', { name: 'vision' }, tokens.carol);
    expect((await call('PUT', '/api/v1/orgs/acme/teams/vision/members/bob', undefined, tokens.carol)).status).toBe(409); // not in org
    await call('PUT', '/api/v1/orgs/acme/teams/vision/members/dave', undefined, tokens.carol);
    await call('PUT', '/api/v1/acme/research/grants', { team: 'acme/vision', role: 'member' }, tokens.carol);
    expect((await call('GET', '/api/v1/acme/research', undefined, tokens.dave)).body.role).toBe('member');
    expect((await call('POST', '/api/v1/acme/research/runs', spec(), tokens.dave)).status).toBe(201);
    const org = (await call('GET', '/api/v1/orgs/acme', undefined, tokens.carol)).body;
    expect(org.teams).toEqual([{ name: 'vision', members: ['dave'] }]);
    expect((await call('DELETE', '/api/v1/orgs/acme/members/carol', undefined, tokens.carol)).status).toBe(409); // last owner
    await call('DELETE', '/api/v1/orgs/acme/members/dave', undefined, tokens.carol);
    expect((await call('GET', '/api/v1/acme/research', undefined, tokens.dave)).status).toBe(404); // team membership went too
  });

  it('runs: update, archive, restore, bulk stop and delete, restart/resume/copy linked to the original', async () => {
    const make = async () => (await call('POST', '/api/v1/alice/vision/runs', { ...spec(), params: { lr: '0.3' } }, tokens.alice)).body;
    const a = await make();
    const b = await make();
    expect((await call('PATCH', `/api/v1/alice/vision/runs/${a.number}`, { name: 'baseline', tags: ['x'] }, tokens.alice)).body).toMatchObject({ name: 'baseline', tags: ['x'] });
    expect((await call('POST', `/api/v1/alice/vision/runs/${a.number}/archive`, undefined, tokens.alice)).status).toBe(200);
    expect((await call('POST', `/api/v1/alice/vision/runs/${a.number}/stop`, undefined, tokens.alice)).status).toBe(404);
    expect((await call('POST', `/api/v1/alice/vision/runs/${a.number}/restore`, undefined, tokens.alice)).status).toBe(200);
    const stopped = await call('POST', '/api/v1/alice/vision/runs/stop', { ids: [a.number, b.number, 9999] }, tokens.alice);
    expect(stopped.body.stopping).toEqual([a.number, b.number]);
    const resumed = await call('POST', `/api/v1/alice/vision/runs/${a.number}/resume`, { params: { lr: '0.5' } }, tokens.alice);
    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ originalUuid: a.uuid, params: { lr: 0.5 } });
    const resumeStart = await waitFor(() => starts.find((s) => s.runUuid === resumed.body.uuid), { what: 'the resume start command' });
    expect(resumeStart.outputsOf).toBe(a.uuid);
    const copied = await call('POST', `/api/v1/alice/vision/runs/${a.number}/copy`, {}, tokens.alice);
    expect(copied.body.params).toEqual({ lr: 0.3 });
    expect((await call('POST', `/api/v1/alice/vision/runs/${a.number}/teleport`, {}, tokens.alice)).status).toBe(404);
    const deleted = await call('POST', '/api/v1/alice/vision/runs/delete', { ids: [b.number] }, tokens.alice);
    expect(deleted.body.deleted).toEqual([b.number]);
    expect((await call('GET', `/api/v1/alice/vision/runs/${b.number}`, undefined, tokens.alice)).status).toBe(404);
    const activity = (await call('GET', '/api/v1/alice/vision/activitylogs?limit=100', undefined, tokens.alice)).body;
    const actions = activity.results.map((r: { action: string }) => r.action);
    for (const a2 of ['run.created', 'run.updated', 'run.archived', 'run.stopped', 'run.resume', 'run.copy', 'run.deleted']) expect(actions).toContain(a2);
    expect(activity.results[0].actor).toBe('alice');
  });

  it('runs: a queue priority at submit, above 0 only for superusers, carried to the scheduler', async () => {
    const refused = await call('POST', '/api/v1/alice/vision/runs', { ...spec(), priority: 5 }, tokens.alice);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/priority above 0/);
    expect((await call('POST', '/api/v1/alice/vision/runs', { ...spec(), priority: 1001 }, tokens.alice)).status).toBe(400);
    const lowered = await call('POST', '/api/v1/alice/vision/runs', { ...spec(), priority: -3 }, tokens.alice);
    expect(lowered.status).toBe(201);
    expect((await waitFor(() => starts.find((s) => s.runUuid === lowered.body.uuid), { what: 'the start command' })).priority).toBe(-3);
    await call('POST', '/api/v1/alice/vision/members', { username: 'admin', role: 'member' }, tokens.alice);
    const raised = await call('POST', '/api/v1/alice/vision/runs', { ...spec(), priority: 7 });
    expect(raised.status).toBe(201);
    expect((await waitFor(() => starts.find((s) => s.runUuid === raised.body.uuid), { what: 'the start command' })).priority).toBe(7);
    const plain = await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice);
    expect((await waitFor(() => starts.find((s) => s.runUuid === plain.body.uuid), { what: 'the start command' })).priority).toBeUndefined();
  });

  it('filters and sorts runs with the query language, metrics included; a bad query is a 400 at its position', async () => {
    await call('POST', '/api/v1/projects', { name: 'search' }, tokens.alice);
    const made = [];
    for (const lr of ['0.1', '0.2', '0.3']) made.push((await call('POST', '/api/v1/alice/search/runs', { ...spec(), params: { lr } }, tokens.alice)).body);
    await call('PATCH', `/api/v1/alice/search/runs/${made[0].number}`, { tags: ['baseline'] }, tokens.alice);
    const runs = new RunsRepository(db.dataSource);
    await runs.upsertMetricSummaries(made[0].uuid, [{ name: 'loss', last: 0.5, lastStep: 3, min: 0.4, max: 0.9, count: 3 }]);
    await runs.upsertMetricSummaries(made[1].uuid, [{ name: 'loss', last: 0.2, lastStep: 3, min: 0.2, max: 0.8, count: 3 }]);
    const q = async (query: string, sort = '') =>
      (await call('GET', `/api/v1/alice/search/runs?query=${encodeURIComponent(query)}&sort=${encodeURIComponent(sort)}`, undefined, tokens.alice)).body;
    expect((await q('metrics.loss:<0.3')).results.map((r: { number: number }) => r.number)).toEqual([made[1].number]);
    expect((await q('params.lr:>=0.2', 'params.lr')).results.map((r: { number: number }) => r.number)).toEqual([made[1].number, made[2].number]);
    expect((await q('tags:baseline | params.lr:0.3')).count).toBe(2);
    expect((await q('~tags:baseline', '-metrics.loss')).results.map((r: { number: number }) => r.number)).toEqual([made[1].number, made[2].number]); // nulls last
    expect((await q('', '-metrics.loss.max')).results[0].number).toBe(made[0].number);
    expect((await q('status:created|running')).count).toBe(3);
    const bad = await call('GET', `/api/v1/alice/search/runs?query=${encodeURIComponent('status:running, metrics.loss:<<1')}`, undefined, tokens.alice);
    expect(bad.status).toBe(400);
    expect(bad.body.details.offset).toBeGreaterThan(20);
    const unknown = await call('GET', `/api/v1/alice/search/runs?query=${encodeURIComponent('colour:red')}`, undefined, tokens.alice);
    expect(unknown.body.message).toMatch(/colour/);
    const badStatus = await call('GET', `/api/v1/alice/search/runs?query=status:flying`, undefined, tokens.alice);
    expect(badStatus.status).toBe(400);
    // Saved searches: validated on save, per user.
    expect((await call('POST', '/api/v1/searches/alice/search', { name: 'good', query: 'metrics.loss:<0.3', sort: '-created_at' }, tokens.alice)).status).toBe(201);
    expect((await call('POST', '/api/v1/searches/alice/search', { name: 'broken', query: 'metrics.loss:<<' }, tokens.alice)).status).toBe(400);
    expect((await call('GET', '/api/v1/searches/alice/search', undefined, tokens.alice)).body.results.map((x: { name: string }) => x.name)).toEqual(['good']);
    expect((await call('DELETE', '/api/v1/searches/alice/search/good', undefined, tokens.alice)).status).toBe(204);
  });

  it('selections: hand-picked runs, added, removed, replaced', async () => {
    const r1 = (await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).body;
    const r2 = (await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).body;
    const created = await call('POST', '/api/v1/alice/vision/selections', { name: 'best', runs: [r1.number] }, tokens.alice);
    expect(created.status).toBe(201);
    expect(created.body.runs.map((r: { number: number }) => r.number)).toEqual([r1.number]);
    const added = await call('PATCH', `/api/v1/alice/vision/selections/${created.body.number}`, { operation: 'add', runs: [r2.number] }, tokens.alice);
    expect(added.body.runs).toHaveLength(2);
    const removed = await call('PATCH', `/api/v1/alice/vision/selections/${created.body.number}`, { operation: 'remove', runs: [r1.number] }, tokens.alice);
    expect(removed.body.runs.map((r: { number: number }) => r.number)).toEqual([r2.number]);
    const replaced = await call('PATCH', `/api/v1/alice/vision/selections/${created.body.number}`, { operation: 'replace', runs: [r1.number] }, tokens.alice);
    expect(replaced.body.runs.map((r: { number: number }) => r.number)).toEqual([r1.number]);
    const bad = await call('PATCH', `/api/v1/alice/vision/selections/${created.body.number}`, { operation: 'add', runs: [99999] }, tokens.alice);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/99999/);
    expect((await call('GET', '/api/v1/alice/vision/selections', undefined, tokens.bob)).status).toBe(404);
    expect((await call('DELETE', `/api/v1/alice/vision/selections/${created.body.number}`, undefined, tokens.alice)).status).toBe(204);
  });

  it('groups: a parent run whose trials are created on request, idempotently, and stop together', async () => {
    const groupSpec = 'version: 1\nkind: group\nhptuning:\n  concurrency: 2\n  matrix:\n    lr: {values: [0.1, 0.2]}\nrun:\n  cmd: train --lr={{ lr }}\n';
    const group = (await call('POST', '/api/v1/alice/vision/runs', spec(groupSpec), tokens.alice)).body;
    expect(group).toMatchObject({ kind: 'group', status: 'created' });
    const first = await bus.request<TrialCreate.Reply>(TrialCreate.PATTERN, { groupUuid: group.uuid, trialKey: 'trial-0', params: { lr: 0.1 } });
    const again = await bus.request<TrialCreate.Reply>(TrialCreate.PATTERN, { groupUuid: group.uuid, trialKey: 'trial-0', params: { lr: 0.1 } });
    expect(again.runUuid).toBe(first.runUuid);
    const trialStart = await waitFor(() => starts.find((s) => s.runUuid === first.runUuid), { what: 'the trial start' });
    expect(trialStart.cmd).toBe('train --lr=0.1');
    expect(trialStart.parentUuid).toBe(group.uuid);
    await bus.emit(GroupStatusChanged.PATTERN, { groupUuid: group.uuid, status: 'running', reason: 'Running', message: '', at: new Date().toISOString() });
    await bus.drain();
    const trials = (await call('GET', `/api/v1/alice/vision/runs/${group.number}/trials`, undefined, tokens.alice)).body;
    expect(trials.count).toBe(1);
    expect(trials.progress).toEqual({ total: 1, byStatus: { created: 1 } });
    expect((await call('POST', `/api/v1/alice/vision/runs/${group.number}/stop`, undefined, tokens.alice)).status).toBe(202);
    expect((await call('GET', `/api/v1/alice/vision/runs/${group.number}`, undefined, tokens.alice)).body.status).toBe('stopping');
    await expect(bus.request(TrialCreate.PATTERN, { groupUuid: group.uuid, trialKey: 'trial-1', params: { lr: 0.2 } })).rejects.toThrow(/no new trials/);
    await bus.emit(GroupStatusChanged.PATTERN, { groupUuid: group.uuid, status: 'stopped', reason: 'Stopped', message: '', at: new Date().toISOString() });
    await bus.drain();
    expect((await call('GET', `/api/v1/alice/vision/runs/${group.number}`, undefined, tokens.alice)).body.status).toBe('stopped');
  });

  it('purges what was archived longer than the retention period, with its data announced for deletion', async () => {
    await call('POST', '/api/v1/projects', { name: 'old' }, tokens.alice);
    const stale = (await call('POST', '/api/v1/alice/old/runs', spec(), tokens.alice)).body;
    const fresh = (await call('POST', '/api/v1/alice/old/runs', spec(), tokens.alice)).body;
    await call('POST', `/api/v1/alice/old/runs/${stale.number}/archive`, undefined, tokens.alice);
    await call('POST', `/api/v1/alice/old/runs/${fresh.number}/archive`, undefined, tokens.alice);
    await db.dataSource.query(`UPDATE "core"."runs" SET "archived_at" = now() - interval '30 days' WHERE "uuid" = $1`, [stale.uuid]);
    expect((await call('POST', '/api/v1/archives/purge', undefined, tokens.alice)).status).toBe(403);
    const purged = await call('POST', '/api/v1/archives/purge');
    expect(purged.body.purgedRuns).toBeGreaterThanOrEqual(1);
    expect((await call('GET', `/api/v1/alice/old/runs/${stale.number}`, undefined, tokens.alice)).status).toBe(404);
    expect((await call('GET', `/api/v1/alice/old/runs/${fresh.number}`, undefined, tokens.alice)).status).toBe(200); // archived recently: kept
  });

  it('run tokens: scoped to their run, revoked when it ends', async () => {
    const run = (await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).body;
    const other = (await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).body;
    const { token } = await bus.request<RunTokenIssue.Reply>(RunTokenIssue.PATTERN, { runUuid: run.uuid });
    expect((await call('GET', `/api/v1/runs/${run.uuid}`, undefined, token)).status).toBe(200);
    expect((await call('GET', '/api/v1/alice/vision', undefined, token)).status).toBe(200); // reads its project
    expect((await call('POST', '/api/v1/alice/vision/runs', spec(), token)).status).toBe(403);
    expect((await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token, runUuid: run.uuid })).access).toBe('write');
    expect((await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token, runUuid: other.uuid })).access).toBe('none');
    await bus.emit(RunStatusChanged.PATTERN, { runUuid: run.uuid, status: 'failed', reason: 'Error', message: 'exit code 1', at: new Date().toISOString() });
    await bus.drain();
    expect((await call('GET', `/api/v1/runs/${run.uuid}`, undefined, token)).status).toBe(401);
    await expect(bus.request(RunTokenIssue.PATTERN, { runUuid: run.uuid })).rejects.toThrow(/already ended/);

    // Asked for side by side (issued in one statement), each answer is its own run's.
    const live = (await call('POST', '/api/v1/alice/vision/runs', spec(), tokens.alice)).body;
    const unknown = '00000000-0000-4000-8000-000000000000';
    const outcomes = await Promise.allSettled(
      [live.uuid, run.uuid, unknown, other.uuid].map((runUuid: string) => bus.request<RunTokenIssue.Reply>(RunTokenIssue.PATTERN, { runUuid })),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/unknown or already ended/);
    const [liveToken, otherToken] = [outcomes[0], outcomes[3]].map((o) => (o as PromiseFulfilledResult<RunTokenIssue.Reply>).value.token);
    expect(liveToken).not.toBe(otherToken);
    expect((await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token: liveToken, runUuid: live.uuid })).access).toBe('write');
    expect((await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token: liveToken, runUuid: other.uuid })).access).toBe('none');
    expect((await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token: otherToken, runUuid: other.uuid })).access).toBe('write');
  });

  it('users and tokens: superuser administration, revocation, expiry, logout', async () => {
    expect((await call('GET', '/api/v1/users/accounts', undefined, tokens.bob)).status).toBe(403);
    const laptop = await call('POST', '/api/v1/users/tokens', { name: 'laptop' }, tokens.bob);
    expect(laptop.body.token).toMatch(/^myl_/);
    const list = (await call('GET', '/api/v1/users/tokens', undefined, tokens.bob)).body;
    expect(list).toMatchObject({ count: expect.any(Number), next: null, previous: null });
    expect(JSON.stringify(list)).not.toContain(laptop.body.token); // never shown again
    expect((await call('DELETE', `/api/v1/users/tokens/${laptop.body.id}`, undefined, tokens.alice)).status).toBe(404); // not hers
    expect((await call('DELETE', `/api/v1/users/tokens/${laptop.body.id}`, undefined, tokens.bob)).status).toBe(204);
    expect((await call('GET', '/api/v1/users', undefined, laptop.body.token)).status).toBe(401);
    const accounts = new AccountsRepository(db.dataSource);
    const bob = await accounts.findUserByUsername('bob');
    const expired = await accounts.issueToken({ userId: bob!.id, name: 'old', expiresAt: new Date(Date.now() - 1000) });
    expect((await call('GET', '/api/v1/users', undefined, expired.token)).status).toBe(401);
    expect((await call('POST', '/api/v1/users/deactivate/dave')).body.isActive).toBe(false);
    expect((await call('GET', '/api/v1/users', undefined, tokens.dave)).status).toBe(401);
    await call('POST', '/api/v1/users/activate/dave');
    expect((await call('GET', '/api/v1/users', undefined, tokens.dave)).status).toBe(200);
    expect((await call('POST', '/api/v1/superusers/grant/dave')).body.isSuperuser).toBe(true);
    expect((await call('GET', '/api/v1/activitylogs', undefined, tokens.dave)).status).toBe(200);
    await call('POST', '/api/v1/superusers/revoke/dave');
    expect((await call('DELETE', '/api/v1/users/delete/alice')).status).toBe(409); // owns projects
    const temp = await call('POST', '/api/v1/users/accounts', { username: 'temp', password: 'temp-password' });
    expect(temp.status).toBe(201);
    expect((await call('DELETE', '/api/v1/users/delete/temp')).status).toBe(204);
    const session = (await call('POST', '/api/v1/users/token', { username: 'carol', password: 'carol-password' }, null)).body.token;
    expect((await call('POST', '/api/v1/users/logout', undefined, session)).status).toBe(204);
    expect((await call('GET', '/api/v1/users', undefined, session)).status).toBe(401);
  });

  it('answers oversized payloads and unknown fields with 4xx naming the problem, and never leaks a stack', async () => {
    const huge = await call('POST', '/api/v1/alice/vision/runs', spec('x'.repeat(5_000_000)), tokens.alice);
    expect(huge.status).toBe(413);
    const nested = await call('POST', '/api/v1/alice/vision/runs', { files: [{ path: 'p.yml', content: GOOD, extra: 1 }] }, tokens.alice);
    expect(nested.status).toBe(400);
    expect(nested.body.message).toMatch(/files\.0\.extra|extra/);
    expect(JSON.stringify(nested.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('documents every route in the OpenAPI document, each guarded unless public', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json', undefined, null)).body as {
      paths: Record<string, Record<string, { summary?: string; security?: unknown[] }>>;
    };
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        expect([path, method, typeof op.summary]).toEqual([path, method, 'string']);
        if (process.env['DEBUG_OPENAPI']) process.stdout.write(`${method} ${path} ${JSON.stringify(op.security)}\n`);
        const isPublic = path === '/api/v1/users/token' || path === '/healthz' || path === '/readyz';
        expect([path, method, op.security ?? []]).toEqual([path, method, isPublic ? [] : [{ token: [] }]]);
        // And the server agrees: no token, no answer (other than 401).
        if (!isPublic) {
          const concrete = path.replace(/\{[^}]+\}/g, 'x');
          const res = await call(method.toUpperCase(), concrete, method === 'get' || method === 'delete' ? undefined : {}, null);
          expect([method, path, res.status]).toEqual([method, path, 401]);
        }
      }
    }
    for (const route of ['POST /api/v1/projects', 'GET /api/v1/{owner}/{project}/runs', 'POST /api/v1/orgs', 'DELETE /api/v1/users/tokens/{id}']) {
      expect(documented).toContain(route);
    }
    expect((await fetch(`http://127.0.0.1:${app.port}/api/v1/docs`)).status).toBe(200);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a token exceeds its rate', async () => {
    const bus = new InProcessBus();
    const app = await bootstrap({
      env: { MYELIN_DATABASE_URL: 'pglite://memory', MYELIN_PORT: '0', MYELIN_ADMIN_PASSWORD: 'pw-pw-pw', MYELIN_LOG_LEVEL: 'error', MYELIN_RATE_LIMIT_PER_MINUTE: '5' },
      bus,
      listen: true,
    });
    try {
      const base = `http://127.0.0.1:${app.port}`;
      const { token } = (await (
        await fetch(`${base}/api/v1/users/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'pw-pw-pw' }) })
      ).json()) as { token: string };
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 7; i++) {
        const res = await fetch(`${base}/api/v1/users`, { headers: { Authorization: `token ${token}` } });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
      }
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.slice(5)).toEqual([429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await app.close();
      await bus.close();
    }
  });
});
