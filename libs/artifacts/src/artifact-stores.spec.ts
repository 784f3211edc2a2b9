import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { createTempDir, startS3TestServer, TempDir, waitFor } from '@myelin/testing';
import { ArtifactError, ArtifactErrorCode, ArtifactStore, createArtifactStore, LocalArtifactStore, parseArtifactStoreUrl, S3ArtifactStore } from './index';

/** A store under test, and how to see the bytes that reached its backing storage. */
interface Fixture {
  store: ArtifactStore;
  /** Bytes of every file in the storage's own folder (the runs folder, or the S3 server's data). */
  storedBytes(): Promise<number>;
  close(): Promise<void>;
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, d.name);
    if (d.isDirectory()) total += await bytesUnder(p);
    else if (d.isFile()) total += (await stat(p)).size;
  }
  return total;
}

const fixtures: Array<[string, () => Promise<Fixture>]> = [
  [
    'local',
    async () => {
      const dir = await createTempDir('myelin-artifacts');
      return { store: new LocalArtifactStore(dir.path), storedBytes: () => bytesUnder(dir.path), close: () => dir.remove() };
    },
  ],
  [
    's3 (s3rver, real AWS SDK client)',
    async () => {
      const server = await startS3TestServer();
      const store = new S3ArtifactStore({
        bucket: server.bucket,
        prefix: 'team/runs',
        endpoint: server.endpoint,
        region: server.region,
        credentials: server.credentials,
      });
      return {
        store,
        storedBytes: () => bytesUnder(server.dataDir),
        close: async () => {
          store.client.destroy();
          await server.close();
        },
      };
    },
  ],
];

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Unpack a .tar.gz stream: entry name -> content ('/' suffix for folders). */
async function untar(stream: Readable): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ex = tarExtract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.type === 'directory' ? entry.header.name.replace(/\/?$/, '/') : entry.header.name, Buffer.concat(chunks).toString('utf8'));
    }
  })();
  stream.pipe(createGunzip()).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

/**
 * `total` bytes of a deterministic pattern, produced only as they are pulled. When `holdAt` is
 * given, production stops there until `release()`: whoever consumes it must have passed the
 * bytes on by then, or it would wait forever.
 */
function generated(total: number, holdAt?: number) {
  const hash = createHash('sha256');
  let produced = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const chunk = Buffer.alloc(64 * 1024);
  const stream = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (produced >= total) return void this.push(null);
      const emit = () => {
        const n = Math.min(chunk.length, total - produced);
        for (let i = 0; i < n; i += 4) chunk.writeUInt32LE((produced + i) >>> 0, i);
        const part = Buffer.from(chunk.subarray(0, n));
        hash.update(part);
        produced += n;
        this.push(part);
      };
      if (holdAt !== undefined && produced >= holdAt) void released.then(emit);
      else emit();
    },
  });
  return { stream, release, produced: () => produced, digest: () => hash.digest('hex') };
}

async function sha256(stream: Readable): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    hash.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { hex: hash.digest('hex'), bytes };
}

const expectArtifactError = async (p: Promise<unknown>, code: ArtifactErrorCode, message?: RegExp) => {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArtifactError);
  expect((error as ArtifactError).code).toBe(code);
  if (message) expect((error as ArtifactError).message).toMatch(message);
};

