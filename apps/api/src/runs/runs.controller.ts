import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { RunView } from '@myelin/contracts';
import { RunsRepository } from '@myelin/persistence';
import { AuthenticatedRequest } from '@myelin/runtime';
import { page, PageView } from '../common/pagination';
import { compileRunListing, RunListQueryDto } from './run-list-query';
import { ProjectsService } from '../projects/projects.service';
import { CreateRunDto } from './dto/create-run.dto';
import { BulkRunsDto, CloneRunDto, CLONING_STRATEGIES, CloningStrategy, UpdateRunDto } from './dto/run-update.dto';
import { toRunView } from './run.view';
import { RunsService } from './runs.service';
import { CreateRunUseCase, readSubmission } from './usecases/create-run.usecase';
import { ApiException, ApiExceptionCode } from '../api.exception';

/** What a group searches with, from its compiled polyaxonfile. */
function searchOf(spec: Record<string, unknown>) {
  const hp = (spec['hptuning'] ?? {}) as { concurrency?: number; early_stopping?: unknown[] };
  return {
    algorithm: spec['algorithm'] ?? null,
    concurrency: hp.concurrency ?? 1,
    experiments: spec['numExperiments'] ?? null,
    earlyStopping: hp.early_stopping ?? [],
  };
}

/** Runs of every kind under `owner/project`, addressed by uuid or per-project number (Polyaxon's layout). */
@ApiTags('runs')
@ApiSecurity('token')
@Controller('api/v1')
export class RunsController {
  constructor(
    private readonly service: RunsService,
    private readonly projects: ProjectsService,
    private readonly runs: RunsRepository,
    private readonly createRun: CreateRunUseCase,
  ) {}

  @Post(':owner/:project/runs')
  @ApiOperation({ summary: 'Create a run from polyaxonfile(s) (member); 400 with file, line and field for a bad file' })
  async create(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: CreateRunDto): Promise<RunView> {
    const { project, fullName } = await this.projects.resolveOwnOrCreate(req.identity, owner, name, 'member');
    if ((body.priority ?? 0) > 0 && !req.identity.isSuperuser) {
      throw new ApiException(ApiExceptionCode.Forbidden, 'only superusers submit runs with a priority above 0 (others may lower theirs)', [
        { path: 'priority', message: 'above 0 needs a superuser' },
      ]);
    }
    const run = await this.createRun.execute(req.identity, project, fullName, {
      files: body.files,
      params: body.params ?? {},
      ...(body.name ? { name: body.name } : {}),
      ...(body.description ? { description: body.description } : {}),
      ...(body.tags ? { tags: body.tags } : {}),
      ...(body.codeDir ? { codeDir: body.codeDir } : {}),
      ...(body.codeRef ? { codeRef: body.codeRef } : {}),
      ...(body.noCache ? { noCache: true } : {}),
      ...(body.templateFiles?.length ? { templateFiles: body.templateFiles } : {}),
      ...(body.priority !== undefined ? { priority: body.priority } : {}),
    });
    return toRunView(run, fullName);
  }

