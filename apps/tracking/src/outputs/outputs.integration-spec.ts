import { createHash, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { LogLinesAppend, RunDeleted, RunOutputsRead, TokenVerify } from '@myelin/contracts';
import { InProcessBus, MessageHandler } from '@myelin/bus';
import { AppHandle } from '@myelin/runtime';
import { MyelinClient } from '@myelin/sdk';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createTempDir, createTestDatabase, S3TestServer, startS3TestServer, TempDir, TestDatabase, waitFor } from '@myelin/testing';
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

  it('works through the SDK client: streamed upload, tree, download, archive, errors', async () => {
    const client = new MyelinClient({ host: base, token: WRITER });
    async function* chunks() {
      for (let i = 0; i < 4; i++) yield Buffer.from(`part ${i}\n`);
    }
    expect(await client.uploadOutput(run, 'sdk/parts.txt', chunks())).toEqual({ path: 'sdk/parts.txt', size: 28 });
    expect(await client.uploadOutput(run, 'sdk/bytes.bin', new Uint8Array([1, 2, 3]))).toEqual({ path: 'sdk/bytes.bin', size: 3 });
    expect((await client.outputsTree(run, 'sdk')).entries.map((e) => e.path)).toEqual(['sdk/bytes.bin', 'sdk/parts.txt']);
    const file = await client.downloadOutput(run, 'sdk/parts.txt');
    expect(file.size).toBe(28);
    const parts: Buffer[] = [];
    for await (const c of file.body) parts.push(Buffer.from(c));
    expect(Buffer.concat(parts).toString()).toBe('part 0\npart 1\npart 2\npart 3\n');
    const archive = await client.downloadOutputsArchive(run, 'sdk');
    expect(archive.size).toBeNull();
    const gz: Buffer[] = [];
    for await (const c of archive.body) gz.push(Buffer.from(c));
    expect(gunzipSync(Buffer.concat(gz)).toString('latin1')).toContain('part 3');
    await expect(client.downloadOutput(run, 'sdk/none.bin')).rejects.toMatchObject({ status: 404 });
    await expect(client.uploadOutput(run, '../escape', new Uint8Array([1]))).rejects.toMatchObject({ status: 400 });
    await expect(new MyelinClient({ host: base, token: STRANGER }).outputsTree(run)).rejects.toMatchObject({ status: 404 });
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

  it('describes the outputs routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/api/v1/tracking/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const what of ['tree', 'file', 'download']) expect(Object.keys(doc.paths)).toContain(`/api/v1/tracking/runs/{uuid}/outputs/${what}`);
    expect(Object.keys(doc.paths['/api/v1/tracking/runs/{uuid}/outputs/file'])).toEqual(expect.arrayContaining(['get', 'put']));
  });

  it("answers the pipelines service's request for a run's outputs.json (no file: null; a bad one: the problem)", async () => {
    const read = (uuid: string) => bus.request<RunOutputsRead.Reply>(RunOutputsRead.PATTERN, { runUuid: uuid } satisfies RunOutputsRead.Payload, 10_000);
    await expect(read(randomUUID())).resolves.toEqual({ outputs: null });
    expect((await put(run, 'outputs.json', '{"seed": 42, "model": "s3://m"}')).status).toBe(200);
    await expect(read(run)).resolves.toEqual({ outputs: { seed: 42, model: 's3://m' } });
    expect((await put(run, 'outputs.json', '[1, 2]')).status).toBe(200);
    await expect(read(run)).resolves.toEqual({ outputs: null, problem: 'outputs.json is not a JSON object' });
    expect((await put(run, 'outputs.json', Buffer.alloc(1024 * 1024 + 1, 0x20))).status).toBe(200);
    await expect(read(run)).resolves.toEqual({ outputs: null, problem: 'outputs.json is larger than 1048576 bytes' });
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

/** The same service with MYELIN_ARTIFACTS_STORE=s3://...: an in-process S3 server, the real AWS SDK client. */
describe('tracking outputs over HTTP, S3 bucket store', () => {
  let app: AppHandle;
  let bus: InProcessBus;
  let db: TestDatabase;
  let s3: S3TestServer;
  let client: S3Client;
  let base: string;
  const run = randomUUID();
  const headers = { Authorization: `token ${WRITER}` };
  const keysOf = async (uuid: string) =>
    ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `team/${uuid}/` }))).Contents ?? []).map((o) => o.Key);

  beforeAll(async () => {
    db = await createTestDatabase('myelin_outputs_s3');
    s3 = await startS3TestServer();
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
    bus = new InProcessBus();
    await bus.consume(
      'api',
      new Map([[TokenVerify.PATTERN, ((p: TokenVerify.Payload): TokenVerify.Reply => ({ valid: p.token === WRITER, userId: randomUUID(), username: 'writer', access: p.runUuid === run ? 'write' : 'none' })) as MessageHandler]]),
    );
    app = await bootstrap({
      env: {
        MYELIN_DATABASE_URL: db.url,
        MYELIN_PORT: '0',
        MYELIN_LOG_LEVEL: 'error',
        MYELIN_ARTIFACTS_STORE: `s3://${s3.bucket}/team`,
        MYELIN_S3_ENDPOINT: s3.endpoint,
        MYELIN_S3_REGION: s3.region,
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      },
      bus,
      listen: true,
    });
    base = `http://127.0.0.1:${app.port}/api/v1/tracking/runs/${run}/outputs`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await bus?.close();
    client?.destroy();
    await s3?.close().catch(() => undefined); // closed by the last test already
    await db?.drop();
  });

  it('uploads into the bucket, lists, downloads, archives, and deletes with the run', async () => {
    const up = await fetch(`${base}/file?path=checkpoints/ckpt-1.bin`, { method: 'PUT', headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: 'weights v1' });
    expect(await up.json()).toEqual({ path: 'checkpoints/ckpt-1.bin', size: 10 });
    expect(await keysOf(run)).toEqual([`team/${run}/outputs/checkpoints/ckpt-1.bin`]);
    const tree = (await (await fetch(`${base}/tree`, { headers })).json()) as { entries: Array<{ path: string }> };
    expect(tree.entries.map((e) => e.path)).toEqual(['checkpoints', 'checkpoints/ckpt-1.bin']);
    expect(await (await fetch(`${base}/file?path=checkpoints/ckpt-1.bin`, { headers })).text()).toBe('weights v1');
    const archive = await fetch(`${base}/download`, { headers });
    expect(archive.status).toBe(200);
    const names: string[] = [];
    const ex = tarExtract();
    const done = (async () => {
      for await (const entry of ex) {
        names.push(entry.header.name);
        entry.resume();
      }
    })();
    Readable.fromWeb(archive.body as never).pipe(createGunzip()).pipe(ex as unknown as NodeJS.WritableStream);
    await done;
    expect(names).toEqual(['checkpoints/', 'checkpoints/ckpt-1.bin']);
    expect((await fetch(`${base}/file?path=../x`, { headers })).status).toBe(400);
    await bus.emit(RunDeleted.PATTERN, { runUuid: run, at: new Date().toISOString() } satisfies RunDeleted.Payload);
    await waitFor(async () => (await keysOf(run)).length === 0, { what: 'the run\'s objects deleted' });
  });

  it("reads a run's outputs.json from the bucket for the pipelines service, and fails (not null) when the bucket cannot be read", async () => {
    const read = () => bus.request<RunOutputsRead.Reply>(RunOutputsRead.PATTERN, { runUuid: run } satisfies RunOutputsRead.Payload, 10_000);
    await expect(read()).resolves.toEqual({ outputs: null });
    const up = await fetch(`${base}/file?path=outputs.json`, { method: 'PUT', headers: { ...headers, 'Content-Type': 'application/octet-stream' }, body: '{"best_lr": 0.01}' });
    expect(up.status).toBe(200);
    await expect(read()).resolves.toEqual({ outputs: { best_lr: 0.01 } });
    // "Could not ask" must not read as "no outputs": a downstream op would start without them.
    await s3.close();
    await expect(read()).rejects.toThrow();
  });
});
