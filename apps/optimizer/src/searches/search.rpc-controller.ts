import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { GroupStop, MetricsSummarized, RunCreated, RunStatusChanged } from '@myelin/contracts';
import { SearchService } from './search.service';

@Controller()
export class SearchRpcController {
  constructor(private readonly search: SearchService) {}

  @EventPattern(RunCreated.PATTERN, { topics: ['group'] }) // only groups are created here
  created(@Payload() event: RunCreated.Payload): Promise<void> {
    return this.search.groupCreated(event);
  }

  // Only the final statuses of its own children (and of runs whose parent the sender does not say):
  // the bus does not deliver the other events of every run here.
  @EventPattern(RunStatusChanged.PATTERN, { topics: RunStatusChanged.finalChildrenOf('group') })
  status(@Payload() event: RunStatusChanged.Payload): Promise<void> {
    return this.search.runStatusChanged(event);
  }

  @EventPattern(MetricsSummarized.PATTERN)
  metrics(@Payload() event: MetricsSummarized.Payload): Promise<void> {
    return this.search.metricsSummarized(event);
  }

  @MessagePattern(GroupStop.PATTERN)
  stop(@Payload() command: GroupStop.Payload): Promise<void> {
    return this.search.stop(command.groupUuid);
  }
}
