import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { MetricsSummarized, RunFactsLogged } from '@myelin/contracts';
import { enqueueOutbox, LogLineInput, MetricPointInput, OutboxRelay, ParamConflict, TrackingRepository } from '@myelin/persistence';
import { LOG_NOTIFIER, TRACKING_ENV } from '../tokens';
import { TrackingEnv } from '../config/env';
import type { LogNotifier } from '../logs/log-notifier';

/** Points per group transaction (a single larger batch still goes alone). */
const GROUP_POINTS = 20_000;

interface PendingBatch {
  runUuid: string;
  batchId: string;
  points: MetricPointInput[];
  resolve(stored: boolean): void;
  reject(error: unknown): void;
}

function finite(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

function show(value: unknown): string {
  return JSON.stringify(value);
}

/** Everything that stores what a run reports, whether it came over the bus or over HTTP. */
@Injectable()
export class IngestService {
  constructor(
    private readonly tracking: TrackingRepository,
    private readonly relay: OutboxRelay,
    @Inject(LOG_NOTIFIER) private readonly notifier: LogNotifier,
    @Inject(TRACKING_ENV) private readonly env: TrackingEnv,
  ) {}

  private readonly pending: PendingBatch[] = [];
  private writers = 0;

  /**
   * False for a batch already stored (a retry). Batches that arrive while others are being
   * written wait and go together in the next transaction (group commit): under load the cost
   * of statements and commits is shared; alone, a batch is written at once.
   */
  metrics(runUuid: string, batchId: string, points: MetricPointInput[]): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ runUuid, batchId, points, resolve, reject });
      this.write();
    });
  }

  private write(): void {
    // A few transactions in flight: PostgreSQL works on one while the next group forms.
    while (this.writers < (this.env.MYELIN_TRACKING_INGEST_WRITERS ?? 3) && this.pending.length) {
      const group: PendingBatch[] = [];
      let size = 0;
      while (this.pending.length && (group.length === 0 || size + this.pending[0].points.length <= GROUP_POINTS)) {
        const next = this.pending.shift() as PendingBatch;
        group.push(next);
        size += next.points.length;
      }
      this.writers += 1;
      void this.writeGroup(group).finally(() => {
        this.writers -= 1;
        this.write();
      });
    }
  }

  private async writeGroup(group: PendingBatch[]): Promise<void> {
    try {
      const stored = await this.tracking.appendMetricBatches(group);
      group.forEach((b, i) => b.resolve(stored[i]));
    } catch (error) {
      if (group.length === 1) return group[0].reject(error);
      // One bad batch must not fail the others: each is tried alone.
      for (const b of group) {
        await this.tracking.appendMetricBatches([b]).then(([stored]) => b.resolve(stored), b.reject);
      }
    }
  }

  /**
   * Announce the summaries of runs that got points since the last call, one event per run: the
   * marks and the outbox rows change in one transaction, so the API's copy never misses one.
   */
  async announceSummaries(): Promise<number> {
    const count = await this.tracking.takePendingSummaries(500, (manager, runUuid, summaries) =>
      enqueueOutbox(manager, 'tracking', 'event', MetricsSummarized.PATTERN, {
        runUuid,
        metrics: summaries.map((s) => ({ name: s.name, last: finite(s.last), lastStep: s.lastStep, min: finite(s.min), max: finite(s.max), count: s.count })),
      } satisfies MetricsSummarized.Payload),
    );
    if (count) this.relay.poke();
    return count;
  }

  async logs(runUuid: string, batchId: string, lines: LogLineInput[], final = false): Promise<boolean> {
    const stored = await this.tracking.appendLogs(runUuid, batchId, lines);
    if (final) await this.tracking.markLogsEnded(runUuid);
    if (stored || final) this.notifier.notify(runUuid);
    return stored;
  }

  async endLogs(runUuid: string): Promise<void> {
    await this.tracking.markLogsEnded(runUuid);
    this.notifier.notify(runUuid);
  }

  /** Write-once params: 409 naming each key with the stored and the refused value. */
  async params(runUuid: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const result = await this.tracking.logParams(runUuid, params, (manager, added) =>
      enqueueOutbox(manager, 'tracking', 'event', RunFactsLogged.PATTERN, { runUuid, params: added } satisfies RunFactsLogged.Payload),
    );
    if (result.conflicts.length) {
      throw new ConflictException({
        code: 'conflict',
        message: `params are write-once: ${result.conflicts.map((c: ParamConflict) => `\`${c.key}\` is already ${show(c.stored)}, refusing ${show(c.attempted)}`).join('; ')}`,
        details: result.conflicts,
      });
    }
    this.relay.poke();
    return { ...result.params, ...params };
  }

  async tags(runUuid: string, tags: string[]): Promise<void> {
    await this.tracking.transaction((manager) =>
      enqueueOutbox(manager, 'tracking', 'event', RunFactsLogged.PATTERN, { runUuid, tags } satisfies RunFactsLogged.Payload),
    );
    this.relay.poke();
  }
}
