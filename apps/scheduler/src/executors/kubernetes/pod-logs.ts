import { readFileSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';

/** Fetch a container's log into `sink` (the log API; `follow` keeps it open while the container runs). */
export type LogFetch = (
  pod: string,
  container: string,
  sink: Writable,
  options: { follow: boolean; sinceTime?: string },
) => Promise<{ abort(): void }>;

/** RFC3339(Nano) timestamps compared exactly (the API trims trailing zeros of the fraction). */
export function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return ts;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`;
}

interface PodLog {
  container: string;
  file: string;
  prefix: string;
  lastKey: string;
  lastTs: string;
  active?: { abort(): void; done: Promise<void> };
  finished: boolean;
}

/**
 * Copies pods' logs (with timestamps, so a reconnection resumes after the last line written
 * instead of repeating it) into the run's local log file, which the scheduler's log shipper
 * reads exactly as it reads a local process's output.
 */
export class PodLogs {
  private readonly pods = new Map<string, PodLog>();
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly fetch: LogFetch) {}

  has(pod: string): boolean {
    return this.pods.has(pod);
  }

  /** Follow a pod's log from where this process left it (a no-op when already following). */
  follow(pod: string, container: string, file: string, prefix: string): void {
    let entry = this.pods.get(pod);
    if (!entry) {
      // Where an earlier scheduler process stopped copying this pod (it restarted meanwhile).
      const lastTs = readPosition(positionFile(file, pod));
      entry = { container, file, prefix, lastKey: lastTs ? timestampKey(lastTs) : '', lastTs, finished: false };
      this.pods.set(pod, entry);
    }
    if (entry.active || entry.finished) return;
    entry.active = this.stream(pod, entry, true);
  }

  private stream(pod: string, entry: PodLog, follow: boolean): { abort(): void; done: Promise<void> } {
    let handle: { abort(): void } | undefined;
    let aborted = false;
    let pending = '';
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const write = (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      this.append(pod, entry, lines);
    };
    const sink = new Writable({
      write: (chunk: Buffer, _enc, callback) => {
        write(chunk.toString('utf8'));
        callback();
      },
      final: (callback) => {
        if (pending) this.append(pod, entry, [pending]);
        pending = '';
        callback();
      },
    });
    sink.on('finish', () => resolveDone());
    sink.on('error', () => resolveDone());
    this.fetch(pod, entry.container, sink, { follow, ...(entry.lastTs ? { sinceTime: entry.lastTs.replace(/\.\d+Z$/, 'Z') } : {}) }).then(
      (h) => {
        handle = h;
        if (aborted) h.abort();
      },
      () => resolveDone(),
    );
    const result = {
      abort: () => {
        aborted = true;
        handle?.abort();
        resolveDone();
      },
      done: done.then(async () => {
        await this.writes.get(entry.file);
        if (entry.active === result) entry.active = undefined;
      }),
    };
    return result;
  }

  private append(pod: string, entry: PodLog, lines: string[]): void {
    const out: string[] = [];
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      const space = line.indexOf(' ');
      const ts = space > 0 ? line.slice(0, space) : line;
      const key = timestampKey(ts);
      if (!/^\d{4}-/.test(key)) {
        out.push(entry.prefix + line); // no timestamp (should not happen with timestamps=true)
        continue;
      }
      if (entry.lastKey && key <= entry.lastKey) continue; // already written before a reconnection
      entry.lastKey = key;
      entry.lastTs = ts;
      out.push(entry.prefix + (space > 0 ? line.slice(space + 1) : ''));
    }
    if (!out.length) return;
    const position = entry.lastTs; // of these lines, not of whatever is appended later
    const previous = this.writes.get(entry.file) ?? Promise.resolve();
    const next = previous.then(async () => {
      await mkdir(dirname(entry.file), { recursive: true });
      await appendFile(entry.file, out.map((l) => `${l}\n`).join(''));
      await writeFile(positionFile(entry.file, pod), position);
    });
    this.writes.set(entry.file, next.catch(() => undefined));
  }

  /**
   * Everything the pod wrote is in the file: wait for the follow stream to end (the container
   * ended), and when it does not end in time (a dropped connection) fetch the rest once.
   */
  async collect(pod: string, waitMs: number): Promise<void> {
    const entry = this.pods.get(pod);
    if (!entry || entry.finished) return;
    if (entry.active) {
      const ended = await Promise.race([entry.active.done.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), waitMs).unref())]);
      if (!ended) entry.active?.abort();
    }
    const once = this.stream(pod, entry, false);
    await Promise.race([once.done, new Promise<void>((r) => setTimeout(r, Math.max(waitMs, 2000)).unref())]);
    once.abort();
    await this.writes.get(entry.file);
    entry.finished = true;
  }

  /** The follow stream of a still running pod ended early (connection dropped): start again after the last line. */
  restartIfIdle(pod: string): void {
    const entry = this.pods.get(pod);
    if (entry && !entry.active && !entry.finished) entry.active = this.stream(pod, entry, true);
  }

  forget(pod: string): void {
    this.pods.get(pod)?.active?.abort();
    this.pods.delete(pod);
  }

  async close(): Promise<void> {
    for (const entry of this.pods.values()) entry.active?.abort();
    await Promise.all([...this.writes.values()]);
  }
}

/** `logs/.<pod>.position`: the timestamp of the last line copied from the pod. */
function positionFile(logFile: string, pod: string): string {
  return join(dirname(logFile), `.${basename(pod)}.position`);
}

function readPosition(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
