import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { MetricsSummarized, RunStatusChanged, RunStopRequest } from '@myelin/contracts';
import { RunsRepository } from '@myelin/persistence';
import { RunsService } from './runs.service';

@Controller()
export class RunsRpcController {
  constructor(
    private readonly service: RunsService,
    private readonly runs: RunsRepository,
  ) {}

  @EventPattern(RunStatusChanged.PATTERN)
  async statusChanged(@Payload() event: RunStatusChanged.Payload): Promise<void> {
    await this.service.applyStatus(event);
  }

  @EventPattern(MetricsSummarized.PATTERN)
  async metricsSummarized(@Payload() event: MetricsSummarized.Payload): Promise<void> {
    await this.runs.upsertMetricSummaries(event.runUuid, event.metrics);
  }

  @MessagePattern(RunStopRequest.PATTERN)
  async stopRequested(@Payload() command: RunStopRequest.Payload): Promise<void> {
    await this.service.stopRequested(command.runUuid, command.reason ?? 'stop requested');
  }
}
