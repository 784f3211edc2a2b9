import type { LogStream } from '@myelin/contracts';
import type { LogLineInput, MetricPointInput } from '@myelin/persistence';

/** A field of an ingest body is wrong: 400 naming the field (`points[12].value`) and why. */
export class IngestBodyError extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** The batch has more entries than the limit: 413 saying the limit (clients split and resend). */
export class BatchTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
    what: string,
  ) {
    super(`batch of ${size} ${what} exceeds the limit of ${limit} per request; split it into smaller batches`);
  }
}

const BATCH_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY };

function batchIdOf(body: Record<string, unknown>): string {
  const id = body['batchId'];
  if (typeof id !== 'string' || !BATCH_ID.test(id)) throw new IngestBodyError('batchId', 'must be 1-64 characters of letters, digits, _ . : -');
  return id;
}

function timestampOf(value: unknown, field: string, fallback: Date): Date {
  if (value === undefined || value === null) return fallback;
  // Seconds since the epoch (what Python's time.time() gives) or an ISO-8601 string.
  const at = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : null;
  if (!at || Number.isNaN(at.getTime())) throw new IngestBodyError(field, 'must be an ISO-8601 string or seconds since the epoch');
  return at;
}

function entriesOf(body: unknown, key: string, limit: number, what: string): { body: Record<string, unknown>; list: unknown[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new IngestBodyError('body', 'must be a JSON object');
  const b = body as Record<string, unknown>;
  const list = b[key];
  if (!Array.isArray(list)) throw new IngestBodyError(key, 'must be an array');
  if (list.length > limit) throw new BatchTooLargeError(list.length, limit, what);
  return { body: b, list };
}

/**
 * Validates a metrics batch by hand: class-validator over thousands of nested objects per
 * request would cost more than storing them (the ingest path is measured against raw COPY).
 */
export function parseMetricsBatch(raw: unknown, limit: number, now = new Date()): { batchId: string; points: MetricPointInput[] } {
  const { body, list } = entriesOf(raw, 'points', limit, 'points');
  const batchId = batchIdOf(body);
  const points: MetricPointInput[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i] as Record<string, unknown>;
    if (typeof p !== 'object' || p === null) throw new IngestBodyError(`points[${i}]`, 'must be an object');
    const name = p['name'];
    if (typeof name !== 'string' || !name.length || name.length > 250) throw new IngestBodyError(`points[${i}].name`, 'must be a string of 1-250 characters');
    let value = p['value'];
    if (typeof value === 'string' && value in NON_FINITE) value = NON_FINITE[value];
    if (typeof value !== 'number') throw new IngestBodyError(`points[${i}].value`, 'must be a number (or "NaN", "Infinity", "-Infinity")');
    const step = p['step'];
    if (step !== undefined && step !== null && !(typeof step === 'number' && Number.isSafeInteger(step) && step >= 0)) {
      throw new IngestBodyError(`points[${i}].step`, 'must be an integer >= 0');
    }
    const point: MetricPointInput = { name, value, at: timestampOf(p['timestamp'], `points[${i}].timestamp`, now) };
    if (typeof step === 'number') point.step = step;
    points[i] = point;
  }
  return { batchId, points };
}

export function parseLogsBatch(raw: unknown, limit: number, now = new Date()): { batchId: string; lines: LogLineInput[] } {
  const { body, list } = entriesOf(raw, 'lines', limit, 'lines');
  const batchId = batchIdOf(body);
  const lines: LogLineInput[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const l = list[i] as Record<string, unknown>;
    if (typeof l !== 'object' || l === null) throw new IngestBodyError(`lines[${i}]`, 'must be an object');
    const line = l['line'];
    if (typeof line !== 'string' || line.length > 100_000) throw new IngestBodyError(`lines[${i}].line`, 'must be a string of at most 100,000 characters');
    const stream = l['stream'] ?? 'stdout';
    if (stream !== 'stdout' && stream !== 'stderr') throw new IngestBodyError(`lines[${i}].stream`, 'must be "stdout" or "stderr"');
    lines[i] = { line, stream: stream as LogStream, at: timestampOf(l['timestamp'], `lines[${i}].timestamp`, now) };
  }
  return { batchId, lines };
}
