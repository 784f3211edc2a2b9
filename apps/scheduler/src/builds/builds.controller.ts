import { Controller, Delete, ForbiddenException, Get, Inject, NotFoundException, Param, ParseUUIDPipe, Query, Req } from '@nestjs/common';
import { IsString, Matches, MaxLength } from 'class-validator';
import { BuildRow, BuildsRepository, ExecutionsRepository } from '@myelin/persistence';
import { AuthenticatedRequest } from '@myelin/runtime';
import { SCHEDULER_ENV } from '../tokens';
import { SchedulerEnv } from '../config/env';
import { planRunBuild } from './build-plan';

export class ProjectQuery {
  @IsString() @MaxLength(200) @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'project must be owner/project' }) project!: string;
}

/**
 * `/api/v1/scheduler/builds`: the build cache (decision 0014). Invalidating a run's build drops the
 * cache entry of its key, so the next run with the same build section and commit builds again.
 * A run's submitter or a superuser invalidates a run's build; superusers list and invalidate a
 * whole project's (the scheduler does not know project roles).
 */
@Controller('api/v1/scheduler/builds')
export class BuildsController {
  constructor(
    private readonly builds: BuildsRepository,
    private readonly executions: ExecutionsRepository,
    @Inject(SCHEDULER_ENV) private readonly env: SchedulerEnv,
  ) {}

  @Get()
  async list(@Req() req: AuthenticatedRequest, @Query() query: ProjectQuery): Promise<{ results: BuildRow[] }> {
    requireSuperuser(req);
    return { results: await this.builds.listByProject(query.project) };
  }

  @Delete()
  async invalidateProject(@Req() req: AuthenticatedRequest, @Query() query: ProjectQuery): Promise<{ project: string; invalidated: number }> {
    requireSuperuser(req);
    return { project: query.project, invalidated: await this.builds.invalidateProject(query.project) };
  }

  @Delete(':runUuid')
  async invalidateRun(@Req() req: AuthenticatedRequest, @Param('runUuid', ParseUUIDPipe) runUuid: string): Promise<{ runUuid: string; key: string; image: string | null; invalidated: boolean }> {
    const row = await this.executions.find(runUuid);
    if (!row || (!req.identity.isSuperuser && row.submitter !== req.identity.username)) throw new NotFoundException(`run ${runUuid} is not known to the scheduler`);
    const plan = planRunBuild(row, this.env);
    if (!plan) throw new NotFoundException(`run ${runUuid} builds no image (no build steps, env_vars, lang_env or dockerfile, and not kind: build)`);
    const cached = await this.builds.find(plan.key);
    return { runUuid, key: plan.key, image: cached?.image ?? null, invalidated: await this.builds.invalidate(plan.key) };
  }
}

function requireSuperuser(req: AuthenticatedRequest): void {
  if (!req.identity.isSuperuser) throw new ForbiddenException('only superusers list or invalidate a whole project\'s builds');
}
