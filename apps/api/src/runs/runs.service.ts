import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { isFinal, isStoppable, RunStatusChanged, RunStop } from '@myelin/contracts';
import { enqueueOutbox, OutboxRelay, ProjectEntity, RunEntity, RunsRepository, AccountsRepository } from '@myelin/persistence';
import { Identity } from '@myelin/runtime';
import { CORE_DATA_SOURCE } from '../database/database.providers';
import { RunAccessPolicy } from '../auth/run-access.policy';
import { RunsException, RunsExceptionCode } from './runs.exception';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class RunsService {
  private readonly logger = new Logger('Runs');

  constructor(
    private readonly runs: RunsRepository,
    private readonly accounts: AccountsRepository,
    private readonly policy: RunAccessPolicy,
    private readonly relay: OutboxRelay,
    @Inject(CORE_DATA_SOURCE) private readonly dataSource: DataSource,
  ) {}

  /** The project `owner/name`, created on first use by its owner; 404 when the caller may not see it. */
  async resolveProject(identity: Identity, owner: string, name: string, { create = false } = {}): Promise<ProjectEntity> {
    const ownerUser = await this.accounts.findUserByUsername(owner);
    if (!ownerUser) throw new RunsException(RunsExceptionCode.NotFound, `project ${owner}/${name} not found`);
    let project = await this.runs.findProject(ownerUser.id, name);
    if (!project && create && (ownerUser.id === identity.userId || identity.isSuperuser) && !identity.runUuid) {
      project = await this.runs.getOrCreateProject(ownerUser.id, name);
    }
    if (!project || this.policy.projectAccess(identity, project) === 'none') {
      throw new RunsException(RunsExceptionCode.NotFound, `project ${owner}/${name} not found`);
    }
    return project;
  }

  async requireWrite(identity: Identity, project: ProjectEntity, owner: string, name: string): Promise<void> {
    if (this.policy.projectAccess(identity, project) !== 'write') {
      throw new RunsException(RunsExceptionCode.Forbidden, `you may not change ${owner}/${name}`);
    }
  }

  /** A run by uuid or per-project number. */
  async findRun(project: ProjectEntity, id: string): Promise<RunEntity> {
    const run = UUID.test(id)
      ? await this.runs.findByUuid(id)
      : /^\d+$/.test(id)
        ? await this.runs.findByNumber(project.id, Number(id))
        : null;
    if (!run || run.projectId !== project.id) throw new RunsException(RunsExceptionCode.NotFound, `run ${id} not found`);
    return run;
  }

  /** A run by uuid alone, with the caller's access checked (404 when none). */
  async findRunByUuid(identity: Identity, uuid: string): Promise<{ run: RunEntity; project: string }> {
    const run = UUID.test(uuid) ? await this.runs.findByUuid(uuid) : null;
    if (!run || (await this.policy.accessTo(identity, run)) === 'none') {
      throw new RunsException(RunsExceptionCode.NotFound, `run ${uuid} not found`);
    }
    return { run, project: await this.projectName(run.projectId) };
  }

  async projectName(projectId: string): Promise<string> {
    const project = await this.dataSource.getRepository(ProjectEntity).findOneOrFail({ where: { id: projectId } });
    const owner = await this.accounts.findUserById(project.ownerId);
    return `${owner?.username ?? 'unknown'}/${project.name}`;
  }

  /** Ask the scheduler to stop the run; the status moves when the scheduler reports it. */
  async stop(run: RunEntity, reason: string): Promise<void> {
    if (!isStoppable(run.status)) {
      throw new RunsException(
        RunsExceptionCode.NotStoppable,
        isFinal(run.status) ? `run ${run.number} already ended (${run.status})` : `run ${run.number} is already stopping`,
      );
    }
    await this.dataSource.transaction((m) =>
      enqueueOutbox(m, 'core', 'command', RunStop.PATTERN, { runUuid: run.uuid, reason } satisfies RunStop.Payload),
    );
    this.relay.poke();
  }

  /** Apply a status the scheduler observed; duplicates and late events are refused by the state machine. */
  async applyStatus(event: RunStatusChanged.Payload): Promise<void> {
    const result = await this.runs.applyStatus(event.runUuid, {
      status: event.status,
      reason: event.reason,
      message: event.message,
      at: new Date(event.at),
      ...(event.exitCode !== undefined ? { exitCode: event.exitCode } : {}),
    });
    if (!result.applied) {
      this.logger.debug(
        `ignored status ${event.status} for run ${event.runUuid}: ${result.reason}${result.run ? ` (is ${result.run.status})` : ''}`,
      );
    }
  }
}
