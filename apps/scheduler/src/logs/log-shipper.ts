import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { LogLinesAppend, LogStream, MetricsBatch, parseMetricLine } from '@myelin/contracts';
import type { MessageBus } from '@myelin/bus';
import { enqueueOutboxMany } from '@myelin/persistence';
import type { DataSource } from 'typeorm';

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

/**
 * Read complete lines from `offset`; at the end of a finished run, a trailing partial line counts too.
 *
 * In place, not through the thread pool: a run's log files are local and a read is at most CHUNK
 * (well under a millisecond from the page cache). Through the pool, each of stat, open, read and
 * close waited its turn of the event loop, and while the API takes a flood of submissions a turn
 * lasts 20-100 ms: the ends of 32 runs took 1.5-2 s to record, their slots idle meanwhile (decision 0015).
 */
function readLines(path: string, offset: number, final: boolean): ReadLines {
  // Most passes find nothing new: one stat instead of open, read and close, and a buffer no larger
  // than what is new (a 1 MB buffer per file per pass was most of the shipper's cost).
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size <= offset) return { lines: [], nextOffset: offset };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { lines: [], nextOffset: offset };
  }
  try {
    const length = Math.min(CHUNK, size - offset);
    const buffer = Buffer.allocUnsafe(length);
    const bytesRead = readSync(fd, buffer, 0, length, offset);
    if (!bytesRead) return { lines: [], nextOffset: offset };
    const data = buffer.subarray(0, bytesRead);
    // The run ended and this is the rest of the file (as far as the stat saw; what comes after is read next time).
    const atEnd = final && bytesRead < CHUNK;
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
    closeSync(fd);
  }
}

/** A message for tracking (log lines, metric points, the end of a run's logs). */
export interface LogMessage {
  pattern: string;
  payload: LogLinesAppend.Payload | MetricsBatch.Payload;
}

/** Where the shipper hands its messages; resolved once they are durable (they are then delivered even if the broker is down now). */
export type LogTransport = (messages: LogMessage[]) => Promise<void>;

/**
 * The scheduler's transport: the messages go to its outbox in one transaction, and the relay
 * publishes them (in order) once the broker takes them. Supervision never waits on the broker:
 * before, a shipped batch went straight over the bus from inside the supervision pass, so a
 * broker outage held up settling, timeouts and stops for as long as it lasted.
 */
export function outboxTransport(dataSource: DataSource, schema = 'scheduler'): LogTransport {
  return (messages) =>
    dataSource.transaction((manager) => enqueueOutboxMany(manager, schema, messages.map((m) => ({ kind: 'command' as const, ...m }))));
}

/** Straight over the bus (tests, tools). */
export function busTransport(bus: MessageBus): LogTransport {
  return async (messages) => {
    for (const m of messages) await bus.send(m.pattern, m.payload);
  };
}

/** Messages handed over at once (one transaction); a burst larger than this goes in several. */
const MESSAGES_PER_HANDOVER = 50;

/**
 * Ships a run's output to tracking: log lines as they appear, and `myelin:metric` lines as
 * metric points too. Batch ids derive from file offsets, so after a crash the same bytes are
 * sent with the same ids and tracking stores them once. Offsets advance only after the
 * transport took the batches: nothing is dropped.
 */
export class LogShipper {
  constructor(private readonly transport: LogTransport) {}

  async ship(
    runUuid: string,
    files: { stdout: string; stderr: string },
    offsets: ShipResult,
    final: boolean,
  ): Promise<ShipResult> {
    const prepared = await this.prepare(runUuid, files, offsets, final);
    await this.handOver(prepared.messages);
    return prepared.offsets;
  }

  /**
   * Read what is new and turn it into messages, without handing over the last of them (at most
   * MESSAGES_PER_HANDOVER; a larger backlog is handed over as it is read): the caller queues those
   * in its own transaction, with the offsets they advance and the status they end with, or hands
   * them over itself (`handOver`). Until then nothing was skipped: the offsets are the caller's to store.
   */
  async prepare(
    runUuid: string,
    files: { stdout: string; stderr: string },
    offsets: ShipResult,
    final: boolean,
  ): Promise<{ offsets: ShipResult; messages: LogMessage[] }> {
    const next = { ...offsets };
    const pending: LogMessage[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const key = stream === 'stdout' ? 'stdoutOffset' : 'stderrOffset';
      // Loop until the file is drained (a burst may exceed one chunk).
      for (;;) {
        const start = next[key];
        const read = readLines(files[stream], start, final);
        if (read.nextOffset === start) break;
        pending.push(...this.messagesFor(runUuid, stream, start, read.lines));
        if (pending.length >= MESSAGES_PER_HANDOVER) await this.transport(pending.splice(0));
        next[key] = read.nextOffset;
      }
    }
    if (final) {
      pending.push({
        pattern: LogLinesAppend.PATTERN,
        payload: { runUuid, batchId: `eof:${next.stdoutOffset}:${next.stderrOffset}`, lines: [], final: true } satisfies LogLinesAppend.Payload,
      });
    }
    return { offsets: next, messages: pending };
  }

  async handOver(messages: LogMessage[]): Promise<void> {
    if (messages.length) await this.transport(messages);
  }

  /** A line from the platform itself (why a run could not start, for instance). */
  async shipSystemLine(runUuid: string, line: string, batchId: string): Promise<void> {
    await this.transport([
      {
        pattern: LogLinesAppend.PATTERN,
        payload: { runUuid, batchId: `system:${batchId}`, lines: [{ at: new Date().toISOString(), stream: 'system', line }] } satisfies LogLinesAppend.Payload,
      },
    ]);
  }

  private messagesFor(runUuid: string, stream: LogStream, startOffset: number, lines: string[]): LogMessage[] {
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
    const messages: LogMessage[] = [];
    // A read is at most CHUNK (1 MiB), so a batch is too (it waits in the outbox until relayed).
    for (let i = 0; i < logLines.length; i += MAX_LINES_PER_BATCH) {
      messages.push({
        pattern: LogLinesAppend.PATTERN,
        payload: { runUuid, batchId: `${stream}:${startOffset}:${i}`, lines: logLines.slice(i, i + MAX_LINES_PER_BATCH) } satisfies LogLinesAppend.Payload,
      });
    }
    for (let i = 0; i < points.length; i += MetricsBatch.MAX_POINTS) {
      messages.push({
        pattern: MetricsBatch.PATTERN,
        payload: { runUuid, batchId: `${stream}:${startOffset}:${i}`, points: points.slice(i, i + MetricsBatch.MAX_POINTS) } satisfies MetricsBatch.Payload,
      });
    }
    return messages;
  }
}
