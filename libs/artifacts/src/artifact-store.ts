import type { Readable } from 'node:stream';

/** One file or folder of a run's outputs; `path` is relative to the outputs' root, `/`-separated. */
export interface ArtifactEntry {
  path: string;
  type: 'file' | 'dir';
  /** Bytes of a file; for a folder, the bytes of every file under it. */
  size: number;
  /** ISO-8601 time of the last change (a folder: its own time locally, its newest file in a bucket). */
  modified: string;
}

export interface ArtifactFile {
  stream: Readable;
  size: number;
}

/**
 * The outputs of runs, keyed by (run uuid, relative path). Every method takes paths as the
 * client sent them and refuses unsafe ones with ArtifactPathError; everything is streamed, no
 * method holds a whole file in memory.
 */
export interface ArtifactStore {
  /** `local` or `s3`. */
  readonly kind: 'local' | 's3';
  /** Where the outputs live, for logs and docs (`/home/.../runs`, `s3://bucket/prefix`). */
  readonly location: string;
  /** Every entry under `prefix` (a folder; '' = the root), recursively, sorted by path. A missing root is empty; a missing folder is ArtifactNotFoundError. */
  list(runUuid: string, prefix?: string): Promise<ArtifactEntry[]>;
  /** One file as a stream and its size; ArtifactNotFoundError when it is not a file. */
  read(runUuid: string, path: string): Promise<ArtifactFile>;
  /** Store the stream's bytes at `path` (replacing a file there), streamed; resolves with the size written. */
  write(runUuid: string, path: string, body: Readable): Promise<{ path: string; size: number }>;
  /** Remove every output of the run (idempotent). */
  deleteRun(runUuid: string): Promise<void>;
  /** A gzipped tar of the folder `prefix` ('' = everything), streamed; entry names are relative to the outputs' root. */
  tarGz(runUuid: string, prefix?: string): Promise<Readable>;
}

export enum ArtifactErrorCode {
  InvalidPath = 'invalid_path',
  NotFound = 'not_found',
}

/** A refused or missing path: transports map InvalidPath to 400 and NotFound to 404. */
export class ArtifactError extends Error {
  constructor(
    readonly code: ArtifactErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactError';
  }
}

export const invalidPath = (reason: string) => new ArtifactError(ArtifactErrorCode.InvalidPath, reason);
export const notFound = (what: string) => new ArtifactError(ArtifactErrorCode.NotFound, what);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PATH = 1024;

/** A run uuid, refused unless it is one (it becomes a folder name or a key prefix). */
export function checkRunUuid(runUuid: string): string {
  if (!UUID.test(runUuid)) throw invalidPath(`"${runUuid}" is not a run uuid`);
  return runUuid.toLowerCase();
}

/**
 * A client's relative path in canonical form (`a/b/c`, '' for the root): `.` and empty segments
 * dropped, backslashes refused. Refuses absolute paths, `..`, NUL and over-long paths with the
 * reason. Symlinks are the local store's business (only it has them).
 */
export function normalizeArtifactPath(raw: string | undefined, { allowRoot }: { allowRoot: boolean }): string {
  const path = raw ?? '';
  if (path.includes('\0')) throw invalidPath('path must not contain NUL characters');
  if (path.length > MAX_PATH) throw invalidPath(`path must be at most ${MAX_PATH} characters`);
  if (path.includes('\\')) throw invalidPath('path must use "/" as separator (no backslashes)');
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) throw invalidPath(`path must be relative to the outputs folder, got "${path}"`);
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw invalidPath(`path must not contain "..", got "${path}"`);
  const normalized = segments.join('/');
  if (!normalized && !allowRoot) throw invalidPath('path must name a file');
  return normalized;
}
