import { DataSource, EntityManager } from 'typeorm';
import { canTransition, RunStatus, RunStatusChanged } from '@myelin/contracts';
import { ExecutionEntity } from '../entities/execution.entity';
import { enqueueOutbox } from '../../outbox/outbox-relay';

export interface StatusChange {
  status: RunStatus;
  reason: string;
  message: string;
  exitCode?: number;
}

export type ExecutionPatch = Partial<
  Pick<
    ExecutionEntity,
    | 'pid'
    | 'pidStartTime'
    | 'workdir'
    | 'stdoutOffset'
    | 'stderrOffset'
    | 'exitCode'
    | 'stopRequestedAt'
    | 'startedAt'
    | 'finishedAt'
    | 'attempt'
  >
>;

/**
 * The scheduler's queue and process records. Every status change is written with its
 * "status changed" event in one transaction (outbox), under a row lock and through the
 * state machine, so a status is never decided twice nor moved backwards.
 */
export class ExecutionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ExecutionEntity);
  }

  /** Insert a new queued execution; false when the run is already known (a repeated start command). */
  async enqueue(execution: Omit<ExecutionEntity, 'createdAt' | 'updatedAt'>, queued: StatusChange): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const inserted = (await m
        .createQueryBuilder()
        .insert()
        .into(ExecutionEntity)
        .values(execution as object)
        .orIgnore()
        .returning(['runUuid'])
        .execute()) as { raw: unknown[] };
      if (!inserted.raw.length) return false;
      await this.emitStatus(m, execution.runUuid, queued);
      return true;
    });
  }

  async remove(runUuid: string): Promise<void> {
    await this.repo.delete({ runUuid });
  }

  find(runUuid: string): Promise<ExecutionEntity | null> {
    return this.repo.findOne({ where: { runUuid } });
  }

  /** Waiting runs, highest priority first, FIFO within a priority. */
  nextQueued(limit: number): Promise<ExecutionEntity[]> {
    return this.repo.find({ where: { status: 'queued' }, order: { priority: 'DESC', createdAt: 'ASC' }, take: limit });
  }

  countByStatus(statuses: RunStatus[]): Promise<number> {
    return this.repo.createQueryBuilder('e').where('e.status IN (:...statuses)', { statuses }).getCount();
  }

  listByStatus(statuses: RunStatus[]): Promise<ExecutionEntity[]> {
    return this.repo.createQueryBuilder('e').where('e.status IN (:...statuses)', { statuses }).orderBy('e.created_at').getMany();
  }

  async patch(runUuid: string, patch: ExecutionPatch): Promise<void> {
    await this.repo.update({ runUuid }, patch);
  }

  /**
   * Move to a new status if the state machine allows it from the current one, with the patch
   * and the event in the same transaction. Returns the updated row, or null when refused.
   */
  async transition(runUuid: string, change: StatusChange, patch: ExecutionPatch = {}): Promise<ExecutionEntity | null> {
    return this.settle(runUuid, () => change, patch);
  }

  /**
   * Like `transition`, but the status is decided from the row as it is under the lock: a stop
   * that lands while a pass is settling a finished process turns the outcome into `stopped`
   * instead of racing it.
   */
  async settle(
    runUuid: string,
    decide: (current: ExecutionEntity) => StatusChange,
    patch: ExecutionPatch = {},
  ): Promise<ExecutionEntity | null> {
    return this.dataSource.transaction(async (m) => {
      const row = await m
        .getRepository(ExecutionEntity)
        .createQueryBuilder('e')
        .setLock('pessimistic_write')
        .where('e.run_uuid = :runUuid', { runUuid })
        .getOne();
      if (!row) return null;
      const change = decide(row);
      if (!canTransition(row.status, change.status, row.kind)) return null;
      Object.assign(row, patch, { status: change.status });
      if (change.exitCode !== undefined) row.exitCode = change.exitCode;
      await m.getRepository(ExecutionEntity).save(row);
      await this.emitStatus(m, runUuid, change, row.attempt);
      return row;
    });
  }

  /** Re-announce the current status of executions (after a restart: consumers may have missed it). */
  async reannounce(rows: ExecutionEntity[]): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      for (const row of rows) {
        await this.emitStatus(m, row.runUuid, { status: row.status, reason: 'Resync', message: '' }, row.attempt);
      }
    });
  }

  private async emitStatus(m: EntityManager, runUuid: string, change: StatusChange, attempt = 0): Promise<void> {
    const payload: RunStatusChanged.Payload = {
      runUuid,
      status: change.status,
      reason: change.reason,
      message: change.message,
      at: new Date().toISOString(),
      attempt,
      ...(change.exitCode !== undefined ? { exitCode: change.exitCode } : {}),
    };
    await enqueueOutbox(m, 'scheduler', 'event', RunStatusChanged.PATTERN, payload);
  }
}