describe.each(fixtures)('ArtifactStore: %s', (_name, make) => {
  let f: Fixture;
  let store: ArtifactStore;
  const run = randomUUID();

  beforeAll(async () => {
    f = await make();
    store = f.store;
    await store.write(run, 'metrics.json', Readable.from(['{"loss":0.1}']));
    await store.write(run, 'checkpoints/ckpt-1.bin', Readable.from([Buffer.from('weights-1')]));
    await store.write(run, './checkpoints//ckpt-2.bin', Readable.from([Buffer.from('weights-22')]));
    await store.write(run, 'plots/a/b/loss.svg', Readable.from(['<svg/>']));
  }, 30_000);

  afterAll(async () => {
    await f?.close();
  });

  it('lists a run as a recursive tree with sizes, folders included', async () => {
    const entries = await store.list(run);
    expect(entries.map((e) => [e.path, e.type, e.size])).toEqual([
      ['checkpoints', 'dir', 19],
      ['checkpoints/ckpt-1.bin', 'file', 9],
      ['checkpoints/ckpt-2.bin', 'file', 10],
      ['metrics.json', 'file', 12],
      ['plots', 'dir', 6],
      ['plots/a', 'dir', 6],
      ['plots/a/b', 'dir', 6],
      ['plots/a/b/loss.svg', 'file', 6],
    ]);
    for (const e of entries) expect(Number.isNaN(Date.parse(e.modified))).toBe(false);
    expect((await store.list(run, 'checkpoints/')).map((e) => e.path)).toEqual(['checkpoints/ckpt-1.bin', 'checkpoints/ckpt-2.bin']);
    expect((await store.list(run, 'plots/a')).map((e) => e.path)).toEqual(['plots/a/b', 'plots/a/b/loss.svg']);
  });

  it('reads one file back with its size, and replaces a file written again', async () => {
    const file = await store.read(run, 'checkpoints/ckpt-2.bin');
    expect(file.size).toBe(10);
    expect(await text(file.stream)).toBe('weights-22');
    await store.write(run, 'notes.txt', Readable.from(['first version, longer']));
    expect(await store.write(run, 'notes.txt', Readable.from(['second']))).toEqual({ path: 'notes.txt', size: 6 });
    expect(await text((await store.read(run, 'notes.txt')).stream)).toBe('second');
    const other = randomUUID();
    expect(await store.write(other, 'unicode/naïve-模型.txt', Readable.from(['poids µ']))).toEqual({ path: 'unicode/naïve-模型.txt', size: 8 });
    expect(await text((await store.read(other, 'unicode/naïve-模型.txt')).stream)).toBe('poids µ');
    expect((await store.list(other)).map((e) => [e.path, e.size])).toEqual([['unicode', 8], ['unicode/naïve-模型.txt', 8]]);
    await store.deleteRun(other);
  });

  it('answers NotFound for a missing file or folder, and an empty tree for a run without outputs', async () => {
    await expectArtifactError(store.read(run, 'nope.txt'), ArtifactErrorCode.NotFound);
    await expectArtifactError(store.list(run, 'nope'), ArtifactErrorCode.NotFound);
    await expectArtifactError(store.read(randomUUID(), 'metrics.json'), ArtifactErrorCode.NotFound);
    expect(await store.list(randomUUID())).toEqual([]);
  });

  it('refuses absolute paths, "..", NUL and bad run ids with the reason', async () => {
    await expectArtifactError(store.read(run, '../x'), ArtifactErrorCode.InvalidPath, /\.\./);
    await expectArtifactError(store.read(run, 'checkpoints/../../other/outputs/x'), ArtifactErrorCode.InvalidPath, /\.\./);
    await expectArtifactError(store.write(run, '/etc/passwd', Readable.from(['x'])), ArtifactErrorCode.InvalidPath, /relative/);
    await expectArtifactError(store.write(run, 'a\0b', Readable.from(['x'])), ArtifactErrorCode.InvalidPath, /NUL/);
    await expectArtifactError(store.list(run, '..'), ArtifactErrorCode.InvalidPath, /\.\./);
    await expectArtifactError(store.tarGz(run, '../'), ArtifactErrorCode.InvalidPath);
    await expectArtifactError(store.write(run, '', Readable.from(['x'])), ArtifactErrorCode.InvalidPath, /file/);
    await expectArtifactError(store.list('../../etc'), ArtifactErrorCode.InvalidPath, /uuid/);
  });

  it('keeps a tree: no file over a folder, no folder under a file', async () => {
    await expectArtifactError(store.write(run, 'checkpoints', Readable.from(['x'])), ArtifactErrorCode.InvalidPath, /is a folder/);
    await expectArtifactError(store.write(run, 'metrics.json/inner.txt', Readable.from(['x'])), ArtifactErrorCode.InvalidPath, /a file stands/);
    expect(await text((await store.read(run, 'metrics.json')).stream)).toBe('{"loss":0.1}');
  });

  it('streams a .tar.gz of everything or of one folder that unpacks to the same files', async () => {
    const all = await untar(await store.tarGz(run));
    expect(Object.fromEntries(all)).toEqual({
      'checkpoints/': '',
      'checkpoints/ckpt-1.bin': 'weights-1',
      'checkpoints/ckpt-2.bin': 'weights-22',
      'metrics.json': '{"loss":0.1}',
      'notes.txt': 'second',
      'plots/': '',
      'plots/a/': '',
      'plots/a/b/': '',
      'plots/a/b/loss.svg': '<svg/>',
    });
    const ckpts = await untar(await store.tarGz(run, 'checkpoints'));
    expect([...ckpts.keys()]).toEqual(['checkpoints/ckpt-1.bin', 'checkpoints/ckpt-2.bin']);
  });

  it('streams 50 MB through write and read: bytes reach storage while the source is still held back', async () => {
    const big = randomUUID();
    const total = 50 * 1024 * 1024;
    const source = generated(total, 20 * 1024 * 1024);
    const before = await f.storedBytes();
    const writing = store.write(big, 'checkpoints/big.bin', source.stream);
    // The source stops at 20 MB: a store that buffered whole files would store nothing now.
    await waitFor(async () => source.produced() >= 20 * 1024 * 1024 && (await f.storedBytes()) - before >= 5 * 1024 * 1024, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: 'at least 5 MB in storage while the upload is held at 20 MB',
    });
    source.release();
    expect(await writing).toEqual({ path: 'checkpoints/big.bin', size: total });
    const file = await store.read(big, 'checkpoints/big.bin');
    expect(file.size).toBe(total);
    expect(await sha256(file.stream)).toEqual({ hex: source.digest(), bytes: total });
    await store.deleteRun(big);
  }, 60_000);

  it('deleteRun removes every output of the run and only of that run', async () => {
    const other = randomUUID();
    await store.write(other, 'keep.txt', Readable.from(['kept']));
    await store.deleteRun(run);
    expect(await store.list(run)).toEqual([]);
    await expectArtifactError(store.read(run, 'metrics.json'), ArtifactErrorCode.NotFound);
    expect(await text((await store.read(other, 'keep.txt')).stream)).toBe('kept');
    await store.deleteRun(run); // idempotent
  });
});

