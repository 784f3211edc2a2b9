import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { LogLinesAppend, MetricsBatch, RunDeleted } from '@myelin/contracts';
import { TrackingRepository } from '@myelin/persistence';
import { IngestService } from './ingest.service';

/** Log lines and metric points shipped by executors; batch ids make redeliveries harmless. */
@Controller()
export class IngestRpcController {
  constructor(
    private readonly ingest: IngestService,
    private readonly tracking: TrackingRepository,
  ) {}

  @MessagePattern(LogLinesAppend.PATTERN)
  async logs(@Payload() batch: LogLinesAppend.Payload): Promise<void> {
    await this.ingest.logs(
      batch.runUuid,
      batch.batchId,
      batch.lines.map((l) => ({ at: new Date(l.at), stream: l.stream, line: l.line })),
      batch.final ?? false,
    );
  }

  /** A deleted run takes its logs and metrics with it. */
  @EventPattern(RunDeleted.PATTERN)
  async deleted(@Payload() event: RunDeleted.Payload): Promise<void> {
    await this.tracking.deleteRun(event.runUuid);
  }

  @MessagePattern(MetricsBatch.PATTERN)
  async metrics(@Payload() batch: MetricsBatch.Payload): Promise<void> {
    await this.ingest.metrics(
      batch.runUuid,
      batch.batchId,
      batch.points.map((p) => ({ name: p.name, value: p.value, at: new Date(p.at), ...(p.step !== undefined ? { step: p.step } : {}) })),
    );
  }
}
