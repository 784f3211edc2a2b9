import { readFile, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createTempDir, S3TestServer, startS3TestServer, TempDir } from '@myelin/testing';
import { freePort, myelin, poll, ServiceProcess, waitForHttp } from './cli-harness';

/**
 * Outputs as a user meets them: a job writes files (a checkpoint among them) into
 * $MYELIN_OUTPUTS_PATH under `myelin up`, then `myelin outputs ls|get|download` in other
 * processes read them back, and `myelin delete` takes them away. Nothing is mocked.
 */
jest.setTimeout(180_000);

async function untar(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tarExtract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  createReadStream(file).pipe(createGunzip()).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

describe('outputs through the CLI (embedded mode)', () => {
  let home: TempDir;
  let work: TempDir;
  let up: ServiceProcess;
  let env: Record<string, string>;
  let run: { uuid: string; number: number };
  let outputs: string;

  beforeAll(async () => {
    home = await createTempDir('myelin-e2e-outputs-home');
    work = await createTempDir('myelin-e2e-outputs-work');
    const port = await freePort();
    env = { MYELIN_HOME: home.path };
    up = new ServiceProcess(['up', '--port', String(port)], env);
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 90_000, up);
    const spec = join(work.path, 'outputs.yml');
    await writeFile(
      spec,
      [
        'version: 1',
        'kind: experiment',
        'run:',
        '  cmd: |',
        '    mkdir -p "$MYELIN_OUTPUTS_PATH/checkpoints"',
        '    echo weights-after-epoch-1 > "$MYELIN_OUTPUTS_PATH/checkpoints/ckpt-1.bin"',
        '    head -c 3000000 /dev/urandom > "$MYELIN_OUTPUTS_PATH/model.bin"',
        `    printf '{"acc": 0.9}\\n' > "$MYELIN_OUTPUTS_PATH/metrics.json"`,
        '',
      ].join('\n'),
    );
    const res = await myelin(['run', '-f', spec, '--watch', '--json'], env, 120_000);
    if (res.code !== 0) throw new Error(`the run failed:\n${res.stdout}\n${res.stderr}\n${up.output.slice(-3000)}`);
    run = JSON.parse(res.stdout.slice(0, res.stdout.lastIndexOf('}') + 1)) as { uuid: string; number: number };
    outputs = join(home.path, 'runs', run.uuid, 'outputs');
  }, 180_000);

  afterAll(async () => {
    await up?.stop();
    await home?.remove();
    await work?.remove();
  });

  it('lists the files the job wrote, as JSON and as a table', async () => {
    const res = await myelin(['outputs', 'ls', String(run.number), '--json'], env);
    expect(res.code).toBe(0);
    const { entries } = JSON.parse(res.stdout) as { entries: Array<{ path: string; type: string; size: number }> };
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['checkpoints', 'dir'],
      ['checkpoints/ckpt-1.bin', 'file'],
      ['metrics.json', 'file'],
      ['model.bin', 'file'],
    ]);
    expect(entries.find((e) => e.path === 'model.bin')?.size).toBe(3_000_000);
    const sub = JSON.parse((await myelin(['outputs', 'ls', run.uuid, '--path', 'checkpoints', '--json'], env)).stdout) as { entries: Array<{ path: string }> };
    expect(sub.entries.map((e) => e.path)).toEqual(['checkpoints/ckpt-1.bin']);
    const table = await myelin(['outputs', 'ls', String(run.number)], env);
    expect(table.stdout).toMatch(/checkpoints\/ckpt-1\.bin\s+file\s+22 B/);
    expect(table.stdout).toMatch(/model\.bin\s+file\s+2\.9 MiB/);
  });

  it('gets one file, byte for byte, without a progress bar when stderr is not a terminal', async () => {
    const target = join(work.path, 'model.bin');
    const res = await myelin(['outputs', 'get', String(run.number), 'model.bin', '-o', target], env);
    expect(res.code).toBe(0);
    expect(res.stderr).toBe(`Wrote 2.9 MiB to ${target}\n`);
    expect((await readFile(target)).equals(await readFile(join(outputs, 'model.bin')))).toBe(true);
    const ckpt = await myelin(['outputs', 'get', run.uuid, 'checkpoints/ckpt-1.bin', '-o', '-'], env);
    expect(ckpt.stdout).toBe('weights-after-epoch-1\n');
  });

  it('downloads everything, or one folder, as a .tar.gz with the same bytes', async () => {
    const all = join(work.path, 'all.tar.gz');
    expect((await myelin(['outputs', 'download', String(run.number), '-o', all], env)).code).toBe(0);
    const files = await untar(all);
    expect([...files.keys()]).toEqual(['checkpoints/', 'checkpoints/ckpt-1.bin', 'metrics.json', 'model.bin']);
    for (const name of ['checkpoints/ckpt-1.bin', 'metrics.json', 'model.bin']) {
      expect([name, files.get(name)?.equals(await readFile(join(outputs, name)))]).toEqual([name, true]);
    }
    expect(files.get('metrics.json')?.toString()).toBe('{"acc": 0.9}\n');
    const ckpts = join(work.path, 'ckpts.tar.gz');
    expect((await myelin(['outputs', 'download', run.uuid, '--path', 'checkpoints', '-o', ckpts], env)).code).toBe(0);
    expect([...(await untar(ckpts)).keys()]).toEqual(['checkpoints/ckpt-1.bin']);
  });

  it('exits 2 for an unsafe path and 3 for a missing file, leaving no partial file', async () => {
    const bad = await myelin(['outputs', 'get', String(run.number), '../x', '-o', join(work.path, 'x')], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/\.\./);
    const missing = await myelin(['outputs', 'get', String(run.number), 'nope.bin', '-o', join(work.path, 'nope.bin')], env);
    expect(missing.code).toBe(3);
    await expect(stat(join(work.path, 'nope.bin'))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(work.path, 'nope.bin.part'))).rejects.toThrow(/ENOENT/);
    const help = await myelin(['outputs', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/ls[\s\S]*get[\s\S]*download/);
  });

  it('deleting the run removes its outputs folder', async () => {
    await expect(stat(outputs)).resolves.toBeTruthy();
    expect((await myelin(['delete', String(run.number)], env)).code).toBe(0);
    await poll(async () => (await stat(outputs).catch(() => null)) === null, { timeoutMs: 30_000, what: 'the outputs folder removed' });
    expect((await myelin(['outputs', 'ls', run.uuid], env)).code).toBe(3);
  });
});