  @Get(':owner/:project/runs')
  @ApiOperation({
    summary: "List the project's runs, newest first; `query` and `sort` in Polyaxon's language (e.g. `status:running|queued, metrics.loss:<0.3`, `-metrics.loss`)",
  })
  async list(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Query() q: RunListQueryDto): Promise<PageView<RunView>> {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name);
    const filter = compileRunListing(q.query, q.sort);
    const result = await this.runs.listFiltered(project.id, filter, { limit: q.limit, offset: q.offset, archived: q.archived });
    return page(`/api/v1/${owner}/${name}/runs`, { query: q.query, sort: q.sort, archived: q.archived || undefined }, q, result.count, result.results.map((r) => toRunView(r, fullName)));
  }

  @Post(':owner/:project/runs/stop')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop several runs by number (member)' })
  async stopMany(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: BulkRunsDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name, 'member');
    return { stopping: await this.service.stopMany(req.identity, project.id, body.ids) };
  }

  @Post(':owner/:project/runs/delete')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete several runs by number with their logs, metrics and outputs (admin)' })
  async deleteMany(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: BulkRunsDto) {
    const { project } = await this.projects.resolve(req.identity, owner, name, 'admin');
    const runs = [];
    for (const id of body.ids) runs.push(await this.service.findRun(project.id, String(id), { archived: true }).catch(() => null));
    return { deleted: await this.service.deleteMany(req.identity, project.id, runs.filter((r) => r !== null)) };
  }

  @Get(':owner/:project/runs/:id')
  @ApiOperation({ summary: 'Get a run by number or uuid' })
  async get(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<RunView> {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name);
    return toRunView(await this.service.findRunView(project.id, id), fullName);
  }

  @Patch(':owner/:project/runs/:id')
  @ApiOperation({ summary: 'Update name, description, tags, readme (member)' })
  async update(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string, @Body() body: UpdateRunDto): Promise<RunView> {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name, 'member');
    return toRunView(await this.service.update(req.identity, await this.service.findRun(project.id, id), body), fullName);
  }

  @Delete(':owner/:project/runs/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a run with its logs, metrics and outputs (admin)' })
  async delete(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<void> {
    const { project } = await this.projects.resolve(req.identity, owner, name, 'admin');
    await this.service.deleteMany(req.identity, project.id, [await this.service.findRun(project.id, id, { archived: true })]);
  }

  @Get(':owner/:project/runs/:id/trials')
  @ApiOperation({ summary: "A group's trials (its child runs) with their params, and the search's progress" })
  async trials(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string, @Query() q: RunListQueryDto) {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name);
    const group = await this.service.findRun(project.id, id, { archived: true });
    if (group.kind !== 'group') throw new ApiException(ApiExceptionCode.BadRequest, `run ${group.number} is a ${group.kind}, not a group`);
    const scoped = compileRunListing(q.query ? `group:"${group.uuid}", (${q.query})` : `group:"${group.uuid}"`, q.sort);
    const result = await this.runs.listFiltered(project.id, scoped, { limit: q.limit, offset: q.offset });
    return {
      ...page(`/api/v1/${owner}/${name}/runs/${id}/trials`, { query: q.query, sort: q.sort }, q, result.count, result.results.map((r) => toRunView(r, fullName))),
      progress: await this.service.groupProgress(group),
      search: searchOf(group.spec),
    };
  }

  @Get(':owner/:project/runs/:id/statuses')
  @ApiOperation({ summary: "A run's status history with conditions" })
  async statuses(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string) {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    const run = await this.service.findRun(project.id, id, { archived: true });
    const results = await this.runs.conditions(run.uuid);
    return { count: results.length, next: null, previous: null, results };
  }

  @Post(':owner/:project/runs/:id/stop')
  @HttpCode(202)
  @ApiOperation({ summary: 'Stop a run (member): SIGTERM, then SIGKILL after the grace period' })
  async stop(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<RunView> {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name, 'member');
    const run = await this.service.findRun(project.id, id);
    await this.service.stop(req.identity, run);
    return toRunView(run, fullName);
  }

  @Post(':owner/:project/runs/:id/archive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Archive a run (admin): hidden from listings, purged after the retention period' })
  async archive(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<RunView> {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name, 'admin');
    return toRunView(await this.service.setArchived(req.identity, await this.service.findRun(project.id, id), true), fullName);
  }

  @Post(':owner/:project/runs/:id/restore')
  @HttpCode(200)
  @ApiOperation({ summary: 'Restore an archived run (admin)' })
  async restore(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<RunView> {
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name, 'admin');
    return toRunView(await this.service.setArchived(req.identity, await this.service.findRun(project.id, id, { archived: true }), false), fullName);
  }

  @Post(':owner/:project/runs/:id/bookmark')
  @HttpCode(204)
  @ApiOperation({ summary: 'Bookmark a run' })
  async bookmark(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<void> {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    await this.service.bookmark(req.identity, await this.service.findRun(project.id, id), true);
  }

  @Delete(':owner/:project/runs/:id/bookmark')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a bookmark' })
  async unbookmark(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('id') id: string): Promise<void> {
    const { project } = await this.projects.resolve(req.identity, owner, name);
    await this.service.bookmark(req.identity, await this.service.findRun(project.id, id), false);
  }

  @Post(':owner/:project/runs/:id/:strategy')
  @ApiOperation({
    summary: 'restart | resume | copy: a new run linked to the original (member); override polyaxonfiles are merged on top',
  })
  async clone(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Param('id') id: string,
    @Param('strategy') strategy: string,
    @Body() body: CloneRunDto,
  ): Promise<RunView> {
    if (!(CLONING_STRATEGIES as readonly string[]).includes(strategy)) {
      throw new ApiException(ApiExceptionCode.NotFound, `no action "${strategy}" on runs (restart, resume, copy)`);
    }
    const { project, fullName } = await this.projects.resolve(req.identity, owner, name, 'member');
    const original = await this.service.findRun(project.id, id, { archived: true });
    if (!original.managed) {
      throw new ApiException(ApiExceptionCode.Conflict, `run #${original.number} was tracked from outside the platform: there is no polyaxonfile to ${strategy} it from`);
    }
    const submitted = readSubmission(original);
    const run = await this.createRun.execute(req.identity, project, fullName, {
      files: [...submitted.files, ...(body.files ?? [])],
      params: { ...submitted.params, ...(body.params ?? {}) },
      ...(submitted.templateFiles ? { templateFiles: submitted.templateFiles } : {}),
      tags: original.tags,
      description: body.description ?? original.description,
      original: { run: original, strategy: strategy as CloningStrategy },
    });
    return toRunView(run, fullName);
  }

  /** A run by uuid alone (links, the tracking client). */
  @Get('runs/:uuid')
  @ApiOperation({ summary: 'A run by uuid alone' })
  async byUuid(@Req() req: AuthenticatedRequest, @Param('uuid') uuid: string): Promise<RunView> {
    const { run, project } = await this.service.findRunByUuid(req.identity, uuid);
    return toRunView(run, project);
  }
}
