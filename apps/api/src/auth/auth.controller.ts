import { Body, Controller, HttpCode, Post, UnauthorizedException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccountsRepository, verifyPassword } from '@myelin/persistence';
import { Public } from '@myelin/runtime';
import { LoginDto } from './dto/login.dto';

/** The one route that takes no token: username and password for one. */
@ApiTags('users')
@Controller('api/v1')
export class AuthController {
  constructor(private readonly accounts: AccountsRepository) {}

  @Public()
  @Post('users/token')
  @HttpCode(200)
  @ApiOperation({ summary: 'Username and password for a new API token (shown once; expires in 30 days)' })
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
}
