import { open } from 'node:fs/promises';
import { LogLinesAppend, LogStream, MetricsBatch, parseMetricLine } from '@myelin/contracts';
import type { MessageBus } from '@myelin/bus';

/** Longest line shipped as one record; longer lines are split (a binary dump must not stall a run). */
const MAX_LINE = 16 * 1024;
/** Bytes read per file per pass. */
const CHUNK = 1024 * 1024;
const MAX_LINES_PER_BATCH = 1000;

export interface ShipResult {
  stdoutOffset: number;
  stderrOffset: number;
}

interface ReadLines {
  lines: string[];
  /** Offset just after the last complete line consumed. */
  nextOffset: number;
}

/** Read complete lines from `offset`; at the end of a finished run, a trailing partial line counts too. */
async function readLines(path: string, offset: number, final: boolean): Promise<ReadLines> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { lines: [], nextOffset: offset };
  }
  try {
    const buffer = Buffer.alloc(CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, offset);
    if (!bytesRead) return { lines: [], nextOffset: offset };
    const data = buffer.subarray(0, bytesRead);
    const atEnd = final && bytesRead < CHUNK; // the run ended and this is the rest of the file
    let end = data.lastIndexOf(0x0a) + 1; // just after the last newline
    if (atEnd) end = data.length; // a last line without newline still counts
    else if (end === 0 && data.length >= MAX_LINE) end = MAX_LINE; // one endless line: ship a piece
    if (end === 0) return { lines: [], nextOffset: offset };
    const text = data.subarray(0, end).toString('utf8');
    const lines: string[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.length <= MAX_LINE) lines.push(line);
      else for (let i = 0; i < line.length; i += MAX_LINE) lines.push(line.slice(i, i + MAX_LINE));
    }
    if (text.endsWith('\n')) lines.pop(); // the split's empty tail
    return { lines, nextOffset: offset + end };
  } finally {
    await handle.close();
  }
}

/**
 * Ships a run's output to tracking: log lines as they appear, and `myelin:metric` lines as
 * metric points too. Batch ids derive from file offsets, so after a crash the same bytes are
 * sent with the same ids and tracking stores them once. Offsets advance only after the bus
 * accepted the batches: nothing is dropped.
 */
export class LogShipper {
  constructor(private readonly bus: MessageBus) {}

  async ship(
    runUuid: string,
    files: { stdout: string; stderr: string },
    offsets: ShipResult,
    final: boolean,
  ): Promise<ShipResult> {
    const next = { ...offsets };
    for (const stream of ['stdout', 'stderr'] as const) {
      const key = stream === 'stdout' ? 'stdoutOffset' : 'stderrOffset';
      // Loop until the file is drained (a burst may exceed one chunk).
      for (;;) {
        const start = next[key];
        const read = await readLines(files[stream], start, final);
        if (read.nextOffset === start) break;
        await this.sendLines(runUuid, stream, start, read.lines);
        next[key] = read.nextOffset;
      }
    }
    if (final) {
      await this.bus.send(LogLinesAppend.PATTERN, {
        runUuid,
        batchId: `eof:${next.stdoutOffset}:${next.stderrOffset}`,
        lines: [],
        final: true,
      } satisfies LogLinesAppend.Payload);
    }
    return next;
  }

  /** A line from the platform itself (why a run could not start, for instance). */
  async shipSystemLine(runUuid: string, line: string, batchId: string): Promise<void> {
    await this.bus.send(LogLinesAppend.PATTERN, {
      runUuid,
      batchId: `system:${batchId}`,
      lines: [{ at: new Date().toISOString(), stream: 'system', line }],
    } satisfies LogLinesAppend.Payload);
  }

  private async sendLines(runUuid: string, stream: LogStream, startOffset: number, lines: string[]): Promise<void> {
    const at = new Date().toISOString();
    const logLines: LogLinesAppend.Line[] = [];
    const points: MetricsBatch.Point[] = [];
    for (const line of lines) {
      logLines.push({ at, stream, line });
      if (stream !== 'stdout') continue;
      const parsed = parseMetricLine(line);
      if (parsed.kind === 'metrics') {
        for (const v of parsed.metrics.values) {
          points.push({ name: v.name, value: v.value, at, ...(parsed.metrics.step !== undefined ? { step: parsed.metrics.step } : {}) });
        }
      } else if (parsed.kind === 'invalid') {
        logLines.push({ at, stream: 'system', line: `myelin: ignored malformed metric report (${parsed.reason})` });
      }
    }
    for (let i = 0; i < logLines.length; i += MAX_LINES_PER_BATCH) {
      await this.bus.send(LogLinesAppend.PATTERN, {
        runUuid,
        batchId: `${stream}:${startOffset}:${i}`,
        lines: logLines.slice(i, i + MAX_LINES_PER_BATCH),
      } satisfies LogLinesAppend.Payload);
    }
    for (let i = 0; i < points.length; i += MetricsBatch.MAX_POINTS) {
      await this.bus.send(MetricsBatch.PATTERN, {
        runUuid,
        batchId: `${stream}:${startOffset}:${i}`,
        points: points.slice(i, i + MetricsBatch.MAX_POINTS),
      } satisfies MetricsBatch.Payload);
    }
  }
}
