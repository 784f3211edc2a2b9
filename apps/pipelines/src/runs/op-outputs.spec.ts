import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileOpOutputsReader } from './op-outputs';

describe('FileOpOutputsReader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'op-outputs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (run: string, text: string) => {
    await mkdir(join(dir, run, 'outputs'), { recursive: true });
    await writeFile(join(dir, run, 'outputs', 'outputs.json'), text);
  };

  it('reads the JSON object an op wrote to $MYELIN_OUTPUTS_PATH/outputs.json', async () => {
    await write('a', '{"rows": 500, "model": "s3://m", "ok": true}');
    await expect(new FileOpOutputsReader(dir).read('a')).resolves.toEqual({ outputs: { rows: 500, model: 's3://m', ok: true } });
  });

  it('gives no outputs when the file is missing, and says what is wrong with a bad one', async () => {
    const reader = new FileOpOutputsReader(dir);
    await expect(reader.read('missing')).resolves.toEqual({ outputs: {} });
    await write('list', '[1, 2]');
    await expect(reader.read('list')).resolves.toEqual({ outputs: {}, problem: 'outputs.json is not a JSON object' });
    await write('huge', `{"pad": "${'x'.repeat(1024 * 1024)}"}`);
    await expect(reader.read('huge')).resolves.toEqual({ outputs: {}, problem: 'outputs.json is larger than 1048576 bytes' });
    await write('broken', '{"rows": ');
    const broken = await reader.read('broken');
    expect(broken.outputs).toEqual({});
    expect(broken.problem).toMatch(/^outputs.json is not valid JSON/);
  });

  it('asks elsewhere only for a run whose directory is not on this host, and passes a failure on', async () => {
    const asked: string[] = [];
    const reader = new FileOpOutputsReader(dir, async (run) => {
      asked.push(run);
      if (run === 'remote-bad') return { outputs: null, problem: 'outputs.json is not a JSON object' };
      if (run === 'remote-down') throw new Error('request timed out');
      return run === 'remote-none' ? { outputs: null } : { outputs: { seed: 42 } };
    });
    await mkdir(join(dir, 'here-without-file'), { recursive: true });
    // The run's directory is here: it is the answer, with or without a file.
    await expect(reader.read('here-without-file')).resolves.toEqual({ outputs: {} });
    await write('here', '{"rows": 1}');
    await expect(reader.read('here')).resolves.toEqual({ outputs: { rows: 1 } });
    expect(asked).toEqual([]);
    // Not here: another host's run, read through the service that serves its outputs.
    await expect(reader.read('remote')).resolves.toEqual({ outputs: { seed: 42 } });
    await expect(reader.read('remote-none')).resolves.toEqual({ outputs: {}, absentElsewhere: true });
    await expect(reader.read('remote-bad')).resolves.toEqual({ outputs: {}, problem: 'outputs.json is not a JSON object' });
    // Unreachable is not "no outputs": the caller's status event is delivered again.
    await expect(reader.read('remote-down')).rejects.toThrow('request timed out');
    expect(asked).toEqual(['remote', 'remote-none', 'remote-bad', 'remote-down']);
  });

  it("names the code of a pipeline's next op: its snapshot once taken (final), the code directory before", async () => {
    const reader = new FileOpOutputsReader(join(dir, 'runs'));
    const code = join(dir, 'project');
    await mkdir(code, { recursive: true });
    await writeFile(join(code, 'train.py'), 'v1\n');
    const before = await reader.codeRef('p1', code);
    expect(before).toEqual({ ref: expect.stringMatching(/^tree:[0-9a-f]{20}$/), pinned: false });
    // The executor took the pipeline's snapshot (v1); the author then edits the directory.
    await mkdir(join(dir, 'runs', 'p1', 'code'), { recursive: true });
    await mkdir(join(dir, 'runs', 'p1', '.myelin'), { recursive: true });
    await writeFile(join(dir, 'runs', 'p1', 'code', 'train.py'), 'v1\n');
    await writeFile(join(dir, 'runs', 'p1', '.myelin', 'code-snapshot'), `${code}\n`);
    await writeFile(join(code, 'train.py'), 'v2\n');
    await expect(reader.codeRef('p1', code)).resolves.toEqual({ ref: before.ref, pinned: true });
    // Another pipeline, not yet snapshotted, sees the directory as it is now.
    const other = await reader.codeRef('p2', code);
    expect(other.pinned).toBe(false);
    expect(other.ref).not.toBe(before.ref);
  });
});
