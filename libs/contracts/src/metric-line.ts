import { METRIC_NAME_FORMAT } from './messages/tracking/metrics-batch/metrics-batch.message';

/**
 * The zero-dependency way for a job to report metrics: print
 *   myelin:metric step=3 loss=0.25 acc=0.91
 * to stdout. `step` is optional; any number of metrics may share a line.
 * The prefix must start the line (after optional whitespace) so that ordinary
 * output mentioning it is not mistaken for a report.
 */
export const METRIC_LINE_PREFIX = 'myelin:metric';

export interface ParsedMetricLine {
  step?: number;
  values: Array<{ name: string; value: number }>;
}

export type MetricLineResult =
  | { kind: 'none' }
  | { kind: 'metrics'; metrics: ParsedMetricLine }
  | { kind: 'invalid'; reason: string };

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|infinity)$|^nan$/i;

function toNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

export function parseMetricLine(line: string): MetricLineResult {
  const trimmed = line.trim();
  if (!trimmed.startsWith(METRIC_LINE_PREFIX)) return { kind: 'none' };
  const rest = trimmed.slice(METRIC_LINE_PREFIX.length);
  if (rest.length && !/^\s/.test(rest)) return { kind: 'none' }; // e.g. "myelin:metrics-foo"
  const tokens = rest.trim().split(/\s+/).filter(Boolean);
  const result: ParsedMetricLine = { values: [] };
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq <= 0) return { kind: 'invalid', reason: `expected name=value, got "${token}"` };
    const name = token.slice(0, eq);
    const raw = token.slice(eq + 1);
    const value = toNumber(raw);
    if (value === undefined) return { kind: 'invalid', reason: `${name}: "${raw}" is not a number` };
    if (name === 'step') {
      if (!Number.isInteger(value) || value < 0) {
        return { kind: 'invalid', reason: `step must be a non-negative integer, got "${raw}"` };
      }
      result.step = value;
      continue;
    }
    if (!METRIC_NAME_FORMAT.test(name)) return { kind: 'invalid', reason: `"${name}" is not a valid metric name` };
    result.values.push({ name, value });
  }
  if (!result.values.length) return { kind: 'invalid', reason: 'no metric on the line' };
  return { kind: 'metrics', metrics: result };
}