describe('LocalArtifactStore on disk', () => {
  let dir: TempDir;
  let store: LocalArtifactStore;
  const run = randomUUID();

  beforeAll(async () => {
    dir = await createTempDir('myelin-artifacts-local');
    store = new LocalArtifactStore(() => dir.path);
    await mkdir(join(dir.path, run, 'outputs', 'checkpoints'), { recursive: true });
    await mkdir(join(dir.path, 'secret'), { recursive: true });
    await writeFile(join(dir.path, 'secret', 'key.txt'), 'do not serve');
    await writeFile(join(dir.path, run, 'outputs', 'checkpoints', 'ckpt-1.bin'), 'written by the job');
  });

  afterAll(async () => {
    await dir.remove();
  });

  it('serves what a job wrote into <runsDir>/<uuid>/outputs (MYELIN_OUTPUTS_PATH)', async () => {
    expect(store.outputsDir(run)).toBe(join(dir.path, run, 'outputs'));
    expect(await text((await store.read(run, 'checkpoints/ckpt-1.bin')).stream)).toBe('written by the job');
  });

  it('refuses symlinks that leave the run’s outputs, and keeps them out of listings and archives', async () => {
    const outputs = join(dir.path, run, 'outputs');
    await symlink(join(dir.path, 'secret', 'key.txt'), join(outputs, 'leak.txt'));
    await symlink(join(dir.path, 'secret'), join(outputs, 'leakdir'));
    await symlink(join(outputs, 'checkpoints', 'ckpt-1.bin'), join(outputs, 'latest.bin'));
    await expectArtifactError(store.read(run, 'leak.txt'), ArtifactErrorCode.InvalidPath, /symlink/);
    await expectArtifactError(store.read(run, 'leakdir/key.txt'), ArtifactErrorCode.InvalidPath, /symlink/);
    await expectArtifactError(store.write(run, 'leakdir/new.txt', Readable.from(['x'])), ArtifactErrorCode.InvalidPath, /symlink/);
    await expectArtifactError(store.list(run, 'leakdir'), ArtifactErrorCode.InvalidPath, /symlink/);
    expect((await store.list(run)).map((e) => e.path)).toEqual(['checkpoints', 'checkpoints/ckpt-1.bin', 'latest.bin']);
    expect(await text((await store.read(run, 'latest.bin')).stream)).toBe('written by the job');
    expect([...(await untar(await store.tarGz(run))).keys()]).toEqual(['checkpoints/', 'checkpoints/ckpt-1.bin', 'latest.bin']);
    await expect(readdir(join(dir.path, 'secret'))).resolves.toEqual(['key.txt']);
  });

  it('refuses an outputs folder that is itself a symlink', async () => {
    const sneaky = randomUUID();
    await mkdir(join(dir.path, sneaky), { recursive: true });
    await symlink(join(dir.path, 'secret'), join(dir.path, sneaky, 'outputs'));
    await expectArtifactError(store.list(sneaky), ArtifactErrorCode.InvalidPath, /plain folder/);
    await expectArtifactError(store.read(sneaky, 'key.txt'), ArtifactErrorCode.InvalidPath, /plain folder/);
  });

  it('a failed upload leaves neither the file nor a temporary behind', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('client went away'));
      },
    });
    await expect(store.write(run, 'partial.bin', failing)).rejects.toThrow(/client went away/);
    expect(await readdir(join(dir.path, run, 'outputs'))).not.toEqual(expect.arrayContaining([expect.stringMatching(/partial/)]));
  });

  it('deleteRun removes the outputs folder, and the run folder once empty', async () => {
    const gone = randomUUID();
    await store.write(gone, 'a.txt', Readable.from(['a']));
    await store.deleteRun(gone);
    await expect(stat(join(dir.path, gone))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(dir.path, 'secret', 'key.txt'))).resolves.toBeTruthy();
  });
});

