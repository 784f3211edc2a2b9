import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { ApiError } from './api-error';
import { MyelinClient } from './client';

export interface TrackedPoint {
  name: string;
  value: number | string;
  step?: number;
  /** Seconds since the epoch. */
  timestamp: number;
}

interface PendingBatch {
  batchId: string;
  points: TrackedPoint[];
}

export interface RunTrackerOptions {
  client: MyelinClient;
  runUuid: string;
  /** Milliseconds between background flushes (default 1000). */
  flushIntervalMs?: number;
  /** Points per request (default 10,000; halved on a 413). */
  batchSize?: number;
  /** Points kept in memory while the server is unreachable before spilling to `spillFile` (default 100,000). */
  maxBufferedPoints?: number;
  /** Where points beyond the memory bound wait (default: `<outputs>/.myelin/spill-<pid>.jsonl` or a temp file). */
  spillFile?: string;
  /** Longest pause between retries, in milliseconds (default 30,000). */
  maxBackoffMs?: number;
  /** Told about problems (a dropped batch, a retry); never throws into the training code. */
  onWarning?: (message: string) => void;
  /**
   * Milliseconds between two heartbeats (`POST .../heartbeat`, the first one at once; default
   * 30,000; 0: none). The scheduler fails a run it cannot see as a zombie once it stops beating
   * for MYELIN_ZOMBIE_SECONDS. Stopped by close(), and for good when the server refuses one.
   */
  heartbeatIntervalMs?: number;
}

function jsonValue(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

/** Retrying would never help: a 4xx other than too-large, timeout or rate-limited. */
function permanent(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500 && ![408, 413, 429].includes(error.status);
}

/**
 * Reports a run's metrics from TypeScript with the Python client's guarantees: calls never block
 * or throw because of the server; points are batched (each batch keeps its id across retries, so
 * the server stores it once), flushed in the background, kept while the server is unreachable
 * (in memory up to a bound, then in a spill file) and sent once it is back.
 */
export class RunTracker {
  private readonly pending: PendingBatch[] = [];
  private current: TrackedPoint[] = [];
  private buffered = 0;
  private batchSize: number;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private retryAt = 0;
  private spilled = 0;
  private readonly spillFile: string;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private beating = false;

  constructor(private readonly options: RunTrackerOptions) {
    this.batchSize = options.batchSize ?? 10_000;
    this.spillFile = options.spillFile ?? join(tmpdir(), `myelin-spill-${options.runUuid}-${process.pid}.jsonl`);
    this.timer = setInterval(() => void this.flush().catch(() => undefined), options.flushIntervalMs ?? 1000);
    this.timer.unref();
    const every = options.heartbeatIntervalMs ?? 30_000;
    if (every > 0) {
      this.heartbeatTimer = setInterval(() => void this.heartbeat(), every);
      this.heartbeatTimer.unref();
      void this.heartbeat();
    }
  }

  /** One heartbeat (never two in flight); a refusal stops them, an unreachable server does not. */
  private async heartbeat(): Promise<void> {
    if (this.beating || !this.heartbeatTimer) return;
    this.beating = true;
    try {
      await this.options.client.call('POST', this.path('heartbeat'), {});
    } catch (error) {
      if (permanent(error)) {
        this.stopHeartbeat();
        this.options.onWarning?.(`heartbeats refused, none sent any more: ${(error as Error).message}`);
      }
    } finally {
      this.beating = false;
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Points waiting to be sent (memory and spill file). */
  get backlog(): number {
    return this.buffered + this.current.length + this.spilled;
  }

  logMetrics(metrics: Record<string, number>, step?: number, at = Date.now()): void {
    for (const [name, value] of Object.entries(metrics)) {
      this.current.push({ name, value: jsonValue(value), ...(step !== undefined ? { step } : {}), timestamp: at / 1000 });
      if (this.current.length >= this.batchSize) this.seal();
    }
  }

  /** Params are write-once on the server: a conflict is the caller's error and is thrown. */
  async logParams(params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = await this.options.client.call<{ params: Record<string, unknown> }>('POST', this.path('params'), { params });
    return reply.params;
  }

  async logTags(tags: string[]): Promise<void> {
    await this.options.client.call('POST', this.path('tags'), { tags });
  }

  /** Sends everything buffered now; resolves when the server has it or when sending failed (kept for later). */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.drain().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Flush with a deadline, then stop the background timers (flush, heartbeat). Returns the points still unsent. */
  async close(timeoutMs = 10_000): Promise<number> {
    clearInterval(this.timer);
    this.stopHeartbeat();
    const deadline = Date.now() + timeoutMs;
    this.retryAt = 0;
    while (this.backlog > 0 && Date.now() < deadline) {
      await this.flush();
      if (this.backlog > 0) await new Promise((r) => setTimeout(r, Math.min(this.retryAt - Date.now(), deadline - Date.now(), 1000)));
    }
    return this.backlog;
  }

  private path(what: string): string {
    return `/api/v1/tracking/runs/${this.options.runUuid}/${what}`;
  }

  private seal(): void {
    if (!this.current.length) return;
    const batch = { batchId: randomUUID(), points: this.current };
    this.current = [];
    if (this.buffered + batch.points.length > (this.options.maxBufferedPoints ?? 100_000)) {
      // Beyond the memory bound: the batch waits on disk, with its id, in arrival order.
      mkdirSync(dirname(this.spillFile), { recursive: true });
      appendFileSync(this.spillFile, `${JSON.stringify(batch)}\n`);
      this.spilled += batch.points.length;
      return;
    }
    this.pending.push(batch);
    this.buffered += batch.points.length;
  }

  private async drain(): Promise<void> {
    this.seal();
    if (Date.now() < this.retryAt) return;
    for (;;) {
      if (!this.pending.length) this.loadSpill();
      const batch = this.pending[0];
      if (!batch) return;
      try {
        await this.options.client.call('POST', this.path('metrics'), batch);
        this.pending.shift();
        this.buffered -= batch.points.length;
        this.failures = 0;
      } catch (error) {
        if (error instanceof ApiError && error.status === 413 && batch.points.length > 1) {
          // Too large for this server: split in halves (new ids: neither half was ever stored).
          const half = Math.ceil(batch.points.length / 2);
          this.batchSize = Math.max(1, Math.min(this.batchSize, half));
          this.pending.splice(0, 1, { batchId: randomUUID(), points: batch.points.slice(0, half) }, { batchId: randomUUID(), points: batch.points.slice(half) });
          continue;
        }
        if (permanent(error)) {
          this.options.onWarning?.(`metrics batch of ${batch.points.length} points refused, dropped: ${(error as Error).message}`);
          this.pending.shift();
          this.buffered -= batch.points.length;
          continue;
        }
        this.failures += 1;
        const backoff = Math.min(this.options.maxBackoffMs ?? 30_000, 250 * 2 ** Math.min(this.failures, 10));
        this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
        this.options.onWarning?.(`tracking server unreachable (${(error as Error).message}); ${this.backlog} points kept, retrying`);
        return;
      }
    }
  }

  /** Take the spill file's batches back into memory (the file is renamed first: no batch is read twice). */
  private loadSpill(): void {
    if (!this.spilled || !existsSync(this.spillFile)) return;
    const taken = `${this.spillFile}.${randomUUID()}`;
    renameSync(this.spillFile, taken);
    for (const line of readFileSync(taken, 'utf8').split('\n')) {
      if (!line) continue;
      const batch = JSON.parse(line) as PendingBatch;
      this.pending.push(batch);
      this.buffered += batch.points.length;
      this.spilled -= batch.points.length;
    }
    rmSync(taken, { force: true });
  }
}
