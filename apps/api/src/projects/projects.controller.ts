import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req } from '@nestjs/common';
import { ApiOperation, ApiPropertyOptional, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { AuthenticatedRequest } from '@myelin/runtime';
import { ActivityService } from '../activity/activity.service';
import { page, PageQueryDto, pageOf, PageView } from '../common/pagination';
import { CreateProjectDto, GrantDto, ProjectView, UpdateProjectDto } from './dto/project.dto';
import { ProjectsRepository } from './projects.repository';
import { ProjectsService } from './projects.service';

class ProjectListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'list archived projects instead' })
  @IsOptional()
  @Transform(({ value }) => value === true || value === 'true' || value === '1')
  @IsBoolean()
  archived: boolean = false;
}

@ApiTags('projects')
@ApiSecurity('token')
@Controller('api/v1')
export class ProjectsController {
  constructor(
    private readonly service: ProjectsService,
    private readonly projects: ProjectsRepository,
    private readonly activity: ActivityService,
  ) {}

  @Post('projects')
  @ApiOperation({ summary: 'Create a project (owned by the caller, or by an organization the caller administers)' })
  async create(@Req() req: AuthenticatedRequest, @Body() body: CreateProjectDto): Promise<ProjectView> {
    return this.service.view(await this.service.create(req.identity, body));
  }

  @Get(':owner')
  @ApiOperation({ summary: "List an owner's projects visible to the caller" })
  async list(@Req() req: AuthenticatedRequest, @Param('owner') ownerName: string, @Query() q: ProjectListQueryDto): Promise<PageView<ProjectView>> {
    const owner = await this.service.owner(ownerName);
    const { count, results } = await this.projects.listVisible(owner, req.identity, { archived: q.archived, limit: q.limit, offset: q.offset });
    const views: ProjectView[] = [];
    for (const project of results) {
      // Listed only when visible, so the caller has at least viewer.
      const role = (await this.service.roleOf(req.identity, project)) ?? 'viewer';
      views.push(this.service.view({ project, fullName: `${owner.name}/${project.name}`, role }));
    }
    return page(`/api/v1/${ownerName}`, { archived: q.archived }, q, count, views);
  }

  @Get(':owner/:project')
  @ApiOperation({ summary: 'Get a project' })
  async get(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string): Promise<ProjectView & { bookmarked: boolean }> {
    const resolved = await this.service.resolve(req.identity, owner, name, 'viewer', { archived: true });
    return { ...this.service.view(resolved), bookmarked: await this.service.isBookmarked(req.identity, resolved.project.id) };
  }

  @Patch(':owner/:project')
  @ApiOperation({ summary: 'Update a project (admin)' })
  async update(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: UpdateProjectDto): Promise<ProjectView> {
    const resolved = await this.service.resolve(req.identity, owner, name, 'admin');
    return this.service.view(await this.service.update(req.identity, resolved, body));
  }

  @Delete(':owner/:project')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a project with all its runs, their logs, metrics and outputs (owner)' })
  async delete(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string): Promise<void> {
    const resolved = await this.service.resolve(req.identity, owner, name, 'owner', { archived: true });
    await this.service.delete(req.identity, resolved);
  }

  @Post(':owner/:project/archive')
  @HttpCode(200)
  @ApiOperation({ summary: 'Archive a project (soft delete, purged after the retention period; admin)' })
  async archive(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string): Promise<ProjectView> {
    const resolved = await this.service.resolve(req.identity, owner, name, 'admin');
    await this.service.setArchived(req.identity, resolved, true);
    return this.service.view(resolved);
  }

  @Post(':owner/:project/restore')
  @HttpCode(200)
  @ApiOperation({ summary: 'Restore an archived project (admin)' })
  async restore(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string): Promise<ProjectView> {
    const resolved = await this.service.resolve(req.identity, owner, name, 'admin', { archived: true });
    await this.service.setArchived(req.identity, resolved, false);
    return this.service.view(resolved);
  }

  @Post(':owner/:project/bookmark')
  @HttpCode(204)
  @ApiOperation({ summary: 'Bookmark a project' })
  async bookmark(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string): Promise<void> {
    const { project } = await this.service.resolve(req.identity, owner, name);
    await this.service.bookmark(req.identity, project, true);
  }

  @Delete(':owner/:project/bookmark')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a bookmark' })
  async unbookmark(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string): Promise<void> {
    const { project } = await this.service.resolve(req.identity, owner, name);
    await this.service.bookmark(req.identity, project, false);
  }

  @Get(':owner/:project/grants')
  @ApiOperation({ summary: "List the project's grants (admin)" })
  async grants(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Query() q: PageQueryDto) {
    const { project } = await this.service.resolve(req.identity, owner, name, 'admin');
    return pageOf(`/api/v1/${owner}/${name}/grants`, q, await this.service.grants(project));
  }

  @Put(':owner/:project/grants')
  @ApiOperation({ summary: 'Give a user or a team a role on the project (admin)' })
  async grant(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: GrantDto) {
    const { project } = await this.service.resolve(req.identity, owner, name, 'admin');
    await this.service.grant(req.identity, project, body);
    return this.service.grants(project);
  }

  @Delete(':owner/:project/grants/:grant')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a grant (admin)' })
  async revoke(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Param('grant') grant: string): Promise<void> {
    const { project } = await this.service.resolve(req.identity, owner, name, 'admin');
    await this.service.revokeGrant(req.identity, project, grant);
  }

  @Get(':owner/:project/activitylogs')
  @ApiOperation({ summary: "The project's activity: who did what, when" })
  async activityLogs(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Query() q: PageQueryDto) {
    const { project } = await this.service.resolve(req.identity, owner, name, 'viewer', { archived: true });
    const { count, results } = await this.activity.list(project.id, q.limit, q.offset);
    return page(`/api/v1/${owner}/${name}/activitylogs`, {}, q, count, results);
  }
}
