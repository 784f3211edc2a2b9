import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';

/**
 * What counts as a run's code: a code directory minus VCS, dependency and cache folders and
 * Myelin's own state. The local executor's snapshot skips the same names, so the reference below
 * names exactly what a run gets.
 */
export const CODE_TREE_SKIPPED: ReadonlySet<string> = new Set(['.git', 'node_modules', '__pycache__', '.myelin', '.venv', 'venv', '.mypy_cache', '.pytest_cache']);
/** A file bigger than this is not code (a dataset, a checkpoint): the snapshot leaves it out. */
export const CODE_TREE_MAX_FILE_BYTES = 50 * 1024 * 1024;
/** A directory with more files or bytes than these is not a code directory (someone pointed -f at their home). */
export const CODE_TREE_MAX_FILES = 20_000;
export const CODE_TREE_MAX_BYTES = 500 * 1024 * 1024;

export interface CodeTreeOptions {
  /** A directory inside the code directory that is not code (Myelin's runs directory, when it lives there). */
  exclude?: string;
  /** Give up (no reference) past this many files or bytes: the directory is not a code directory. */
  maxFiles?: number;
  maxBytes?: number;
}

/**
 * The content reference of a code directory, `tree:<20 hex>`: a SHA-256 over each file's relative
 * path and content, in path order. Two directories with the same files have the same reference
 * whatever their commits, mtimes or location, and any change to a file the run would get changes
 * it; a pipeline's cache keys use it as the code's version. Null when the directory is too big to
 * be code (the executor refuses it anyway) or cannot be read.
 */
export async function codeTreeRef(dir: string, options: CodeTreeOptions = {}): Promise<string | null> {
  const root = resolve(dir);
  const exclude = options.exclude ? resolve(options.exclude) : null;
  const maxFiles = options.maxFiles ?? CODE_TREE_MAX_FILES;
  const maxBytes = options.maxBytes ?? CODE_TREE_MAX_BYTES;
  const files: string[] = [];
  let bytes = 0;
  const walk = async (at: string): Promise<boolean> => {
    const entries = await readdir(at, { withFileTypes: true });
    for (const entry of entries) {
      const path = join(at, entry.name);
      if (CODE_TREE_SKIPPED.has(entry.name) || (exclude && (path === exclude || exclude.startsWith(path + sep)))) continue;
      if (entry.isDirectory()) {
        if (!(await walk(path))) return false;
      } else if (entry.isFile()) {
        const size = (await stat(path)).size;
        if (size > CODE_TREE_MAX_FILE_BYTES) continue;
        files.push(path);
        bytes += size;
        if (files.length > maxFiles || bytes > maxBytes) return false;
      }
    }
    return true;
  };
  try {
    if (!(await walk(root))) return null;
    const named = files.map((path) => ({ path, name: relative(root, path).split(sep).join('/') }));
    // Code unit order, not locale order: the same on every machine.
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const tree = createHash('sha256');
    for (const file of named) tree.update(`${file.name}\0${await fileDigest(file.path)}\n`);
    return `tree:${tree.digest('hex').slice(0, 20)}`;
  } catch {
    return null;
  }
}

function fileDigest(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}
