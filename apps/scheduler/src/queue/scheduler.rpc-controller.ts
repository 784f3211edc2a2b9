import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { RunDeleted, RunHeartbeat, RunStart, RunStop } from '@myelin/contracts';
import { SchedulerService } from './scheduler.service';
import { LivenessService } from './liveness.service';

@Controller()
export class SchedulerRpcController {
  constructor(
    private readonly scheduler: SchedulerService,
    private readonly liveness: LivenessService,
  ) {}

  /** A job's tracking client said it is alive (relayed by tracking): recorded with the next supervision pass. */
  @EventPattern(RunHeartbeat.PATTERN)
  heartbeat(@Payload() event: RunHeartbeat.Payload): void {
    this.liveness.clientHeartbeat(event);
  }

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
