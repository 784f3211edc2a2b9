import { copyFileSync, Dirent, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The most a tree copied in one go on the event loop may hold. Copying that much on a local disk
 * takes well under 2 ms of the thread; the same copy through libuv's thread pool is a trip per
 * step, and each trip waits for the event loop's turn, which on a busy platform (the embedded
 * one runs its database on that thread) costs milliseconds per trip before the job can start.
 */
export const SMALL_TREE = { maxEntries: 32, maxBytes: 1024 * 1024 } as const;

export interface SmallTreeOptions {
  maxEntries: number;
  maxBytes: number;
  /** Entries left out (with what is under them). */
  skip?: (path: string, name: string) => boolean;
}

/**
 * Copy the regular files and directories of `from` into `to` (made if needed) synchronously, when
 * the tree is small: at most `maxEntries` directory entries looked at and `maxBytes` of files.
 * `too-big`: the tree is larger, nothing was written (the caller copies it asynchronously).
 * `missing`: `from` cannot be read. Symbolic links and special files are left out, as by the
 * asynchronous snapshot. An error past the listing (a file gone meanwhile) is thrown.
 */
export function copySmallTreeSync(from: string, to: string, options: SmallTreeOptions): 'copied' | 'too-big' | 'missing' {
  const dirs: string[] = [to];
  const files: Array<[string, string]> = [];
  let entries = 0;
  let bytes = 0;
  const list = (src: string, dest: string, children: Dirent[]): boolean => {
    for (const entry of children) {
      if (++entries > options.maxEntries) return false;
      const path = join(src, entry.name);
      if (options.skip?.(path, entry.name)) continue;
      const target = join(dest, entry.name);
      if (entry.isDirectory()) {
        dirs.push(target);
        if (!list(path, target, readdirSync(path, { withFileTypes: true }))) return false;
      } else if (entry.isFile()) {
        bytes += statSync(path).size;
        if (bytes > options.maxBytes) return false;
        files.push([path, target]);
      }
    }
    return true;
  };
  let top: Dirent[];
  try {
    top = readdirSync(from, { withFileTypes: true });
  } catch {
    return 'missing';
  }
  if (!list(from, to, top)) return 'too-big';
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  for (const [src, dest] of files) copyFileSync(src, dest);
  return 'copied';
}
