import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ArtifactEntry,
  ArtifactFile,
  ArtifactStore,
  checkRunUuid,
  invalidPath,
  normalizeArtifactPath,
  notFound,
} from './artifact-store';
import { tarGzStream } from './tar-gz';

/** Temporary names of uploads in progress (hidden from listings; renamed into place when complete). */
const UPLOAD_MARK = '.myelin-upload-';

const isCode = (error: unknown, ...codes: string[]) => codes.includes((error as NodeJS.ErrnoException)?.code ?? '');

/**
 * Outputs in plain folders: `<runsDir>/<runUuid>/outputs/<path>`, the folder the local executor
 * gives a job as MYELIN_OUTPUTS_PATH, so a file a job writes there is an artifact at once.
 *
 * A job controls its outputs folder and may plant symlinks in it: every path is resolved and must
 * stay inside the run's outputs (checked again on the opened file descriptor where /proc exists),
 * a symlinked outputs folder is refused, and listings skip links that leave it.
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;
  private readonly runsDir: () => string;

  constructor(runsDir: string | (() => string)) {
    this.runsDir = typeof runsDir === 'string' ? () => runsDir : runsDir;
  }

  get location(): string {
    return this.runsDir();
  }

  /** The folder of a run's outputs (whether or not it exists). */
  outputsDir(runUuid: string): string {
    return join(this.runsDir(), checkRunUuid(runUuid), 'outputs');
  }

  async list(runUuid: string, prefix = ''): Promise<ArtifactEntry[]> {
    const rel = normalizeArtifactPath(prefix, { allowRoot: true });
    const root = await this.realRoot(runUuid);
    if (!root) {
      if (rel) throw notFound(`no folder "${rel}" in the outputs of run ${runUuid}`);
      return [];
    }
    let start = root;
    if (rel) {
      const real = await this.resolveInside(root, join(this.outputsDir(runUuid), rel), rel);
      if (!real || !(await stat(real)).isDirectory()) throw notFound(`no folder "${rel}" in the outputs of run ${runUuid}`);
      start = real;
    }
    const entries: ArtifactEntry[] = [];
    await this.walk(root, start, rel, entries);
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Collects the entries under `dir` (real path), named from `relDir`; returns the bytes under it. */
  private async walk(root: string, dir: string, relDir: string, out: ArtifactEntry[]): Promise<number> {
    let total = 0;
    for (const d of await readdir(dir, { withFileTypes: true })) {
      if (d.name.includes(UPLOAD_MARK)) continue;
      const rel = relDir ? `${relDir}/${d.name}` : d.name;
      const full = join(dir, d.name);
      if (d.isSymbolicLink()) {
        // Followed only to a file inside the outputs (a folder link could loop).
        const real = await realpath(full).catch(() => null);
        if (!real || !inside(root, real)) continue;
        const st = await stat(real);
        if (!st.isFile()) continue;
        out.push({ path: rel, type: 'file', size: st.size, modified: st.mtime.toISOString() });
        total += st.size;
      } else if (d.isDirectory()) {
        const st = await stat(full);
        const entry: ArtifactEntry = { path: rel, type: 'dir', size: 0, modified: st.mtime.toISOString() };
        out.push(entry);
        entry.size = await this.walk(root, full, rel, out);
        total += entry.size;
      } else if (d.isFile()) {
        const st = await stat(full);
        out.push({ path: rel, type: 'file', size: st.size, modified: st.mtime.toISOString() });
        total += st.size;
      }
    }
    return total;
  }

  async read(runUuid: string, path: string): Promise<ArtifactFile> {
    const rel = normalizeArtifactPath(path, { allowRoot: false });
    const root = await this.realRoot(runUuid);
    const real = root ? await this.resolveInside(root, join(this.outputsDir(runUuid), rel), rel) : null;
    if (!root || !real) throw notFound(`no file "${rel}" in the outputs of run ${runUuid}`);
    const handle = await open(real, 'r');
    try {
      await checkDescriptor(root, handle.fd, rel);
      const st = await handle.stat();
      if (!st.isFile()) throw notFound(`no file "${rel}" in the outputs of run ${runUuid} (it is a folder)`);
      // The size at opening is the size served: a file a job is still appending to stays consistent.
      if (st.size === 0) {
        await handle.close();
        return { stream: Readable.from([]), size: 0 };
      }
      return { stream: handle.createReadStream({ start: 0, end: st.size - 1, autoClose: true }), size: st.size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async write(runUuid: string, path: string, body: Readable): Promise<{ path: string; size: number }> {
    const rel = normalizeArtifactPath(path, { allowRoot: false });
    const outputs = this.outputsDir(runUuid);
    await mkdir(outputs, { recursive: true });
    const root = await this.realRoot(runUuid);
    if (!root) throw notFound(`the outputs of run ${runUuid} are gone`);
    const target = join(outputs, rel);
    const dir = dirname(target);
    // The deepest folder that exists must be inside; what mkdir adds below it is then inside too.
    let existing = dir;
    while (!(await lstat(existing).then(() => true, () => false))) existing = dirname(existing);
    if (!(await this.resolveInside(root, existing, rel))) throw invalidPath(`cannot write "${rel}": a broken symlink stands in the way`);
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      if (isCode(error, 'EEXIST', 'ENOTDIR')) throw invalidPath(`cannot write "${rel}": a file stands where a folder is needed`);
      throw error;
    }
    await this.resolveInside(root, dir, rel);
    if ((await lstat(target).catch(() => null))?.isDirectory()) throw invalidPath(`cannot write "${rel}": it is a folder`);
    // Written under a temporary name, then renamed: readers never see half a file, and a
    // symlink at the target is replaced rather than followed.
    const tmp = join(dir, `.${basename(target)}${UPLOAD_MARK}${randomBytes(6).toString('hex')}`);
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer | string, _enc, done) {
        // Bytes, also for a stream of strings.
        size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, count, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      await rename(tmp, target);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
    return { path: rel, size };
  }

  async deleteRun(runUuid: string): Promise<void> {
    const outputs = this.outputsDir(runUuid);
    await rm(outputs, { recursive: true, force: true });
    // The run's folder goes too when nothing else (logs, code: the scheduler's) is left in it.
    await rmdir(dirname(outputs)).catch(() => undefined);
  }

  async tarGz(runUuid: string, prefix = ''): Promise<Readable> {
    const entries = await this.list(runUuid, prefix);
    return tarGzStream(entries, (p) => this.read(runUuid, p));
  }

  /** The real path of the run's outputs folder; null when it does not exist. A symlink there is refused. */
  private async realRoot(runUuid: string): Promise<string | null> {
    const outputs = this.outputsDir(runUuid);
    const st = await lstat(outputs).catch((error: unknown) => {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    });
    if (!st) return null;
    if (st.isSymbolicLink() || !st.isDirectory()) throw invalidPath(`the outputs folder of run ${runUuid} is not a plain folder`);
    return realpath(outputs);
  }

  /** The real path of `full`, which must stay inside `root`; null when it does not exist. */
  private async resolveInside(root: string, full: string, rel: string): Promise<string | null> {
    const real = await realpath(full).catch((error: unknown) => {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return null;
      throw error;
    });
    if (real && !inside(root, real)) throw invalidPath(`path "${rel}" leads outside the run's outputs (through a symlink)`);
    return real;
  }
}

function inside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/** Where /proc exists, the opened descriptor's real path must be inside too (a link swapped after the check). */
async function checkDescriptor(root: string, fd: number, rel: string): Promise<void> {
  const real = await readlink(`/proc/self/fd/${fd}`).catch(() => null);
  if (real !== null && !inside(root, real)) throw invalidPath(`path "${rel}" leads outside the run's outputs (through a symlink)`);
}
