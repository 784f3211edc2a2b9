import { Controller, Logger } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { GroupStatusChanged, isFinal, TrialCreate } from '@myelin/contracts';
import { OutboxRelay, RunsRepository } from '@myelin/persistence';
import { RemoteError } from '@myelin/bus';
import { CreateRunUseCase } from '../runs/usecases/create-run.usecase';
import { ParentRuns } from '../runs/parent-runs';

/** The optimizer's side of groups: it asks for trial runs and reports the group's status. */
@Controller()
export class GroupsRpcController {
  private readonly logger = new Logger('Groups');

  constructor(
    private readonly runs: RunsRepository,
    private readonly createRun: CreateRunUseCase,
    private readonly relay: OutboxRelay,
    private readonly parents: ParentRuns,
  ) {}

  @MessagePattern(TrialCreate.PATTERN)
  async createTrial(@Payload() request: TrialCreate.Payload): Promise<TrialCreate.Reply> {
    const found = await this.parents.get(request.groupUuid, 'group');
    if (!found) throw new RemoteError(`group ${request.groupUuid} not found`);
    const { run: group, projectName } = found;
    const existing = await this.runs.findTrial(group.uuid, request.trialKey);
    if (!existing && (isFinal(group.status) || group.status === 'stopping')) {
      throw new RemoteError(`group ${group.uuid} is ${group.status}: no new trials`);
    }
    const resumeOf = request.resumeFromTrialKey ? await this.runs.findTrial(group.uuid, request.resumeFromTrialKey) : null;
    const trial = await this.createRun.createTrial(group, projectName, request.trialKey, request.params, resumeOf);
    this.relay.poke();
    const metrics: TrialCreate.Reply['metrics'] = {};
    for (const m of await this.runs.metricSummaries(trial.uuid)) metrics[m.name] = { last: m.last, lastStep: m.lastStep };
    return { runUuid: trial.uuid, number: trial.number, status: trial.status, metrics };
  }

  @EventPattern(GroupStatusChanged.PATTERN)
  async statusChanged(@Payload() event: GroupStatusChanged.Payload): Promise<void> {
    const result = await this.runs.applyStatus(event.groupUuid, {
      status: event.status,
      reason: event.reason,
      message: event.message,
      at: new Date(event.at),
    });
    if (!result.applied) this.logger.debug(`ignored group status ${event.status} for ${event.groupUuid}: ${result.reason}`);
  }
}
