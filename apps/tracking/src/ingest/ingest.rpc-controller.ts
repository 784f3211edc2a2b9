import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { LogLinesAppend, MetricsBatch, MetricsSummarized, RunDeleted } from '@myelin/contracts';
import { enqueueOutbox, OutboxRelay, TrackingRepository } from '@myelin/persistence';

/** Log lines and metric points shipped by executors; batch ids make redeliveries harmless. */
@Controller()
export class IngestRpcController {
  constructor(
    private readonly tracking: TrackingRepository,
    private readonly relay: OutboxRelay,
  ) {}

  @MessagePattern(LogLinesAppend.PATTERN)
  async logs(@Payload() batch: LogLinesAppend.Payload): Promise<void> {
    await this.tracking.appendLogs(
      batch.runUuid,
      batch.batchId,
      batch.lines.map((l) => ({ at: new Date(l.at), stream: l.stream, line: l.line })),
    );
    if (batch.final) await this.tracking.markLogsEnded(batch.runUuid);
  }

  /** A deleted run takes its logs and metrics with it. */
  @EventPattern(RunDeleted.PATTERN)
  async deleted(@Payload() event: RunDeleted.Payload): Promise<void> {
    await this.tracking.deleteRun(event.runUuid);
  }

  @MessagePattern(MetricsBatch.PATTERN)
  async metrics(@Payload() batch: MetricsBatch.Payload): Promise<void> {
    const stored = await this.tracking.appendMetrics(
      batch.runUuid,
      batch.batchId,
      batch.points.map((p) => ({ name: p.name, value: p.value, at: new Date(p.at), ...(p.step !== undefined ? { step: p.step } : {}) })),
      // The new summaries are announced in the same transaction (outbox): the API's copy never misses one.
      (manager, summaries) => {
        const finite = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);
        return enqueueOutbox(manager, 'tracking', 'event', MetricsSummarized.PATTERN, {
          runUuid: batch.runUuid,
          metrics: summaries.map((s) => ({ name: s.name, last: finite(s.last), lastStep: s.lastStep, min: finite(s.min), max: finite(s.max), count: s.count })),
        } satisfies MetricsSummarized.Payload);
      },
    );
    if (stored) this.relay.poke();
  }
}
