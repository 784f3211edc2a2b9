import type { RunView } from '@myelin/contracts';

/** A run as the API returns it. */
export type Run = RunView;

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface Condition {
  status: string;
  reason: string;
  message: string;
  at: string;
}

export interface LogLine {
  id: number;
  at: string;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

/** Non-finite values arrive as the strings "NaN", "Infinity", "-Infinity". */
export interface MetricPoint {
  step: number | null;
  value: number | string;
  timestamp: string;
}

export interface CreateRunRequest {
  files: Array<{ path: string; content: string }>;
  params?: Record<string, string>;
  name?: string;
  description?: string;
  tags?: string[];
  codeDir?: string;
  /** The code's version (`codeTreeRef` of the code directory, or a commit): part of pipeline ops' cache keys. */
  codeRef?: string;
  /** Pipelines: run every op even when an earlier run of it could be reused (`cache: true`). */
  noCache?: boolean;
  /** Pipelines: the files of ops whose template is a path in the project code. */
  templateFiles?: Array<{ path: string; content: string }>;
  /** Queue priority, -1000..1000 (higher starts first); above 0 only for superusers. */
  priority?: number;
}

export interface MetricSummary {
  name: string;
  last: number | string | null;
  lastStep: number | null;
  min: number | string | null;
  max: number | string | null;
  count: number;
}

export interface RunMetadata {
  params: Record<string, unknown>;
  codeRef: { commit: string; branch?: string; dirty?: boolean; remote?: string } | null;
  environment: Record<string, unknown> | null;
  dataRefs: Array<{ name: string; hash: string; path?: string }>;
}

/** One file or folder of a run's outputs (`GET .../outputs/tree`); `path` is relative to the outputs' root. */
export interface OutputEntry {
  path: string;
  type: 'file' | 'dir';
  /** Bytes of a file; for a folder, of every file under it. */
  size: number;
  modified: string;
}

/** A streamed download: the bytes as they arrive, and their count when the server announced it. */
export interface OutputDownload {
  body: AsyncIterable<Uint8Array>;
  size: number | null;
}
