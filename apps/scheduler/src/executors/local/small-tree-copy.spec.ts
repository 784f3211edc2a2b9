import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createTempDir, TempDir } from '@myelin/testing';
import { copySmallTreeSync } from './small-tree-copy';

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) {
        out.push(`${relative(dir, join(d, e.name))}/`);
        await walk(join(d, e.name));
      } else out.push(relative(dir, join(d, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

describe('copySmallTreeSync', () => {
  let home: TempDir;
  beforeEach(async () => {
    home = await createTempDir('myelin-small-tree');
  });
  afterEach(() => home.remove());

  const source = async (): Promise<string> => {
    const src = join(home.path, 'src');
    await mkdir(join(src, 'pkg', 'empty'), { recursive: true });
    await mkdir(join(src, '.git'), { recursive: true });
    await writeFile(join(src, 'train.py'), 'print(1)\n');
    await writeFile(join(src, 'pkg', 'model.py'), 'class M: ...\n');
    await writeFile(join(src, '.git', 'HEAD'), 'ref\n');
    await symlink(join(src, 'train.py'), join(src, 'link.py'));
    return src;
  };

  it('copies files and directories (empty ones too), without the skipped entries and symbolic links', async () => {
    const src = await source();
    const to = join(home.path, 'to');
    expect(copySmallTreeSync(src, to, { maxEntries: 32, maxBytes: 1024, skip: (_path, name) => name === '.git' })).toBe('copied');
    expect(await tree(to)).toEqual(['pkg/', 'pkg/empty/', 'pkg/model.py', 'train.py']);
    expect(await readFile(join(to, 'pkg', 'model.py'), 'utf8')).toBe('class M: ...\n');
  });

  it('writes nothing when the tree has more entries or bytes than allowed', async () => {
    const src = await source();
    // Entries looked at: train.py, pkg, pkg/empty, pkg/model.py, .git, link.py (order is the directory's).
    expect(copySmallTreeSync(src, join(home.path, 'few'), { maxEntries: 3, maxBytes: 1024 })).toBe('too-big');
    expect(existsSync(join(home.path, 'few'))).toBe(false);
    // 9 + 13 bytes of regular files (.git skipped): 21 is too few.
    const skipGit = (_path: string, name: string) => name === '.git';
    expect(copySmallTreeSync(src, join(home.path, 'small'), { maxEntries: 32, maxBytes: 21, skip: skipGit })).toBe('too-big');
    expect(existsSync(join(home.path, 'small'))).toBe(false);
    expect(copySmallTreeSync(src, join(home.path, 'exact'), { maxEntries: 32, maxBytes: 22, skip: skipGit })).toBe('copied');
  });

  it('says when the source cannot be read, and writes nothing', async () => {
    expect(copySmallTreeSync(join(home.path, 'nowhere'), join(home.path, 'to'), { maxEntries: 32, maxBytes: 1024 })).toBe('missing');
    expect(existsSync(join(home.path, 'to'))).toBe(false);
  });
});