describe('createArtifactStore', () => {
  it('builds the store MYELIN_ARTIFACTS_STORE names', () => {
    expect(createArtifactStore({ runsDir: '/runs' })).toBeInstanceOf(LocalArtifactStore);
    expect(createArtifactStore({ store: 'local', runsDir: '/runs' }).location).toBe('/runs');
    const s3 = createArtifactStore({ store: 's3://my-bucket/team/a/', runsDir: '/runs', s3Endpoint: 'http://127.0.0.1:9000' });
    expect(s3).toBeInstanceOf(S3ArtifactStore);
    expect(s3.location).toBe('s3://my-bucket/team/a');
    expect((s3 as S3ArtifactStore).runKey('0b8a4a0e-58c4-4a35-9a4b-5e1c7f0c4e11')).toBe('team/a/0b8a4a0e-58c4-4a35-9a4b-5e1c7f0c4e11/outputs/');
    (s3 as S3ArtifactStore).client.destroy();
    expect(parseArtifactStoreUrl('s3://bkt')).toEqual({ kind: 's3', bucket: 'bkt', prefix: '' });
    expect(() => parseArtifactStoreUrl('ftp://x')).toThrow(/local.*s3:\/\//);
    expect(() => parseArtifactStoreUrl('s3://')).toThrow(/s3:\/\//);
  });
});
