import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { RunTokenIssue } from '@myelin/contracts';
import { AccountsRepository } from '@myelin/persistence';
import { RemoteError } from '@myelin/bus';

/** Issues a run's own token when an executor starts it (never for a finished or unknown run). */
@Controller()
export class RunTokenRpcController {
  constructor(private readonly accounts: AccountsRepository) {}

  @MessagePattern(RunTokenIssue.PATTERN)
  async issue(@Payload() payload: RunTokenIssue.Payload): Promise<RunTokenIssue.Reply> {
    const token = await this.accounts.issueRunToken(payload.runUuid);
    if (!token) throw new RemoteError(`run ${payload.runUuid} is unknown or already ended`);
    return { token };
  }
}
