import { Controller, Inject, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { searchMetricOf } from '@myelin/hpo';
import type { HPTuning } from '@myelin/spec';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { PipelineOpCreate, PipelineRunCreate, PipelineStatusChanged } from '@myelin/contracts';
import { OutboxRelay, RunEntity, RunsRepository } from '@myelin/persistence';
import { RemoteError } from '@myelin/bus';
import { CreateRunUseCase, opRunKey } from '../runs/usecases/create-run.usecase';
import { ParentRuns } from '../runs/parent-runs';

/** The pipelines service's side of pipelines: it asks for op runs and reports the pipeline run's status. */
@Controller()
export class PipelinesRpcController {
  private readonly logger = new Logger('Pipelines');

  constructor(
    private readonly runs: RunsRepository,
    private readonly createRun: CreateRunUseCase,
    private readonly relay: OutboxRelay,
    private readonly parents: ParentRuns,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  /** A group op's outputs: the best succeeded trial's params and its search metric value. */
  private async groupOutputs(group: RunEntity): Promise<Record<string, unknown>> {
    const metric = searchMetricOf((group.spec['hptuning'] ?? {}) as HPTuning);
    const trials = await this.dataSource.getRepository(RunEntity).find({ where: { parentUuid: group.uuid, status: 'succeeded' } });
    let best: { run: RunEntity; value: number } | undefined;
    for (const trial of trials) {
      const summary = (await this.runs.metricSummaries(trial.uuid)).find((s) => s.name === metric.name);
      const value = typeof summary?.last === 'number' ? summary.last : Number(summary?.last);
      if (summary?.last === null || summary?.last === undefined || !Number.isFinite(value)) continue;
      if (!best || (metric.optimization === 'minimize' ? value < best.value : value > best.value)) best = { run: trial, value };
    }
    return best ? { ...best.run.params, [metric.name]: best.value } : {};
  }

  @MessagePattern(PipelineOpCreate.PATTERN)
  async createOp(@Payload() request: PipelineOpCreate.Payload): Promise<PipelineOpCreate.Reply> {
    const found = await this.parents.get(request.pipelineUuid, 'pipeline');
    if (!found) throw new RemoteError(`pipeline run ${request.pipelineUuid} not found`);
    const { run: pipeline, projectName } = found;
    let run: RunEntity;
    try {
      run = await this.createRun.createPipelineOp(pipeline, projectName, request);
    } catch (error) {
      // Two deliveries of the same request raced: the unique (parent, key) index let one through.
      const marked = request.mark !== undefined || request.reusedFrom !== undefined;
      const existing = await this.runs.findTrial(pipeline.uuid, opRunKey(request.op, marked ? undefined : request.attempt));
      if (!existing) throw error;
      run = existing;
    }
    this.relay.poke();
    return { runUuid: run.uuid, number: run.number, status: run.status, ...(run.kind === 'group' && run.status === 'done' ? { outputs: await this.groupOutputs(run) } : {}) };
  }

  @MessagePattern(PipelineRunCreate.PATTERN)
  async createScheduledRun(@Payload() request: PipelineRunCreate.Payload): Promise<PipelineRunCreate.Reply> {
    const found = await this.parents.get(request.scheduleUuid, 'pipeline');
    if (!found) throw new RemoteError(`schedule ${request.scheduleUuid} not found`);
    const { run: schedule, projectName } = found;
    let run: RunEntity;
    try {
      run = await this.createRun.createScheduledRun(schedule, projectName, request.slot);
    } catch (error) {
      const existing = await this.runs.findTrial(schedule.uuid, `slot:${new Date(request.slot).toISOString()}`);
      if (!existing) throw error instanceof Error ? new RemoteError(error.message) : error;
      run = existing;
    }
    this.relay.poke();
    return { runUuid: run.uuid, number: run.number, status: run.status };
  }

  @EventPattern(PipelineStatusChanged.PATTERN)
  async statusChanged(@Payload() event: PipelineStatusChanged.Payload): Promise<void> {
    const result = await this.runs.applyStatus(event.pipelineUuid, {
      status: event.status,
      reason: event.reason,
      message: event.message,
      at: new Date(event.at),
    });
    if (!result.applied) this.logger.debug(`ignored pipeline status ${event.status} for ${event.pipelineUuid}: ${result.reason}`);
  }
}
