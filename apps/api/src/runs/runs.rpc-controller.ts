import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { RunStatusChanged } from '@myelin/contracts';
import { RunsService } from './runs.service';

@Controller()
export class RunsRpcController {
  constructor(private readonly service: RunsService) {}

  @EventPattern(RunStatusChanged.PATTERN)
  async statusChanged(@Payload() event: RunStatusChanged.Payload): Promise<void> {
    await this.service.applyStatus(event);
  }
}
