import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ExecutionEntity } from '@myelin/persistence';
import { createTempDir, TempDir } from '@myelin/testing';
import { LocalProcessExecutor } from './local-process.executor';

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

/** The code directory a run starts in: a copy of the user's, without VCS, dependency and Myelin folders. */
describe('local executor: code snapshot', () => {
  let home: TempDir;
  let executor: LocalProcessExecutor;

  /** An executor on the test's runs directory (a new one is a restarted scheduler: nothing in memory). */
  const newExecutor = () => new LocalProcessExecutor({ runsDir: join(home.path, 'code', 'runs'), publicUrl: 'http://127.0.0.1:1', baseEnv: {} });

  beforeEach(async () => {
    home = await createTempDir('myelin-snapshot');
    executor = newExecutor();
  });

  afterEach(async () => {
    executor.close();
    await home.remove();
  });

  /** Launch and wait for the job (`true`) to end: removing the folder under a running job races its last writes. */
  const launch = async (run: ExecutionEntity): Promise<void> => {
    await executor.launch(run);
    const exitFile = join(home.path, 'code', 'runs', run.runUuid, '.myelin', 'exit_code');
    for (let i = 0; i < 250; i++) {
      if (await readFile(exitFile, 'utf8').catch(() => null)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the job did not end');
  };

  /** The author's code directory as submitted: train.py says v1 (edits after that must not reach the run). */
  const projectAtV1 = async (): Promise<string> => {
    const code = join(home.path, 'project');
    await mkdir(code, { recursive: true });
    await writeFile(join(code, 'train.py'), 'v1\n');
    return code;
  };

  const execution = (codeDir: string | null, parentUuid: string | null = null): ExecutionEntity =>
    ({ runUuid: randomUUID(), project: 'alice/vision', number: 1, kind: 'job', cmd: 'true', params: {}, spec: {}, codeDir, parentUuid, outputsOf: null, copyOutputsFrom: null, attempt: 0 }) as unknown as ExecutionEntity;
  const codeOf = (run: ExecutionEntity) => readFile(join(home.path, 'code', 'runs', run.runUuid, 'code', 'train.py'), 'utf8');

  it('copies nested files and skips .git, node_modules and the runs directory inside the code', async () => {
    const code = join(home.path, 'code');
    await mkdir(join(code, 'src', 'models'), { recursive: true });
    await mkdir(join(code, '.git'), { recursive: true });
    await mkdir(join(code, 'node_modules', 'left-pad'), { recursive: true });
    await writeFile(join(code, 'polyaxonfile.yml'), 'version: 1\n');
    await writeFile(join(code, 'src', 'train.py'), 'print(1)\n');
    for (let i = 0; i < 40; i++) await writeFile(join(code, 'src', 'models', `m${i}.py`), `# ${i}\n`); // more than one batch of 32
    await writeFile(join(code, '.git', 'HEAD'), 'ref\n');
    await writeFile(join(code, 'node_modules', 'left-pad', 'index.js'), '\n');
    const run = execution(code);
    await launch(run);
    const copied = await tree(join(home.path, 'code', 'runs', run.runUuid, 'code'));
    expect(copied).toEqual(['polyaxonfile.yml', 'src/train.py', ...Array.from({ length: 40 }, (_, i) => `src/models/m${i}.py`).sort()].sort());
    expect(await readFile(join(home.path, 'code', 'runs', run.runUuid, 'code', 'src', 'models', 'm7.py'), 'utf8')).toBe('# 7\n');
  });

  it('copies a small code directory in one go with the same rules: .git, node_modules and the runs directory left out', async () => {
    const code = join(home.path, 'code');
    await mkdir(join(code, 'src'), { recursive: true });
    await mkdir(join(code, '.git'), { recursive: true });
    await mkdir(join(code, 'node_modules', 'left-pad'), { recursive: true });
    await writeFile(join(code, 'polyaxonfile.yml'), 'version: 1\n');
    await writeFile(join(code, 'src', 'train.py'), 'print(1)\n');
    await writeFile(join(code, '.git', 'HEAD'), 'ref\n');
    await writeFile(join(code, 'node_modules', 'left-pad', 'index.js'), '\n');
    const first = execution(code);
    await launch(first);
    expect(await tree(join(home.path, 'code', 'runs', first.runUuid, 'code'))).toEqual(['polyaxonfile.yml', 'src/train.py']);
    const second = execution(code); // the runs directory inside the code holds the first run's files now: not code
    await launch(second);
    expect(await tree(join(home.path, 'code', 'runs', second.runUuid, 'code'))).toEqual(['polyaxonfile.yml', 'src/train.py']);
  });

  it('starts with an empty code directory when the code is not on this host', async () => {
    const run = execution(join(home.path, 'elsewhere'));
    await launch(run);
    expect(await tree(join(home.path, 'code', 'runs', run.runUuid, 'code'))).toEqual([]);
  });

  it('snapshots the code when the run is queued (prepare), so edits made while it waits do not reach it', async () => {
    const code = await projectAtV1();
    const run = execution(code);
    executor.prepare(run);
    await new Promise((r) => setTimeout(r, 200)); // the run waits in the queue; meanwhile its author edits the code
    await writeFile(join(code, 'train.py'), 'v2\n');
    await launch(run);
    expect(await readFile(join(home.path, 'code', 'runs', run.runUuid, 'code', 'train.py'), 'utf8')).toBe('v1\n');
  });

  it('keeps the code taken at queue time for a retried attempt', async () => {
    const code = await projectAtV1();
    const run = execution(code);
    executor.prepare(run);
    await launch(run);
    await writeFile(join(code, 'train.py'), 'v2\n'); // edited after the first attempt failed
    const codeOf = join(home.path, 'code', 'runs', run.runUuid, 'code', 'train.py');
    await rm(join(home.path, 'code', 'runs', run.runUuid, '.myelin', 'exit_code'));
    await launch({ ...run, attempt: 1 } as ExecutionEntity);
    expect(await readFile(codeOf, 'utf8')).toBe('v1\n');
  });

  it('keeps the code taken at queue time when a restarted scheduler launches the run', async () => {
    const code = await projectAtV1();
    const run = execution(code);
    executor.prepare(run);
    const marker = join(home.path, 'code', 'runs', run.runUuid, '.myelin', 'code-snapshot');
    for (let i = 0; i < 100 && !(await readFile(marker, 'utf8').catch(() => null)); i++) await new Promise((r) => setTimeout(r, 20));
    // The scheduler restarts while the run waits (its preparations in memory are gone); the author edits the code meanwhile.
    executor.close();
    executor = newExecutor();
    await writeFile(join(code, 'train.py'), 'v2\n');
    await launch(run);
    expect(await readFile(join(home.path, 'code', 'runs', run.runUuid, 'code', 'train.py'), 'utf8')).toBe('v1\n');
  });

  it("runs a pipeline's ops and a group's trials on their parent's code, taken once: edits made meanwhile reach neither later children nor a restarted scheduler's", async () => {
    const code = await projectAtV1();
    const pipeline = randomUUID();
    const first = execution(code, pipeline);
    await launch(first);
    await writeFile(join(code, 'train.py'), 'v2\n'); // edited while the pipeline runs
    const second = execution(code, pipeline);
    await launch(second);
    expect(await codeOf(first)).toBe('v1\n');
    expect(await codeOf(second)).toBe('v1\n');
    // Another parent, and a run of its own, take the code as it is now.
    const otherParent = execution(code, randomUUID());
    const alone = execution(code);
    await Promise.all([launch(otherParent), launch(alone)]);
    expect(await codeOf(otherParent)).toBe('v2\n');
    expect(await codeOf(alone)).toBe('v2\n');
    // The parent's snapshot is on disk, not only in memory.
    executor.close();
    executor = newExecutor();
    const third = execution(code, pipeline);
    await launch(third);
    expect(await codeOf(third)).toBe('v1\n');
  });

  it("runs the trials of a search that is a pipeline's op on the pipeline's code", async () => {
    const code = await projectAtV1();
    const pipeline = randomUUID();
    await launch(execution(code, pipeline)); // an op before the search took the pipeline's code
    await writeFile(join(code, 'train.py'), 'v2\n');
    const trial = { ...execution(code, randomUUID()), codeOf: pipeline } as ExecutionEntity;
    executor.prepare(trial);
    await launch(trial);
    expect(await codeOf(trial)).toBe('v1\n');
  });

  it('takes one snapshot for children prepared at once', async () => {
    const code = await projectAtV1();
    const group = randomUUID();
    const trials = Array.from({ length: 8 }, () => execution(code, group));
    for (const t of trials) executor.prepare(t);
    await Promise.all(trials.map((t) => launch(t)));
    for (const t of trials) expect(await codeOf(t)).toBe('v1\n');
    // Nothing left half-made beside the snapshot.
    expect((await readdir(join(home.path, 'code', 'runs', group))).sort()).toEqual(['.myelin', 'code']);
  });

  it("drops a parent's snapshot with the last child that took it, after the TTL; a child prepared later takes the code anew", async () => {
    const code = await projectAtV1();
    const group = randomUUID();
    const parentCode = join(home.path, 'code', 'runs', group, 'code');
    const early = execution(code, group);
    await launch(early);
    const endedEarly = new Date(Date.now() - 1);
    await new Promise((r) => setTimeout(r, 20));
    const late = execution(code, group);
    await launch(late);
    // The first trial's directory goes after the TTL, but a sibling took the snapshot after it ended: kept.
    await executor.cleanWorkdir({ runUuid: early.runUuid, workdir: null, parentUuid: group, finishedAt: endedEarly });
    expect(await readdir(parentCode)).toEqual(['train.py']);
    // The last one that took it goes: the snapshot goes too.
    await executor.cleanWorkdir({ runUuid: late.runUuid, workdir: null, parentUuid: group, finishedAt: new Date() });
    expect(await readdir(parentCode).catch(() => 'gone')).toBe('gone');
    await writeFile(join(code, 'train.py'), 'v2\n');
    const after = execution(code, group);
    await launch(after);
    expect(await codeOf(after)).toBe('v2\n');
  });

  it("takes the parent's code anew when the snapshot it knew was removed behind its back (another scheduler's clean-up)", async () => {
    const code = await projectAtV1();
    const group = randomUUID();
    await launch(execution(code, group));
    await rm(join(home.path, 'code', 'runs', group), { recursive: true });
    await writeFile(join(code, 'train.py'), 'v2\n');
    const later = execution(code, group);
    await launch(later);
    expect(await codeOf(later)).toBe('v2\n');
  });

  it("makes a fresh run without code whole at its start (in the spawner's helper), and a copy run's outputs from the original as it is at launch", async () => {
    const runs = join(home.path, 'code', 'runs');
    const fresh = execution(null);
    executor.prepare(fresh);
    await new Promise((r) => setTimeout(r, 100));
    // Nothing to snapshot: no file work on the platform's event loop while it waits.
    expect(await readdir(join(runs, fresh.runUuid)).catch(() => 'none')).toBe('none');
    await launch(fresh);
    expect((await readdir(join(runs, fresh.runUuid))).sort()).toEqual(['.myelin', 'code', 'logs', 'outputs']);
    expect(await readdir(join(runs, fresh.runUuid, 'outputs'))).toEqual([]);
    expect(await readFile(join(runs, fresh.runUuid, '.myelin', 'cmd.sh'), 'utf8')).toBe(`${fresh.cmd}\n`);

    const original = execution(null);
    await launch(original);
    await writeFile(join(runs, original.runUuid, 'outputs', 'model.txt'), 'epoch 1\n');
    const copy = { ...execution(null), copyOutputsFrom: original.runUuid } as ExecutionEntity;
    executor.prepare(copy);
    await new Promise((r) => setTimeout(r, 100));
    expect(await readdir(join(runs, copy.runUuid, 'outputs')).catch(() => 'none')).toBe('none'); // not copied while queued
    await writeFile(join(runs, original.runUuid, 'outputs', 'model.txt'), 'epoch 2\n');
    await launch(copy);
    expect(await readFile(join(runs, copy.runUuid, 'outputs', 'model.txt'), 'utf8')).toBe('epoch 2\n');
  });

  it("does not let a retried attempt's launch find the previous attempt's exit code", async () => {
    const run = execution(null);
    executor.prepare(run);
    await launch(run);
    const exitFile = join(home.path, 'code', 'runs', run.runUuid, '.myelin', 'exit_code');
    expect(await readFile(exitFile, 'utf8')).toBe('0');
    const retry = { ...run, attempt: 1, cmd: 'sleep 0.3; exit 3' } as ExecutionEntity;
    await executor.launch(retry);
    expect(await readFile(exitFile, 'utf8').catch(() => '')).toBe(''); // removed before the new attempt ran
    for (let i = 0; i < 100 && (await readFile(exitFile, 'utf8').catch(() => '')) === ''; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await readFile(exitFile, 'utf8')).toBe('3');
  });

  describe('prepared in the background (a run queued behind others)', () => {
    /** Prepare with `waits`, and wait for its snapshot marker (the preparation is done). */
    const prepareWaiting = async (run: ExecutionEntity): Promise<void> => {
      executor.prepare(run, { waits: true });
      const marker = join(home.path, 'code', 'runs', run.runUuid, '.myelin', 'code-snapshot');
      const script = join(home.path, 'code', 'runs', run.runUuid, '.myelin', 'cmd.sh');
      for (let i = 0; i < 250; i++) {
        if (await readFile(run.codeDir ? marker : script, 'utf8').catch(() => null)) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('the preparation did not end');
    };

    it('gives the directory a run prepared in place gets: the code with the same rules, its outputs, taken at queue time', async () => {
      const code = join(home.path, 'code');
      await mkdir(join(code, 'src'), { recursive: true });
      await mkdir(join(code, '.git'), { recursive: true });
      await writeFile(join(code, 'polyaxonfile.yml'), 'version: 1\n');
      await writeFile(join(code, 'src', 'train.py'), 'v1\n');
      await writeFile(join(code, '.git', 'HEAD'), 'ref\n');
      const inPlace = execution(code);
      executor.prepare(inPlace);
      await launch(inPlace); // its files are in the runs directory inside the code now: not code
      const waiting = execution(code);
      await prepareWaiting(waiting);
      await writeFile(join(code, 'src', 'train.py'), 'v2\n'); // edited while it waits
      await launch(waiting);
      const runs = join(home.path, 'code', 'runs');
      expect(await tree(join(runs, waiting.runUuid, 'code'))).toEqual(['polyaxonfile.yml', 'src/train.py']);
      expect(await tree(join(runs, waiting.runUuid, 'code'))).toEqual(await tree(join(runs, inPlace.runUuid, 'code')));
      expect(await readFile(join(runs, waiting.runUuid, 'code', 'src', 'train.py'), 'utf8')).toBe('v1\n');
      expect(await readdir(join(runs, waiting.runUuid, 'outputs'))).toEqual([]);
      expect(await readFile(join(runs, waiting.runUuid, '.myelin', 'exit_code'), 'utf8')).toBe('0');
    });

    it("takes a parent's code once for its children, and starts with an empty code directory when the code is not on this host", async () => {
      const code = await projectAtV1();
      const group = randomUUID();
      const trials = Array.from({ length: 4 }, () => execution(code, group));
      await Promise.all(trials.map((t) => prepareWaiting(t)));
      await writeFile(join(code, 'train.py'), 'v2\n');
      await Promise.all(trials.map((t) => launch(t)));
      for (const t of trials) expect(await codeOf(t)).toBe('v1\n');
      const elsewhere = execution(join(home.path, 'elsewhere'));
      await prepareWaiting(elsewhere);
      await launch(elsewhere);
      expect(await tree(join(home.path, 'code', 'runs', elsewhere.runUuid, 'code'))).toEqual([]);
    });
  });

  it('reports a preparation that failed while the run was queued when it is launched', async () => {
    await writeFile(join(home.path, 'not-a-dir'), '');
    const broken = new LocalProcessExecutor({ runsDir: join(home.path, 'not-a-dir', 'runs'), publicUrl: 'http://127.0.0.1:1', baseEnv: {} });
    try {
      const run = execution(null);
      broken.prepare(run);
      await expect(broken.launch(run)).rejects.toThrow(/ENOTDIR|not a directory/);
    } finally {
      broken.close();
    }
  });
});
