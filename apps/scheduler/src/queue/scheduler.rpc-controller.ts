import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RunStart, RunStop } from '@myelin/contracts';
import { SchedulerService } from './scheduler.service';

@Controller()
export class SchedulerRpcController {
  constructor(private readonly scheduler: SchedulerService) {}

  @MessagePattern(RunStart.PATTERN)
  async start(@Payload() command: RunStart.Payload): Promise<void> {
    await this.scheduler.start(command);
  }

  @MessagePattern(RunStop.PATTERN)
  async stop(@Payload() command: RunStop.Payload): Promise<void> {
    await this.scheduler.stop(command);
  }
}
