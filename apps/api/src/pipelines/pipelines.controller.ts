import { Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Inject } from '@nestjs/common';
import { RunView, ScheduleControl, ScheduleView } from '@myelin/contracts';
import { MESSAGE_BUS, MessageBus } from '@myelin/bus';
import { RunEntity } from '@myelin/persistence';
import { checkPolyaxonfiles, formatSpecError } from '@myelin/spec';
import { AuthenticatedRequest } from '@myelin/runtime';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { ProjectsService } from '../projects/projects.service';
import { toRunView } from '../runs/run.view';
import { RunsService } from '../runs/runs.service';
import { CreateRunUseCase, readSubmission } from '../runs/usecases/create-run.usecase';
import { pipelineView, PipelineGraphView } from './pipeline-ops.view';

/**
 * Pipeline runs: their ops with status and reason, the graph, and retry from the failed node.
 * Creating (POST runs with a `kind: pipeline` file) and stopping (POST runs/:id/stop) go through
 * the runs routes.
 */
@ApiTags('pipelines')
@ApiSecurity('token')
@Controller('api/v1')
export class PipelinesController {
  constructor(
    private readonly service: RunsService,
    private readonly projects: ProjectsService,
    private readonly createRun: CreateRunUseCase,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(MESSAGE_BUS) private readonly bus: MessageBus,
  ) {}

  /** The pipelines service's view of schedules (null when it does not answer: the list still shows the runs). */
  private async schedules(uuids: string[], action: ScheduleControl.Payload['action']): Promise<Map<string, ScheduleView> | null> {
    if (!uuids.length) return new Map();
    try {
      const reply = await this.bus.request<ScheduleControl.Reply>(ScheduleControl.PATTERN, { scheduleUuids: uuids, action } satisfies ScheduleControl.Payload, 10_000);
      return new Map(reply.schedules.map((s) => [s.uuid, s]));
    } catch (error) {
      if (action !== 'get') throw new ApiException(ApiExceptionCode.Conflict, `the pipelines service did not answer: ${String(error)}`);
      return null;
    }
  }

  @Get(':owner/:project/schedules')
  @ApiOperation({ summary: "The project's scheduled pipelines: each schedule's run with its state (active, paused, finished, stopped), next slot, runs fired and missed" })
  async listSchedules(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string) {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name);
    const runs = await this.dataSource
      .getRepository(RunEntity)
      .createQueryBuilder('r')
      .where('r.projectId = :projectId', { projectId: project.id })
      .andWhere(`r.kind = 'pipeline'`)
      .andWhere(`r.spec -> 'raw' -> 'schedule' IS NOT NULL`)
      .orderBy('r.createdAt', 'DESC')
      .limit(500)
      .getMany();
    const states = await this.schedules(runs.map((r) => r.uuid), 'get');
    const results = runs.map((r) => ({ run: toRunView(r, fullName), schedule: (r.spec['raw'] as { schedule: unknown }).schedule, state: states?.get(r.uuid) ?? null }));
    return { count: results.length, next: null, previous: null, results };
  }

  @Post(':owner/:project/runs/:id/schedule/:action')
  @HttpCode(200)
  @ApiOperation({ summary: 'pause | resume a scheduled pipeline (member); on resume, slots missed while paused follow the catch-up policy' })
  async controlSchedule(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Param('id') id: string,
    @Param('action') action: string,
  ) {
    if (action !== 'pause' && action !== 'resume') throw new ApiException(ApiExceptionCode.NotFound, `no action "${action}" on schedules (pause, resume)`);
    const { run, fullName } = await this.pipeline(req, owner, name, id, 'member');
    if (!(run.spec['raw'] as { schedule?: unknown }).schedule) throw new ApiException(ApiExceptionCode.BadRequest, `pipeline run ${run.number} has no schedule`);
    const state = (await this.schedules([run.uuid], action))?.get(run.uuid);
    if (!state) throw new ApiException(ApiExceptionCode.Conflict, `schedule ${run.number} is not registered with the pipelines service yet`);
    return { run: toRunView(run, fullName), state };
  }

  private async pipeline(req: AuthenticatedRequest, owner: string, name: string, id: string, role?: 'member') {
    const resolved = await this.projects.resolve(req.identity, owner, name, role);
    const run = await this.service.findRun(resolved.project.id, id, { archived: true });
    if (run.kind !== 'pipeline') throw new ApiException(ApiExceptionCode.BadRequest, `run ${run.number} is a ${run.kind}, not a pipeline`);
    return { ...resolved, run };
  }

  private async view(run: RunEntity): Promise<PipelineGraphView> {
    const children = await this.dataSource.getRepository(RunEntity).find({ where: { parentUuid: run.uuid }, order: { createdAt: 'ASC' } });
    return pipelineView(run, children);
  }

  @Get(':owner/:project/runs/:id/ops')
  @ApiOperation({ summary: "A pipeline run's ops in topological order: status (waiting, retrying, reused or the op run's), reason, attempts, runs" })
  async ops(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<{ pipeline: RunView; ops: PipelineGraphView['ops'] }> {
    const { run, fullName } = await this.pipeline(req, owner, name, id);
    return { pipeline: toRunView(run, fullName), ops: (await this.view(run)).ops };
  }

  @Get(':owner/:project/runs/:id/graph')
  @ApiOperation({ summary: "A pipeline run's DAG: ops with status, topological layers and edges (upstream → downstream)" })
  async graph(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<PipelineGraphView & { pipeline: RunView }> {
    const { run, fullName } = await this.pipeline(req, owner, name, id);
    return { pipeline: toRunView(run, fullName), ...(await this.view(run)) };
  }

  @Post(':owner/:project/runs/:id/retry')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Retry a finished pipeline run from its failed node (member): a new pipeline run that reuses the succeeded ops and runs the failed and not-run ones',
  })
  async retry(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<RunView> {
    const { run, project, fullName } = await this.pipeline(req, owner, name, id, 'member');
    if (!['failed', 'stopped', 'upstream_failed'].includes(run.status)) {
      throw new ApiException(ApiExceptionCode.Conflict, `pipeline run ${run.number} is ${run.status}: only a failed or stopped pipeline run can be retried`);
    }
    const submitted = readSubmission(run);
    const result = checkPolyaxonfiles(submitted.files, { params: submitted.params });
    if (!result.ok) throw new ApiException(ApiExceptionCode.InvalidSpec, result.errors.map(formatSpecError).join('\n'), result.errors);
    const retried = await this.createRun.createPipeline(req.identity, project, fullName, { ...submitted, tags: run.tags, description: run.description }, result.spec, run);
    return toRunView(retried, fullName);
  }
}
