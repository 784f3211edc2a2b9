import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { GroupStatusChanged, PipelineStop, RunCreated, RunStatusChanged, ScheduleControl } from '@myelin/contracts';
import { ScheduleService } from '../schedules/schedule.service';
import { PipelineRunnerService } from './pipeline-runner.service';

@Controller()
export class PipelinesRpcController {
  constructor(
    private readonly runner: PipelineRunnerService,
    private readonly schedules: ScheduleService,
  ) {}

  @EventPattern(RunCreated.PATTERN, { topics: ['pipeline'] }) // only pipelines are created here
  created(@Payload() event: RunCreated.Payload): Promise<void> {
    return this.runner.runCreated(event);
  }

  // Only the final statuses of its own children (and of runs whose parent the sender does not say):
  // the bus does not deliver the other events of every run here.
  @EventPattern(RunStatusChanged.PATTERN, { topics: RunStatusChanged.finalChildrenOf('pipeline') })
  status(@Payload() event: RunStatusChanged.Payload): Promise<void> {
    return this.runner.runStatusChanged(event);
  }

  @EventPattern(GroupStatusChanged.PATTERN)
  group(@Payload() event: GroupStatusChanged.Payload): Promise<void> {
    return this.runner.groupStatusChanged(event);
  }

  @MessagePattern(PipelineStop.PATTERN)
  stop(@Payload() command: PipelineStop.Payload): Promise<void> {
    return this.runner.stop(command.pipelineUuid, command.reason);
  }

  @MessagePattern(ScheduleControl.PATTERN)
  schedule(@Payload() request: ScheduleControl.Payload): Promise<ScheduleControl.Reply> {
    return this.schedules.control(request);
  }
}
