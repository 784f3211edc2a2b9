import { Body, Controller, Delete, ForbiddenException, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { PageQueryDto, pageOf } from '../common/pagination';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AccountsRepository, TokenEntity, UserEntity } from '@myelin/persistence';
import { AuthenticatedRequest, Identity } from '@myelin/runtime';
import { ActivityService } from '../activity/activity.service';
import { ApiException, ApiExceptionCode } from '../api.exception';
import { RESERVED_NAMES } from '../projects/projects.service';
import { CreateTokenDto, CreateUserDto } from './dto/users.dto';

const userView = (u: UserEntity) => ({
  username: u.username,
  email: u.email,
  isSuperuser: u.isSuperuser,
  isActive: u.isActive,
  createdAt: u.createdAt.toISOString(),
});
const tokenView = (t: TokenEntity) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  createdAt: t.createdAt.toISOString(),
  expiresAt: t.expiresAt?.toISOString() ?? null,
  revokedAt: t.revokedAt?.toISOString() ?? null,
});

function requireSuperuser(identity: Identity): void {
  if (!identity.isSuperuser || identity.runUuid) throw new ForbiddenException('superuser only');
}

@ApiTags('users')
@ApiSecurity('token')
@Controller('api/v1')
export class UsersController {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly activity: ActivityService,
  ) {}

  @Post('users/logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke the token used for this call' })
  async logout(@Req() req: AuthenticatedRequest): Promise<void> {
    if (req.identity.tokenId) await this.accounts.revokeToken(req.identity.tokenId);
  }

  @Get('users')
  @ApiOperation({ summary: 'The current user (`myelin whoami`)' })
  whoami(@Req() req: AuthenticatedRequest) {
    return { username: req.identity.username, isSuperuser: req.identity.isSuperuser, ...(req.identity.runUuid ? { runUuid: req.identity.runUuid } : {}) };
  }

  @Get('users/tokens')
  @ApiOperation({ summary: "The caller's API tokens (never their values)" })
  async tokens(@Req() req: AuthenticatedRequest, @Query() q: PageQueryDto) {
    return pageOf('/api/v1/users/tokens', q, (await this.accounts.listTokens(req.identity.userId)).map(tokenView));
  }

  @Post('users/tokens')
  @ApiOperation({ summary: 'Create an API token (its value is shown once)' })
  async createToken(@Req() req: AuthenticatedRequest, @Body() body: CreateTokenDto) {
    if (req.identity.runUuid) throw new ForbiddenException('a run token cannot create tokens');
    const expiresAt = body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : undefined;
    const { token, entity } = await this.accounts.issueToken({ userId: req.identity.userId, name: body.name, ...(expiresAt ? { expiresAt } : {}) });
    return { ...tokenView(entity), token };
  }

  @Delete('users/tokens/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke one of your tokens' })
  async revokeToken(@Req() req: AuthenticatedRequest, @Param('id') id: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/i.test(id) || !(await this.accounts.revokeToken(id, req.identity.userId))) {
      throw new ApiException(ApiExceptionCode.NotFound, `token ${id} not found`);
    }
  }

  @Get('users/accounts')
  @ApiOperation({ summary: 'Every user (superuser)' })
  async list(@Req() req: AuthenticatedRequest, @Query() q: PageQueryDto) {
    requireSuperuser(req.identity);
    return pageOf('/api/v1/users/accounts', q, (await this.accounts.listUsers()).map(userView));
  }

  @Post('users/accounts')
  @ApiOperation({ summary: 'Create a user (superuser)' })
  async create(@Req() req: AuthenticatedRequest, @Body() body: CreateUserDto) {
    requireSuperuser(req.identity);
    if (RESERVED_NAMES.has(body.username)) throw new ApiException(ApiExceptionCode.BadRequest, `"${body.username}" is reserved`, [{ field: 'username' }]);
    const taken = await this.accounts.findUserByUsername(body.username);
    const orgTaken = (await this.accounts.countOrganizationsNamed(body.username)) > 0;
    if (taken || orgTaken) throw new ApiException(ApiExceptionCode.Conflict, `the name ${body.username} is taken`);
    const user = await this.accounts.createUser(body);
    await this.activity.record(req.identity, 'user.created', 'user', user.id, null, { username: user.username });
    return userView(user);
  }

  @Post('users/activate/:username')
  @HttpCode(200)
  @ApiOperation({ summary: 'Activate a user (superuser)' })
  activate(@Req() req: AuthenticatedRequest, @Param('username') username: string) {
    return this.patchUser(req.identity, username, { isActive: true }, 'user.activated');
  }

  @Post('users/deactivate/:username')
  @HttpCode(200)
  @ApiOperation({ summary: 'Deactivate a user: their tokens stop working (superuser)' })
  deactivate(@Req() req: AuthenticatedRequest, @Param('username') username: string) {
    return this.patchUser(req.identity, username, { isActive: false }, 'user.deactivated');
  }

  @Delete('users/delete/:username')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user who owns no project and created no run (superuser; deactivate otherwise)' })
  async delete(@Req() req: AuthenticatedRequest, @Param('username') username: string): Promise<void> {
    requireSuperuser(req.identity);
    const result = await this.accounts.deleteUser(username);
    if (result === 'not_found') throw new ApiException(ApiExceptionCode.NotFound, `user ${username} not found`);
    if (result === 'in_use') throw new ApiException(ApiExceptionCode.Conflict, `${username} owns projects or created runs; deactivate them instead`);
    await this.activity.record(req.identity, 'user.deleted', 'user', username, null);
  }

  @Post('superusers/grant/:username')
  @HttpCode(200)
  @ApiOperation({ summary: 'Make a user superuser (superuser)' })
  grant(@Req() req: AuthenticatedRequest, @Param('username') username: string) {
    return this.patchUser(req.identity, username, { isSuperuser: true }, 'user.superuser-granted');
  }

  @Post('superusers/revoke/:username')
  @HttpCode(200)
  @ApiOperation({ summary: 'Take superuser away from a user (superuser)' })
  revoke(@Req() req: AuthenticatedRequest, @Param('username') username: string) {
    return this.patchUser(req.identity, username, { isSuperuser: false }, 'user.superuser-revoked');
  }

  private async patchUser(identity: Identity, username: string, patch: Partial<Pick<UserEntity, 'isActive' | 'isSuperuser'>>, action: string) {
    requireSuperuser(identity);
    const user = await this.accounts.updateUser(username, patch);
    if (!user) throw new ApiException(ApiExceptionCode.NotFound, `user ${username} not found`);
    await this.activity.record(identity, action, 'user', user.id, null, { username });
    return userView(user);
  }
}