/**
 * The same platform with MYELIN_ARTIFACTS_STORE=s3://...: the job still writes locally, the
 * scheduler copies its outputs to the bucket when it ends, the CLI reads them from the bucket
 * through tracking, and deleting the run empties the bucket's prefix.
 */
describe('outputs through the CLI with an S3 bucket store (embedded mode)', () => {
  let home: TempDir;
  let work: TempDir;
  let s3: S3TestServer;
  let client: S3Client;
  let up: ServiceProcess;
  let env: Record<string, string>;
  const keys = async (prefix: string) => ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key);

  beforeAll(async () => {
    home = await createTempDir('myelin-e2e-s3-home');
    work = await createTempDir('myelin-e2e-s3-work');
    s3 = await startS3TestServer();
    client = new S3Client({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, forcePathStyle: true });
    const port = await freePort();
    env = {
      MYELIN_HOME: home.path,
      MYELIN_ARTIFACTS_STORE: `s3://${s3.bucket}/e2e`,
      MYELIN_S3_ENDPOINT: s3.endpoint,
      MYELIN_S3_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    };
    up = new ServiceProcess(['up', '--port', String(port)], env);
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 90_000, up);
  }, 120_000);

  afterAll(async () => {
    await up?.stop();
    client?.destroy();
    await s3?.close();
    await home?.remove();
    await work?.remove();
  });

  it('a finished run’s outputs reach the bucket, are read from it, and leave with the run', async () => {
    const spec = join(work.path, 'p.yml');
    await writeFile(spec, ['version: 1', 'kind: experiment', 'run:', '  cmd: |', '    mkdir -p "$MYELIN_OUTPUTS_PATH/checkpoints"', '    echo w1 > "$MYELIN_OUTPUTS_PATH/checkpoints/ckpt-1.bin"', ''].join('\n'));
    const res = await myelin(['run', '-f', spec, '--watch', '--json'], env, 120_000);
    expect(res.code).toBe(0);
    const run = JSON.parse(res.stdout.slice(0, res.stdout.lastIndexOf('}') + 1)) as { uuid: string; number: number };
    await poll(async () => (await keys(`e2e/${run.uuid}/`)).length === 1, { timeoutMs: 30_000, what: 'the outputs copied to the bucket' });
    expect(await keys(`e2e/${run.uuid}/`)).toEqual([`e2e/${run.uuid}/outputs/checkpoints/ckpt-1.bin`]);
    const ls = JSON.parse((await myelin(['outputs', 'ls', String(run.number), '--json'], env)).stdout) as { entries: Array<{ path: string }> };
    expect(ls.entries.map((e) => e.path)).toEqual(['checkpoints', 'checkpoints/ckpt-1.bin']);
    expect((await myelin(['outputs', 'get', run.uuid, 'checkpoints/ckpt-1.bin', '-o', '-'], env)).stdout).toBe('w1\n');
    expect((await myelin(['delete', String(run.number)], env)).code).toBe(0);
    await poll(async () => (await keys(`e2e/${run.uuid}/`)).length === 0, { timeoutMs: 30_000, what: 'the bucket emptied of the run' });
  });
});
