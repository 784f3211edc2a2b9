import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeTreeRef } from './code-tree';

// The SDK depends on no other lib of ours (it ships alone), so no @myelin/testing here.
interface TempDir {
  path: string;
  remove(): Promise<void>;
}
const createTempDir = async (label: string): Promise<TempDir> => {
  const path = await mkdtemp(join(tmpdir(), `${label}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
};

describe('codeTreeRef', () => {
  let a: TempDir;
  let b: TempDir;

  beforeEach(async () => {
    a = await createTempDir('code-tree-a');
    b = await createTempDir('code-tree-b');
  });
  afterEach(async () => {
    await a.remove();
    await b.remove();
  });

  const write = async (root: string, files: Record<string, string>) => {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(root, name, '..'), { recursive: true });
      await writeFile(join(root, name), content);
    }
  };

  it('names the same files the same way wherever they are and whenever they were written', async () => {
    await write(a.path, { 'train.py': 'print(1)\n', 'lib/model.py': 'x = 1\n' });
    await write(b.path, { 'lib/model.py': 'x = 1\n', 'train.py': 'print(1)\n' });
    await utimes(join(b.path, 'train.py'), new Date(0), new Date(0));
    const ref = await codeTreeRef(a.path);
    expect(ref).toMatch(/^tree:[0-9a-f]{20}$/);
    expect(await codeTreeRef(b.path)).toBe(ref);
  });

  it('changes with a file content, a file name, an added file or a removed file', async () => {
    await write(a.path, { 'train.py': 'print(1)\n', 'lib/model.py': 'x = 1\n' });
    const refs = new Set([await codeTreeRef(a.path)]);
    await write(a.path, { 'train.py': 'print(2)\n' });
    refs.add(await codeTreeRef(a.path));
    await write(a.path, { 'notes.md': '' });
    refs.add(await codeTreeRef(a.path));
    await rm(join(a.path, 'lib/model.py'));
    await write(a.path, { 'lib/model2.py': 'x = 1\n' });
    refs.add(await codeTreeRef(a.path));
    await rm(join(a.path, 'lib'), { recursive: true });
    refs.add(await codeTreeRef(a.path));
    expect(refs.size).toBe(5);
  });

  it('does not count what a run does not get: VCS and cache folders, the runs directory, oversized files', async () => {
    await write(a.path, { 'train.py': 'print(1)\n' });
    const ref = await codeTreeRef(a.path, { exclude: join(a.path, 'runs') });
    await write(a.path, { '.git/HEAD': 'ref: refs/heads/main\n', '__pycache__/train.pyc': 'bytecode', 'runs/1/log.txt': 'a log' });
    expect(await codeTreeRef(a.path, { exclude: join(a.path, 'runs') })).toBe(ref);
    // The runs directory counts when it is not named as Myelin's.
    expect(await codeTreeRef(a.path)).not.toBe(ref);
  });

  it('gives no reference for a directory too big to be code, or one that cannot be read', async () => {
    await write(a.path, { 'a.py': '1', 'b.py': '2', 'c.py': '3' });
    expect(await codeTreeRef(a.path, { maxFiles: 2 })).toBeNull();
    expect(await codeTreeRef(a.path, { maxBytes: 2 })).toBeNull();
    expect(await codeTreeRef(join(a.path, 'missing'))).toBeNull();
  });
});
