import { Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Inject } from '@nestjs/common';
import { RunView } from '@myelin/contracts';
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
  ) {}

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
