import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RunStatusChanged } from '@myelin/contracts';
import { InProcessBus } from '@myelin/bus';
import { S3ArtifactStore } from '@myelin/artifacts';
import { createTempDir, S3TestServer, startS3TestServer, TempDir, waitFor } from '@myelin/testing';
import { OutputsSync, startOutputsSync } from './outputs-sync';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('outputs sync to an S3 bucket at run end', () => {
  let s3: S3TestServer;
  let runs: TempDir;
  let bus: InProcessBus;
  let sync: OutputsSync;
  let bucket: S3ArtifactStore;

  beforeAll(async () => {
    s3 = await startS3TestServer();
    runs = await createTempDir('myelin-sync-runs');
    bus = new InProcessBus();
    const env = {
      MYELIN_ARTIFACTS_STORE: `s3://${s3.bucket}/outputs-sync`,
      MYELIN_RUNS_DIR: runs.path,
      MYELIN_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    };
    sync = (await startOutputsSync(env, bus))!;
    bucket = sync.remote as S3ArtifactStore;
  });

  afterAll(async () => {
    await bus?.close();
    bucket?.client.destroy();
    await s3?.close();
    await runs?.remove();
  });

  const status = (runUuid: string, s: RunStatusChanged.Payload['status']) =>
    bus.emit(RunStatusChanged.PATTERN, { runUuid, status: s, reason: s, message: '', at: new Date().toISOString() } satisfies RunStatusChanged.Payload);

  it('copies what the job wrote locally once the run is final, not before', async () => {
    const run = randomUUID();
    const outputs = join(runs.path, run, 'outputs');
    await mkdir(join(outputs, 'checkpoints'), { recursive: true });
    await writeFile(join(outputs, 'checkpoints', 'ckpt-1.bin'), 'weights');
    await writeFile(join(outputs, 'metrics.json'), '{"acc":1}');
    await status(run, 'running');
    await bus.drain();
    expect(await bucket.list(run)).toEqual([]);
    await status(run, 'succeeded');
    await waitFor(async () => (await bucket.list(run)).length === 3, { what: 'the outputs in the bucket' });
    expect((await bucket.list(run)).map((e) => e.path)).toEqual(['checkpoints', 'checkpoints/ckpt-1.bin', 'metrics.json']);
    expect(await text((await bucket.read(run, 'checkpoints/ckpt-1.bin')).stream)).toBe('weights');
    expect(bucket.runKey(run)).toBe(`outputs-sync/${run}/outputs/`);
  });

  it('copies a failed run too, and a run without outputs is nothing to copy', async () => {
    const run = randomUUID();
    await mkdir(join(runs.path, run, 'outputs'), { recursive: true });
    await writeFile(join(runs.path, run, 'outputs', 'crash.log'), 'oom');
    await status(run, 'failed');
    await waitFor(async () => (await bucket.list(run)).length === 1, { what: 'the failed run’s outputs in the bucket' });
    expect(await sync.copy(randomUUID())).toBe(0);
  });

  it('does nothing with the local store', async () => {
    const other = new InProcessBus();
    await expect(startOutputsSync({ MYELIN_RUNS_DIR: runs.path }, other)).resolves.toBeNull();
    await other.close();
  });
});
