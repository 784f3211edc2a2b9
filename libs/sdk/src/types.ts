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
}
