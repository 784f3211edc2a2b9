import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { isFinal, RunTokenIssue } from '@myelin/contracts';
import { AccountsRepository, RunsRepository } from '@myelin/persistence';
import { RemoteError } from '@myelin/bus';

/** Issues a run's own token when an executor starts it (never for a finished or unknown run). */
@Controller()
export class RunTokenRpcController {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly runs: RunsRepository,
  ) {}

  @MessagePattern(RunTokenIssue.PATTERN)
  async issue(@Payload() payload: RunTokenIssue.Payload): Promise<RunTokenIssue.Reply> {
    const run = await this.runs.findByUuid(payload.runUuid);
    if (!run || isFinal(run.status)) throw new RemoteError(`run ${payload.runUuid} is unknown or already ended`);
    const { token } = await this.accounts.issueToken({ userId: run.createdBy, name: `run ${run.uuid}`, scope: 'run', runUuid: run.uuid });
    return { token };
  }
}
