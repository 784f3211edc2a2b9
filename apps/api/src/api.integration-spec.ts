import { RunStart, RunStatusChanged, TokenVerify } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { AccountsRepository, CORE_SCHEMA, openServiceDatabase, ServiceDatabase } from '@myelin/persistence';
import { AppHandle } from '@myelin/runtime';
import { waitFor } from '@myelin/testing';
import { bootstrap } from './bootstrap';

/** The API over HTTP on the embedded PostgreSQL, with a real (in-process) bus around it. */
describe('api over HTTP', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: ServiceDatabase;
  let base: string;
  let adminToken: string;
  const starts: RunStart.Payload[] = [];

  const call = async (method: string, path: string, body?: unknown, token: string | null = adminToken) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `token ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
  };
  const polyaxonfile = (content: string) => ({ files: [{ path: 'polyaxonfile.yml', content }] });
  const GOOD = 'version: 1\nkind: experiment\nparams:\n  lr: 0.1\nrun:\n  cmd: python train.py --lr={{ lr }}\n';

  beforeAll(async () => {
    bus = new InProcessBus();
    // Stand in for the scheduler: record the start commands the API sends.
    await bus.consume('scheduler', new Map([[RunStart.PATTERN, ((p: RunStart.Payload) => void starts.push(p)) as MessageHandler]]));
    app = await bootstrap({
      env: { MYELIN_DATABASE_URL: 'pglite://memory', MYELIN_PORT: '0', MYELIN_ADMIN_PASSWORD: 'admin-pw', MYELIN_LOG_LEVEL: 'error' },
      bus,
      listen: true,
    });
    base = `http://127.0.0.1:${app.port}`;
    db = await openServiceDatabase({ url: 'pglite://memory', ...CORE_SCHEMA }); // the same in-process database
    const login = await call('POST', '/api/v1/users/token', { username: 'admin', password: 'admin-pw' }, null);
    expect(login.status).toBe(200);
    adminToken = login.body.token as string;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await bus?.close();
  });

  it('refuses calls without a valid token, and wrong passwords', async () => {
    expect((await call('GET', '/api/v1/admin/default/runs', undefined, null)).body).toMatchObject({ code: 'unauthenticated' });
    expect((await call('GET', '/api/v1/admin/default/runs', undefined, 'myl_not-a-real-token')).status).toBe(401);
    expect((await call('POST', '/api/v1/users/token', { username: 'admin', password: 'nope' }, null)).status).toBe(401);
    expect((await call('GET', '/healthz', undefined, null)).status).toBe(200);
  });

  it('answers a polyaxonfile error with 400, the file, line and field', async () => {
    const res = await call('POST', '/api/v1/admin/default/runs', polyaxonfile('version: 1\nkind: experiment\nrun:\n  cmd: echo {{ lrr }}\n'));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_spec');
    expect(res.body.message).toMatch(/polyaxonfile\.yml:4:\d+: run\.cmd/);
    expect((res.body.details as Array<{ line: number }>)[0].line).toBe(4);
  });

  it('answers malformed bodies with 400 naming the field', async () => {
    const unknown = await call('POST', '/api/v1/admin/default/runs', { ...polyaxonfile(GOOD), colour: 'red' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toMatch(/colour/);
    const wrongType = await call('POST', '/api/v1/admin/default/runs', { files: 'nope' });
    expect(wrongType.status).toBe(400);
    expect(JSON.stringify(wrongType.body)).toMatch(/files/);
    const badParams = await call('POST', '/api/v1/admin/default/runs', { ...polyaxonfile(GOOD), params: { lr: 3 } });
    expect(JSON.stringify(badParams.body)).toMatch(/params/);
  });

  it('refuses kinds whose engine has not landed with 422 and the reason', async () => {
    const res = await call('POST', '/api/v1/admin/default/runs', polyaxonfile(
      'version: 1\nkind: notebook\nbuild:\n  image: jupyter/base-notebook\n',
    ));
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/Kubernetes executor/);
  });

  it('creates runs with per-project numbers and sends their start command', async () => {
    const first = await call('POST', '/api/v1/admin/default/runs', { ...polyaxonfile(GOOD), params: { lr: '0.5' } });
    const second = await call('POST', '/api/v1/admin/default/runs', polyaxonfile(GOOD));
    expect(first.status).toBe(201);
    expect([first.body.number, second.body.number]).toEqual([1, 2]);
    expect(first.body.params).toEqual({ lr: 0.5 });
    await waitFor(() => starts.some((s) => s.runUuid === first.body.uuid), { what: 'the start command' });
    const start = starts.find((s) => s.runUuid === first.body.uuid)!;
    expect(start.cmd).toBe('python train.py --lr=0.5');
    const list = await call('GET', '/api/v1/admin/default/runs?limit=1');
    expect(list.body).toMatchObject({ count: 2, previous: null });
    expect(list.body.next).toMatch(/offset=1/);
  });

  it('applies status events through the state machine and keeps the history', async () => {
    const run = (await call('POST', '/api/v1/admin/default/runs', polyaxonfile(GOOD))).body;
    const event = (status: string) => ({ runUuid: run.uuid as string, status, reason: status, message: '', at: new Date().toISOString() });
    await bus.emit(RunStatusChanged.PATTERN, event('running'));
    await bus.drain();
    await bus.emit(RunStatusChanged.PATTERN, event('queued')); // late: refused
    await bus.drain();
    const got = await call('GET', `/api/v1/admin/default/runs/${run.number as number}`);
    expect(got.body.status).toBe('running');
    const statuses = await call('GET', `/api/v1/admin/default/runs/${run.uuid as string}/statuses`);
    expect((statuses.body.results as Array<{ status: string }>).map((s) => s.status)).toEqual(['created', 'running']);
  });

  it('hides a private project from another user (404) and tells other services so', async () => {
    const accounts = new AccountsRepository(db.dataSource);
    const other = await accounts.createUser({ username: 'eve' });
    const { token } = await accounts.issueToken({ userId: other.id, name: 'test' });
    const run = (await call('POST', '/api/v1/admin/default/runs', polyaxonfile(GOOD))).body;
    expect((await call('GET', '/api/v1/admin/default/runs', undefined, token)).status).toBe(404);
    expect((await call('GET', `/api/v1/runs/${run.uuid as string}`, undefined, token)).status).toBe(404);
    expect((await call('POST', '/api/v1/admin/default/runs', polyaxonfile(GOOD), token)).status).toBe(404);
    expect((await call('POST', `/api/v1/admin/default/runs/${run.number as number}/stop`, undefined, token)).status).toBe(404);
    const asked = await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token, runUuid: run.uuid as string });
    expect(asked).toMatchObject({ valid: true, username: 'eve', access: 'none' });
    const owner = await bus.request<TokenVerify.Reply>(TokenVerify.PATTERN, { token: adminToken, runUuid: run.uuid as string });
    expect(owner.access).toBe('write');
  });

  it('stops a run through the scheduler and refuses to stop a finished one', async () => {
    const run = (await call('POST', '/api/v1/admin/default/runs', polyaxonfile(GOOD))).body;
    expect((await call('POST', `/api/v1/admin/default/runs/${run.number as number}/stop`)).status).toBe(202);
    await bus.emit(RunStatusChanged.PATTERN, { runUuid: run.uuid as string, status: 'stopped', reason: 'Stopped', message: '', at: new Date().toISOString() });
    await bus.drain();
    const again = await call('POST', `/api/v1/admin/default/runs/${run.number as number}/stop`);
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/already ended/);
  });
});
