import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { RunDeleted, RunStart, RunStop } from '@myelin/contracts';
import { SchedulerService } from './scheduler.service';

@Controller()
export class SchedulerRpcController {
  constructor(private readonly scheduler: SchedulerService) {}

  @MessagePattern(RunStart.PATTERN)
  async start(@Payload() command: RunStart.Payload): Promise<void> {
    await this.scheduler.start(command);
  }

  @EventPattern(RunDeleted.PATTERN)
  async deleted(@Payload() event: RunDeleted.Payload): Promise<void> {
    await this.scheduler.deleted(event);
  }

  @MessagePattern(RunStop.PATTERN)
  async stop(@Payload() command: RunStop.Payload): Promise<void> {
    await this.scheduler.stop(command);
  }
}
