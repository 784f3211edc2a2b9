import { Body, Controller, Param, Post, Req } from '@nestjs/common';
import { MessagePattern, EventPattern, Payload } from '@nestjs/microservices';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { isFinal, RunFactsLogged, RunStatusReport, RunView } from '@myelin/contracts';
import { AuthenticatedRequest } from '@myelin/runtime';
import { ProjectsService } from '../projects/projects.service';
import { toRunView } from '../runs/run.view';
import { CreateExternalRunDto } from './dto';
import { ExternalRunsService } from './external-runs.service';

@ApiTags('runs')
@ApiSecurity('token')
@Controller('api/v1')
export class ExternalRunsController {
  constructor(
    private readonly service: ExternalRunsService,
    private readonly projects: ProjectsService,
  ) {}

  @Post(':owner/:project/runs/external')
  @ApiOperation({ summary: 'Create a run tracked from outside the platform (member): `running` at once, never scheduled' })
  async create(@Req() req: AuthenticatedRequest, @Param('owner') owner: string, @Param('project') name: string, @Body() body: CreateExternalRunDto): Promise<RunView> {
    const { project, fullName } = await this.projects.resolveOwnOrCreate(req.identity, owner, name, 'member');
    const run = await this.service.create(req.identity, project, fullName, {
      ...(body.name ? { name: body.name } : {}),
      ...(body.description ? { description: body.description } : {}),
      ...(body.tags ? { tags: body.tags } : {}),
      ...(body.params ? { params: body.params } : {}),
    });
    return toRunView(run, fullName);
  }

  @MessagePattern(RunStatusReport.PATTERN)
  async report(@Payload() payload: RunStatusReport.Payload): Promise<RunStatusReport.Reply> {
    const reply = await this.service.report(payload);
    if (reply.ok && isFinal(payload.status)) await this.service.revokeTokens(payload.runUuid);
    return reply;
  }

  @EventPattern(RunFactsLogged.PATTERN)
  async factsLogged(@Payload() event: RunFactsLogged.Payload): Promise<void> {
    await this.service.merge(event);
  }
}
