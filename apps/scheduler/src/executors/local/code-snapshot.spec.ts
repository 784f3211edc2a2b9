import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
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

  beforeEach(async () => {
    home = await createTempDir('myelin-snapshot');
    executor = new LocalProcessExecutor({ runsDir: join(home.path, 'code', 'runs'), publicUrl: 'http://127.0.0.1:1', baseEnv: {} });
  });

  afterEach(async () => {
    executor.close();
    await home.remove();
  });

  const execution = (codeDir: string | null): ExecutionEntity =>
    ({ runUuid: randomUUID(), project: 'alice/vision', number: 1, kind: 'job', cmd: 'true', params: {}, spec: {}, codeDir, outputsOf: null, copyOutputsFrom: null, attempt: 0 }) as unknown as ExecutionEntity;

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
    await executor.launch(run);
    const copied = await tree(join(home.path, 'code', 'runs', run.runUuid, 'code'));
    expect(copied).toEqual(['polyaxonfile.yml', 'src/train.py', ...Array.from({ length: 40 }, (_, i) => `src/models/m${i}.py`).sort()].sort());
    expect(await readFile(join(home.path, 'code', 'runs', run.runUuid, 'code', 'src', 'models', 'm7.py'), 'utf8')).toBe('# 7\n');
  });

  it('starts with an empty code directory when the code is not on this host', async () => {
    const run = execution(join(home.path, 'elsewhere'));
    await executor.launch(run);
    expect(await tree(join(home.path, 'code', 'runs', run.runUuid, 'code'))).toEqual([]);
  });
});
