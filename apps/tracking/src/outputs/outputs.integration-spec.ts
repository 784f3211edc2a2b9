import { createHash, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { LogLinesAppend, RunDeleted, TokenVerify } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { createTempDir, createTestDatabase, TempDir, TestDatabase, waitFor } from '@myelin/testing';
import { bootstrap } from '../bootstrap';

const WRITER = 'writer-token-0001';
const READER = 'reader-token-0001';
const STRANGER = 'stranger-token-01';

/** Tracking over HTTP on its own PostgreSQL database, the API stood in for by a token-verify handler on the bus. */
describe('tracking outputs over HTTP', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let runsDir: TempDir;
  let base: string;
  const run = randomUUID();
  const other = randomUUID();

  const url = (uuid: string, what: string, path?: string) =>
    `${base}/api/v1/tracking/runs/${uuid}/outputs/${what}${path === undefined ? '' : `?path=${encodeURIComponent(path)}`}`;
  const auth = (token: string) => ({ Authorization: `token ${token}` });
  const put = (uuid: string, path: string, body: string | Buffer | Readable, token = WRITER, type = 'application/octet-stream') =>
    fetch(url(uuid, 'file', path), {
      method: 'PUT',
      headers: { ...auth(token), 'Content-Type': type },
      body: body instanceof Readable ? (Readable.toWeb(body) as ReadableStream) : body,
      duplex: 'half',
    } as RequestInit);

  beforeAll(async () => {
    db = await createTestDatabase('myelin_outputs');
    runsDir = await createTempDir('myelin-outputs-runs');
    bus = new InProcessBus();
    // Stands in for the API: WRITER may write `run`, READER only read it, STRANGER sees nothing.
    const verify = ((p: TokenVerify.Payload): TokenVerify.Reply => {
      if (![WRITER, READER, STRANGER].includes(p.token)) return { valid: false };
      const access = !p.runUuid || p.runUuid !== run ? 'none' : p.token === WRITER ? 'write' : p.token === READER ? 'read' : 'none';
      return { valid: true, userId: randomUUID(), username: p.token.split('-')[0], isSuperuser: false, ...(p.runUuid ? { access } : {}) };
    }) as MessageHandler;
    await bus.consume('api', new Map([[TokenVerify.PATTERN, verify]]));
    app = await bootstrap({
      env: { MYELIN_DATABASE_URL: db.url, MYELIN_PORT: '0', MYELIN_LOG_LEVEL: 'error', MYELIN_RUNS_DIR: runsDir.path, MYELIN_AUTH_CACHE_SECONDS: '0' },
      bus,
      listen: true,
    });
    base = `http://127.0.0.1:${app.port}`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    await db?.drop();
    await runsDir?.remove();
  });

  it('stores an upload in the run’s outputs folder, where a job on the local executor writes', async () => {
    const res = await put(run, 'checkpoints/ckpt-1.bin', Buffer.from('weights v1'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: 'checkpoints/ckpt-1.bin', size: 10 });
    expect(await readFile(join(runsDir.path, run, 'outputs', 'checkpoints', 'ckpt-1.bin'), 'utf8')).toBe('weights v1');
    expect((await put(run, 'metrics.json', '{"acc":0.9}')).status).toBe(200);
  });

  it('lists the tree, recursively or from a folder', async () => {
    const res = await fetch(url(run, 'tree'), { headers: auth(READER) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { entries: Array<{ path: string; type: string; size: number; modified: string }> };
    expect(body.entries.map((e) => [e.path, e.type, e.size])).toEqual([
      ['checkpoints', 'dir', 10],
      ['checkpoints/ckpt-1.bin', 'file', 10],
      ['metrics.json', 'file', 11],
    ]);
    const sub = (await (await fetch(url(run, 'tree', 'checkpoints'), { headers: auth(READER) })).json()) as { entries: Array<{ path: string }> };
    expect(sub.entries.map((e) => e.path)).toEqual(['checkpoints/ckpt-1.bin']);
    expect((await fetch(url(run, 'tree', 'nope'), { headers: auth(READER) })).status).toBe(404);
  });

  it('downloads one file with its length and name', async () => {
    const res = await fetch(url(run, 'file', 'checkpoints/ckpt-1.bin'), { headers: auth(READER) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('10');
    expect(res.headers.get('content-disposition')).toMatch(/filename="ckpt-1\.bin"/);
    expect(await res.text()).toBe('weights v1');
    expect((await fetch(url(run, 'file', 'missing.bin'), { headers: auth(READER) })).status).toBe(404);
  });

  it('downloads everything as a .tar.gz that unpacks to the same files', async () => {
    const res = await fetch(url(run, 'download'), { headers: auth(READER) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/gzip/);
    const files = new Map<string, string>();
    const ex = tarExtract();
    const done = (async () => {
      for await (const entry of ex) {
        const chunks: Buffer[] = [];
        for await (const c of entry) chunks.push(c as Buffer);
        files.set(entry.header.name, Buffer.concat(chunks).toString('utf8'));
      }
    })();
    Readable.fromWeb(res.body as never).pipe(createGunzip()).pipe(ex as unknown as NodeJS.WritableStream);
    await done;
    expect(Object.fromEntries(files)).toEqual({ 'checkpoints/': '', 'checkpoints/ckpt-1.bin': 'weights v1', 'metrics.json': '{"acc":0.9}' });
  });

  it('streams a 20 MB upload and download', async () => {
    const total = 20 * 1024 * 1024;
    let sent = 0;
    const hash = createHash('sha256');
    const source = new Readable({
      read() {
        if (sent >= total) return void this.push(null);
        const chunk = Buffer.alloc(256 * 1024, sent % 251);
        hash.update(chunk);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const res = await put(run, 'big/model.bin', source);
    expect(await res.json()).toEqual({ path: 'big/model.bin', size: total });
    const expected = hash.digest('hex');
    const got = createHash('sha256');
    const download = await fetch(url(run, 'file', 'big/model.bin'), { headers: auth(READER) });
    for await (const c of download.body as unknown as AsyncIterable<Uint8Array>) got.update(c);
    expect(got.digest('hex')).toBe(expected);
  });

  it('answers 404 for a run the token may not see, 403 for an upload with read access only', async () => {
    for (const [method, what, path] of [['GET', 'tree', undefined], ['GET', 'file', 'metrics.json'], ['GET', 'download', undefined]] as const) {
      const res = await fetch(url(run, what, path), { method, headers: auth(STRANGER) });
      expect([what, res.status]).toEqual([what, 404]);
      expect(((await res.json()) as { message: string }).message).toMatch(/not found/);
    }
    expect((await put(run, 'x.txt', 'x', STRANGER)).status).toBe(404);
    expect((await put(other, 'x.txt', 'x', WRITER)).status).toBe(404);
    expect((await put(run, 'x.txt', 'x', READER)).status).toBe(403);
    expect((await fetch(url(run, 'tree'))).status).toBe(401);
  });

  it('answers 400 with the reason for unsafe or missing paths', async () => {
    const bad = await fetch(url(run, 'file', '../x'), { headers: auth(READER) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/\.\./);
    const badPut = await put(run, '../x', 'x');
    expect(badPut.status).toBe(400);
    expect((await fetch(url(run, 'download', '/etc'), { headers: auth(READER) })).status).toBe(400);
    expect((await fetch(url(run, 'file'), { headers: auth(READER) })).status).toBe(400);
    expect((await stat(join(runsDir.path, run, 'x')).catch(() => null))).toBeNull();
  });

  it('refuses a JSON-typed upload (the JSON body parser would have consumed it) with 415', async () => {
    const res = await put(run, 'data.json', '{"a":1}', WRITER, 'application/json');
    expect(res.status).toBe(415);
    expect(((await res.json()) as { message: string }).message).toMatch(/octet-stream/);
  });

  it('deletes the outputs with the run, beside the logs (two handlers of the same event)', async () => {
    await bus.send(LogLinesAppend.PATTERN, { runUuid: run, batchId: 'b1', lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'hello' }] });
    await waitFor(async () => ((await (await fetch(`${base}/api/v1/tracking/runs/${run}/logs`, { headers: auth(READER) })).json()) as { results: unknown[] }).results.length === 1, {
      what: 'the log line stored',
    });
    await bus.emit(RunDeleted.PATTERN, { runUuid: run, at: new Date().toISOString() } satisfies RunDeleted.Payload);
    await waitFor(async () => (await stat(join(runsDir.path, run, 'outputs')).catch(() => null)) === null, { what: 'the outputs folder removed' });
    await waitFor(async () => ((await (await fetch(`${base}/api/v1/tracking/runs/${run}/logs`, { headers: auth(READER) })).json()) as { results: unknown[] }).results.length === 0, {
      what: 'the logs removed',
    });
    expect(((await (await fetch(url(run, 'tree'), { headers: auth(READER) })).json()) as { entries: unknown[] }).entries).toEqual([]);
  });
});
