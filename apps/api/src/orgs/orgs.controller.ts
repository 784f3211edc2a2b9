import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Req } from '@nestjs/common';
import { PageQueryDto, pageOf } from '../common/pagination';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AuthenticatedRequest } from '@myelin/runtime';
import { CreateOrgDto, CreateTeamDto, MemberRoleDto } from './dto/org.dto';
import { OrgsService } from './orgs.service';

@ApiTags('organizations')
@ApiSecurity('token')
@Controller('api/v1/orgs')
export class OrgsController {
  constructor(private readonly orgs: OrgsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an organization; the caller becomes its owner' })
  async create(@Req() req: AuthenticatedRequest, @Body() body: CreateOrgDto) {
    const org = await this.orgs.create(req.identity, body.name);
    return { name: org.name, role: 'owner' };
  }

  @Get()
  @ApiOperation({ summary: "The caller's organizations and roles" })
  async list(@Req() req: AuthenticatedRequest, @Query() q: PageQueryDto) {
    return pageOf('/api/v1/orgs', q, await this.orgs.listFor(req.identity));
  }

  @Get(':org')
  @ApiOperation({ summary: 'An organization with its members and teams (members only)' })
  async get(@Req() req: AuthenticatedRequest, @Param('org') name: string) {
    const { org, role } = await this.orgs.resolve(req.identity, name);
    return { name: org.name, role, members: await this.orgs.members(org.id), teams: await this.orgs.teams(org.id) };
  }

  @Put(':org/members/:username')
  @ApiOperation({ summary: "Add a member or change a member's role (admin; owner to make owners)" })
  async setMember(@Req() req: AuthenticatedRequest, @Param('org') name: string, @Param('username') username: string, @Body() body: MemberRoleDto) {
    const { org, role } = await this.orgs.resolve(req.identity, name, 'admin');
    await this.orgs.setMember(req.identity, org, role, username, body.role);
    return this.orgs.members(org.id);
  }

  @Delete(':org/members/:username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a member (admin)' })
  async removeMember(@Req() req: AuthenticatedRequest, @Param('org') name: string, @Param('username') username: string): Promise<void> {
    const { org, role } = await this.orgs.resolve(req.identity, name, 'admin');
    await this.orgs.removeMember(req.identity, org, role, username);
  }

  @Post(':org/teams')
  @ApiOperation({ summary: 'Create a team (admin)' })
  async createTeam(@Req() req: AuthenticatedRequest, @Param('org') name: string, @Body() body: CreateTeamDto) {
    const { org } = await this.orgs.resolve(req.identity, name, 'admin');
    await this.orgs.createTeam(req.identity, org, body.name);
    return this.orgs.teams(org.id);
  }

  @Delete(':org/teams/:team')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a team and its grants (admin)' })
  async deleteTeam(@Req() req: AuthenticatedRequest, @Param('org') name: string, @Param('team') team: string): Promise<void> {
    const { org } = await this.orgs.resolve(req.identity, name, 'admin');
    await this.orgs.deleteTeam(req.identity, org, team);
  }

  @Put(':org/teams/:team/members/:username')
  @ApiOperation({ summary: 'Add an organization member to a team (admin)' })
  async addTeamMember(@Req() req: AuthenticatedRequest, @Param('org') name: string, @Param('team') team: string, @Param('username') username: string) {
    const { org } = await this.orgs.resolve(req.identity, name, 'admin');
    await this.orgs.setTeamMember(req.identity, org, team, username, true);
    return this.orgs.teams(org.id);
  }

  @Delete(':org/teams/:team/members/:username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a member from a team (admin)' })
  async removeTeamMember(@Req() req: AuthenticatedRequest, @Param('org') name: string, @Param('team') team: string, @Param('username') username: string): Promise<void> {
    const { org } = await this.orgs.resolve(req.identity, name, 'admin');
    await this.orgs.setTeamMember(req.identity, org, team, username, false);
  }
}
