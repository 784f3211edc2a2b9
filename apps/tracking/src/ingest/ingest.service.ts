import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { MetricsSummarized, RunFactsLogged } from '@myelin/contracts';
import { enqueueOutbox, GroupCommitter, LogLineInput, MetricPointInput, OutboxRelay, ParamConflict, TrackingRepository } from '@myelin/persistence';
import { LOG_NOTIFIER, TRACKING_ENV } from '../tokens';
import { TrackingEnv } from '../config/env';
import type { LogNotifier } from '../logs/log-notifier';

/** Points per group transaction (a single larger batch still goes alone). */
const GROUP_POINTS = 20_000;

interface MetricBatch {
  runUuid: string;
  batchId: string;
  points: MetricPointInput[];
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
  /**
   * Batches that arrive while others are being written wait and go together in the next
   * transaction (group commit); a few transactions in flight, so PostgreSQL works on one while
   * the next group forms.
   */
  private readonly groups: GroupCommitter<MetricBatch, boolean>;

  constructor(
    private readonly tracking: TrackingRepository,
    private readonly relay: OutboxRelay,
    @Inject(LOG_NOTIFIER) private readonly notifier: LogNotifier,
    @Inject(TRACKING_ENV) private readonly env: TrackingEnv,
  ) {
    this.groups = new GroupCommitter((batches) => this.tracking.appendMetricBatches(batches), {
      writers: this.env.MYELIN_TRACKING_INGEST_WRITERS ?? 3,
      sizeOf: (batch) => batch.points.length,
      maxGroupSize: GROUP_POINTS,
    });
  }

  /** False for a batch already stored (a retry). */
  metrics(runUuid: string, batchId: string, points: MetricPointInput[]): Promise<boolean> {
    return this.groups.submit({ runUuid, batchId, points });
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
    // The end of a run's logs with no last lines (most runs): only the end marker, itself idempotent.
    if (final && !lines.length) {
      await this.endLogs(runUuid);
      return true;
    }
    const stored = await this.tracking.appendLogs(runUuid, batchId, lines, final);
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
