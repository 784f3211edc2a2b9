import { Body, Controller, Get, HttpCode, Post, Req, UnauthorizedException } from '@nestjs/common';
import { AccountsRepository, verifyPassword } from '@myelin/persistence';
import { AuthenticatedRequest, Public } from '@myelin/runtime';
import { LoginDto } from './dto/login.dto';

@Controller('api/v1/users')
export class UsersController {
  constructor(private readonly accounts: AccountsRepository) {}

  /** Username and password for a new API token (shown once). */
  @Public()
  @Post('token')
  @HttpCode(200)
  async login(@Body() body: LoginDto): Promise<{ token: string; expiresAt: string | null }> {
    const user = await this.accounts.findUserByUsername(body.username);
    // Same answer for an unknown user and a wrong password: no account enumeration.
    if (!user || !user.isActive || !(await verifyPassword(body.password, user.passwordHash))) {
      throw new UnauthorizedException('invalid username or password');
    }
    const expiresAt = new Date(Date.now() + 30 * 24 * 3600 * 1000);
    const { token } = await this.accounts.issueToken({ userId: user.id, name: 'login', expiresAt });
    return { token, expiresAt: expiresAt.toISOString() };
  }

  /** The current user (`myelin whoami`). */
  @Get()
  whoami(@Req() req: AuthenticatedRequest) {
    return { username: req.identity.username, isSuperuser: req.identity.isSuperuser };
  }
}
