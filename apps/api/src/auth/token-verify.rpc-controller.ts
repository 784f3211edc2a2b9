import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { TokenVerify } from '@myelin/contracts';
import { AccountsRepository, RunsRepository } from '@myelin/persistence';
import { AccessService } from '../access/access.service';

/** Answers other services' "who is this token, and may it touch that run?" */
@Controller()
export class TokenVerifyRpcController {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly runs: RunsRepository,
    private readonly access: AccessService,
  ) {}

  @MessagePattern(TokenVerify.PATTERN)
  async verify(@Payload() payload: TokenVerify.Payload): Promise<TokenVerify.Reply> {
    const found = await this.accounts.verifyToken(payload.token);
    if (!found) return { valid: false };
    const identity = {
      userId: found.user.id,
      username: found.user.username,
      isSuperuser: found.user.isSuperuser,
      ...(found.token.runUuid ? { runUuid: found.token.runUuid } : {}),
    };
    const reply: TokenVerify.Reply = {
      valid: true,
      userId: identity.userId,
      username: identity.username,
      isSuperuser: identity.isSuperuser,
      ...(found.token.runUuid ? { tokenRunUuid: found.token.runUuid } : {}),
    };
    if (payload.runUuid) {
      const run = await this.runs.findByUuid(payload.runUuid);
      reply.access = run ? await this.access.runAccess(identity, run) : 'none';
    }
    return reply;
  }
}
