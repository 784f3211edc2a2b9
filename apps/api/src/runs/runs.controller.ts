import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { OutboxRelay, RunsRepository } from '@myelin/persistence';
import { AuthenticatedRequest } from '@myelin/runtime';
import { CreateRunDto } from './dto/create-run.dto';
import { ListQueryDto } from './dto/list-query.dto';
import { RunView, toRunView } from './run.view';
import { RunsService } from './runs.service';
import { CreateRunUseCase } from './usecases/create-run.usecase';

interface PageView<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Runs of every kind under `owner/project`, addressed by uuid or per-project number (Polyaxon's layout). */
@Controller('api/v1')
export class RunsController {
  constructor(
    private readonly service: RunsService,
    private readonly runs: RunsRepository,
    private readonly createRun: CreateRunUseCase,
    private readonly relay: OutboxRelay,
  ) {}

  @Post(':owner/:project/runs')
  async create(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Body() body: CreateRunDto,
  ): Promise<RunView> {
    const project = await this.service.resolveProject(req.identity, owner, name, { create: true });
    await this.service.requireWrite(req.identity, project, owner, name);
    const run = await this.createRun.execute(req.identity, project, `${owner}/${name}`, body);
    this.relay.poke();
    return toRunView(run, `${owner}/${name}`);
  }

  @Get(':owner/:project/runs')
  async list(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Query() query: ListQueryDto,
  ): Promise<PageView<RunView>> {
    const project = await this.service.resolveProject(req.identity, owner, name);
    const page = await this.runs.list(project.id, { limit: query.limit, offset: query.offset });
    const base = `/api/v1/${owner}/${name}/runs`;
    const next = query.offset + query.limit < page.count ? `${base}?limit=${query.limit}&offset=${query.offset + query.limit}` : null;
    const previous = query.offset > 0 ? `${base}?limit=${query.limit}&offset=${Math.max(0, query.offset - query.limit)}` : null;
    return { count: page.count, next, previous, results: page.results.map((r) => toRunView(r, `${owner}/${name}`)) };
  }

  @Get(':owner/:project/runs/:id')
  async get(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Param('id') id: string,
  ): Promise<RunView> {
    const project = await this.service.resolveProject(req.identity, owner, name);
    return toRunView(await this.service.findRun(project, id), `${owner}/${name}`);
  }

  @Get(':owner/:project/runs/:id/statuses')
  async statuses(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Param('id') id: string,
  ) {
    const project = await this.service.resolveProject(req.identity, owner, name);
    const run = await this.service.findRun(project, id);
    const results = await this.runs.conditions(run.uuid);
    return { count: results.length, next: null, previous: null, results };
  }

  @Post(':owner/:project/runs/:id/stop')
  @HttpCode(202)
  async stop(
    @Req() req: AuthenticatedRequest,
    @Param('owner') owner: string,
    @Param('project') name: string,
    @Param('id') id: string,
  ): Promise<RunView> {
    const project = await this.service.resolveProject(req.identity, owner, name);
    await this.service.requireWrite(req.identity, project, owner, name);
    const run = await this.service.findRun(project, id);
    await this.service.stop(run, `stopped by ${req.identity.username}`);
    return toRunView(run, `${owner}/${name}`);
  }

  /** A run by uuid alone (links, the tracking client). */
  @Get('runs/:uuid')
  async byUuid(@Req() req: AuthenticatedRequest, @Param('uuid') uuid: string): Promise<RunView> {
    const { run, project } = await this.service.findRunByUuid(req.identity, uuid);
    return toRunView(run, project);
  }
}
