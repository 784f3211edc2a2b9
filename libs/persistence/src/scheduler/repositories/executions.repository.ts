import { DataSource, EntityManager } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { canTransition, RunStatus, RunStatusChanged } from '@myelin/contracts';
import { ExecutionEntity } from '../entities/execution.entity';
import { enqueueOutbox, enqueueOutboxMany, OutboxEntry, outboxWritten } from '../../outbox/outbox-relay';
import { GroupCommitter } from '../../group-commit/group-committer';

/** A command for another service, queued in the scheduler's outbox with a change of an execution. */
export interface OutboxCommand {
  pattern: string;
  payload: object;
}

export interface StatusChange {
  status: RunStatus;
  reason: string;
  message: string;
  exitCode?: number;
}

/**
 * Fencing: the token of the claim a status write is made under. `claim` takes the run over (the
 * write succeeds only if no later claim was made, and stores the token); otherwise the write
 * succeeds only while the stored token is still this one (a stale replica is refused).
 */
export interface Fence {
  token: number;
  claim?: boolean;
  owner?: string;
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
    | 'retryAt'
    | 'timedOutAt'
    | 'devices'
  >
>;

/**
 * The scheduler's queue and process records. Every status change is written with its
 * "status changed" event in one transaction (outbox), under a row lock and through the
 * state machine, so a status is never decided twice nor moved backwards.
 */
export class ExecutionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every column but the command, params and spec: what supervision and status changes read. */
  private get leanColumns(): string[] {
    const large = new Set(['cmd', 'params', 'spec']);
    return this.dataSource.getMetadata(ExecutionEntity).columns.map((c) => c.propertyName).filter((c) => !large.has(c));
  }

  /** The SELECT lists and columns of the lean and the full reads, made once (see readRows). */
  private readonly shapes = new Map<'lean' | 'full', { select: string; columns: Array<{ column: ColumnMetadata; plain: boolean }> }>();

  /**
   * The scheduler's hot reads of executions rows: lean ones (listLean, findLean, listQueueHead;
   * every column but the command, params and spec) read several times a second by admission and
   * supervision passes, and the rows a group of status changes locks. TypeORM's query builder made
   * the SELECT list again and mapped each row through its general transformer at every call, about
   * as much CPU as the query itself on the embedded database. Here each list is made once and each
   * row hydrated as TypeORM does (`prepareHydratedValue`, `setEntityValue`), except for the plain
   * columns, whose value the driver's parsers already give as TypeORM would leave it (a Date, a
   * number, parsed JSON, a string): those are taken as they are. The same entities, checked
   * against TypeORM's in the reads suite; 0.74 -> 0.47 ms for a read of 32 live runs.
   */
  private async readRows(
    source: DataSource | EntityManager,
    shape: 'lean' | 'full',
    where: string,
    parameters: unknown[],
    order: string,
    tail = '',
  ): Promise<ExecutionEntity[]> {
    const metadata = this.dataSource.getMetadata(ExecutionEntity);
    let known = this.shapes.get(shape);
    if (!known) {
      const lean = new Set(this.leanColumns);
      const columns = metadata.columns
        .filter((c) => shape === 'full' || lean.has(c.propertyName))
        .map((column) => ({ column, plain: isPlainColumn(column) }));
      known = { select: columns.map(({ column }) => `"${column.databaseName}"`).join(', '), columns };
      this.shapes.set(shape, known);
    }
    const { select, columns } = known;
    const rows = (await source.query(`SELECT ${select} FROM "scheduler"."executions" WHERE ${where} ORDER BY ${order}${tail}`, parameters)) as Array<Record<string, unknown>>;
    const driver = this.dataSource.driver;
    return rows.map((raw) => {
      const entity = metadata.create(undefined, { fromDeserializer: true }) as ExecutionEntity;
      const fields = entity as unknown as Record<string, unknown>;
      for (const { column, plain } of columns) {
        const value = raw[column.databaseName];
        if (value === undefined) continue;
        if (plain && !(typeof value === 'string' && column.type === 'timestamptz')) fields[column.propertyName] = value;
        else column.setEntityValue(entity, driver.prepareHydratedValue(value, column));
      }
      return entity;
    });
  }

  private get repo() {
    return this.dataSource.getRepository(ExecutionEntity);
  }

  /**
   * Insert a new queued execution with its status event; false when the run is already known (a
   * repeated start command). Group-committed like status changes: the runs created in a burst are
   * queued by one statement (rows and events together, no explicit transaction).
   */
  enqueue(execution: Omit<ExecutionEntity, 'createdAt' | 'updatedAt'>, queued: StatusChange): Promise<boolean> {
    return this.enqueues.submit({ execution, queued });
  }

  private readonly enqueues = new GroupCommitter<{ execution: Omit<ExecutionEntity, 'createdAt' | 'updatedAt'>; queued: StatusChange }, boolean>(
    (items) => this.enqueueGroup(items),
    { gather: true },
  );

  private async enqueueGroup(items: Array<{ execution: Omit<ExecutionEntity, 'createdAt' | 'updatedAt'>; queued: StatusChange }>): Promise<boolean[]> {
    // A run asked twice in one group: only its first command counts (the second is the repeat).
    const seen = new Set<string>();
    const firsts = items.filter(({ execution }) => !seen.has(execution.runUuid) && seen.add(execution.runUuid));
    const metadata = this.dataSource.getMetadata(ExecutionEntity);
    const columns = metadata.columns.filter((c) => !c.isCreateDate && !c.isUpdateDate);
    const params: unknown[] = [];
    const tuples = firsts.map(({ execution }) => `(${columns.map((column) => typedParam(params, column, execution)).join(', ')})`);
    const events = firsts.map(({ execution, queued }) => statusMessage(execution, queued));
    const at = params.length;
    params.push(
      firsts.map((i) => i.execution.runUuid),
      events.map((e) => e.pattern),
      events.map((e) => e.kind),
      events.map((e) => JSON.stringify(e.payload)),
    );
    // The rows and their events in one statement: an event is queued only for a row inserted.
    const inserted = (await this.dataSource.query(
      `WITH ins AS (
         INSERT INTO "scheduler"."executions" (${columns.map((c) => `"${c.databaseName}"`).join(', ')})
         VALUES ${tuples.join(', ')}
         ON CONFLICT DO NOTHING RETURNING "run_uuid"),
       events AS (
         INSERT INTO "scheduler"."outbox" ("pattern", "kind", "payload")
         SELECT m.pattern, m.kind, m.payload
           FROM unnest($${at + 1}::uuid[], $${at + 2}::text[], $${at + 3}::text[], $${at + 4}::jsonb[]) WITH ORDINALITY AS m(run_uuid, pattern, kind, payload, n)
          WHERE m.run_uuid IN (SELECT "run_uuid" FROM ins) ORDER BY m.n)
       SELECT "run_uuid" FROM ins`,
      params,
    )) as Array<{ run_uuid: string }>;
    if (inserted.length) outboxWritten(this.dataSource, 'scheduler');
    const stored = new Set(inserted.map((r) => r.run_uuid));
    const counted = new Set<object>(firsts);
    return items.map((item) => counted.has(item) && stored.has(item.execution.runUuid));
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

  /** Change the priority of a run that still waits (queued or unschedulable); null when it does not wait (or is unknown). */
  async setPriority(runUuid: string, priority: number): Promise<ExecutionEntity | null> {
    const result = await this.repo
      .createQueryBuilder()
      .update(ExecutionEntity)
      .set({ priority })
      .where(`run_uuid = :runUuid AND status IN ('queued', 'unschedulable')`, { runUuid })
      .execute();
    return (result.affected ?? 0) > 0 ? this.find(runUuid) : null;
  }

  /**
   * Like `listByStatus`, without the command, params and spec (read only to launch a run, from the
   * row `transition` returns): what admission and supervision passes, several a second, read.
   */
  listLean(statuses: RunStatus[]): Promise<ExecutionEntity[]> {
    return this.readRows(this.dataSource, 'lean', `"status" = ANY($1::text[])`, [statuses], `"created_at"`);
  }

  /** One run's row, lean like `listLean` (what supervision reads of a run, without the command, params and spec). */
  async findLean(runUuid: string): Promise<ExecutionEntity | null> {
    return (await this.readRows(this.dataSource, 'lean', `"run_uuid" = $1`, [runUuid], `"run_uuid"`))[0] ?? null;
  }

  /** These runs' rows among those in `statuses`, lean like `listLean` (a pass that looks only at the runs with an exit notice). */
  listLeanOf(runUuids: string[], statuses: RunStatus[]): Promise<ExecutionEntity[]> {
    if (!runUuids.length) return Promise.resolve([]);
    return this.readRows(this.dataSource, 'lean', `"run_uuid" = ANY($1::uuid[]) AND "status" = ANY($2::text[])`, [runUuids, statuses], `"created_at"`);
  }

  /**
   * The first `limit` queued runs in queue order (priority, then FIFO; the partial index
   * executions_queue_idx), lean like `listLean`: what a pass reads when a few slots are free,
   * instead of the whole queue.
   */
  listQueueHead(limit: number): Promise<ExecutionEntity[]> {
    // (The limit as a parameter: one prepared statement, not one per limit.)
    return this.readRows(this.dataSource, 'lean', `"status" = 'queued'`, [Math.trunc(limit)], `"priority" DESC, "created_at" ASC, "run_uuid" ASC`, ' LIMIT $1');
  }

  listByStatus(statuses: RunStatus[]): Promise<ExecutionEntity[]> {
    return this.repo.createQueryBuilder('e').where('e.status IN (:...statuses)', { statuses }).orderBy('e.created_at').getMany();
  }

  /**
   * Update process fields; with a fence, only while the run is still held under that token (false
   * otherwise). `commands` are queued in the scheduler's outbox in the same transaction, and only
   * if the row was updated (a run's shipped log lines with the offsets they advance).
   */
  async patch(runUuid: string, patch: ExecutionPatch, fence?: Fence, commands: readonly OutboxCommand[] = []): Promise<boolean> {
    const where = fence ? { runUuid, fence: fence.token } : { runUuid };
    const update = async (m: EntityManager): Promise<boolean> => {
      const affected = (await m.getRepository(ExecutionEntity).update(where, patch)).affected ?? 0;
      return !fence || affected > 0;
    };
    if (!commands.length) return update(this.dataSource.manager);
    return this.dataSource.transaction(async (m) => {
      if (!(await update(m))) return false;
      await enqueueOutboxMany(m, 'scheduler', commands.map((c) => ({ kind: 'command' as const, ...c })));
      return true;
    });
  }

  /**
   * Move to a new status if the state machine allows it from the current one, with the patch
   * and the event in the same transaction. Returns the updated row, or null when refused.
   */
  async transition(
    runUuid: string,
    change: StatusChange,
    patch: ExecutionPatch = {},
    fence?: Fence,
    /** `full`: the returned row has the command, params and spec too (to launch it); else they are left out. */
    read: 'lean' | 'full' = 'lean',
  ): Promise<ExecutionEntity | null> {
    return this.settle(runUuid, () => change, patch, fence, read);
  }

  /**
   * Like `transition`, but the status is decided from the row as it is under the lock: a stop
   * that lands while a pass is settling a finished process turns the outcome into `stopped`
   * instead of racing it.
   *
   * Status changes are group-committed: the ones asked for while a group is being written go
   * together in the next transaction (a wave of runs ending or starting at once is a few
   * statements, not five per run). Each is still decided on its row under the row's lock, in the
   * order asked.
   */
  settle(
    runUuid: string,
    decide: (current: ExecutionEntity) => StatusChange,
    /** Fields to write with the status; a function when they depend on the status decided. */
    patch: ExecutionPatch | ((change: StatusChange, current: ExecutionEntity) => ExecutionPatch) = {},
    fence?: Fence,
    read: 'lean' | 'full' = 'lean',
    /** Queued in the outbox with the status (after it): the last log lines and the end of the log stream. */
    commands: readonly OutboxCommand[] = [],
  ): Promise<ExecutionEntity | null> {
    return this.settles.submit({ runUuid, decide, patch, fence, read, commands });
  }

  private readonly settles = new GroupCommitter<SettleRequest, ExecutionEntity | null>((requests) => this.settleGroup(requests), { gather: 'microtasks' });

  private settleGroup(requests: SettleRequest[]): Promise<Array<ExecutionEntity | null>> {
    return this.dataSource.transaction(async (m) => {
      const uuids = [...new Set(requests.map((r) => r.runUuid))].sort();
      const shape = requests.every((r) => r.read === 'lean') ? 'lean' : 'full';
      // Locked in one order (by run), so two groups never wait on each other.
      const rows = await this.readRows(m, shape, `"run_uuid" = ANY($1::uuid[])`, [uuids], `"run_uuid"`, ' FOR UPDATE');
      const byUuid = new Map(rows.map((r) => [r.runUuid, r]));
      const changedColumns = new Map<string, Set<string>>();
      const messages: OutboxEntry[] = [];
      const results = requests.map((request): ExecutionEntity | null => {
        const row = byUuid.get(request.runUuid);
        if (!row) return null;
        if (request.fence && !fenceHolds(row, request.fence)) return null;
        const change = request.decide(row);
        if (!canTransition(row.status, change.status, row.kind)) return null;
        // Only the columns that change (save() would read the whole row again to diff it).
        const changed: ExecutionPatch & Partial<Pick<ExecutionEntity, 'status' | 'statusReason' | 'statusMessage' | 'fence' | 'owner'>> = {
          ...(typeof request.patch === 'function' ? request.patch(change, row) : request.patch),
          status: change.status,
          statusReason: change.reason,
          statusMessage: change.message,
        };
        if (request.fence?.claim) {
          changed.fence = request.fence.token;
          if (request.fence.owner !== undefined) changed.owner = request.fence.owner;
        }
        if (change.exitCode !== undefined) changed.exitCode = change.exitCode;
        Object.assign(row, changed);
        const columns = changedColumns.get(row.runUuid) ?? new Set<string>();
        for (const key of Object.keys(changed)) columns.add(key);
        changedColumns.set(row.runUuid, columns);
        messages.push(statusMessage(row, change));
        for (const c of request.commands) messages.push({ kind: 'command', ...c });
        // A copy: a later change of the same run in this group must not alter what this caller got.
        return { ...row };
      });
      await this.writeRows(m, byUuid, changedColumns);
      await enqueueOutboxMany(m, 'scheduler', messages);
      return results;
    });
  }

  /**
   * Write each run's changed columns as the row is now (a run changed twice in a group is written
   * once, with its last state): one UPDATE per set of columns, from a VALUES list.
   */
  private async writeRows(m: EntityManager, rows: Map<string, ExecutionEntity>, changedColumns: Map<string, Set<string>>): Promise<void> {
    const bySignature = new Map<string, { properties: string[]; runs: string[] }>();
    for (const [runUuid, columns] of changedColumns) {
      const properties = [...columns].sort();
      const signature = properties.join(',');
      const entry = bySignature.get(signature) ?? { properties, runs: [] };
      entry.runs.push(runUuid);
      bySignature.set(signature, entry);
    }
    const metadata = this.dataSource.getMetadata(ExecutionEntity);
    for (const { properties, runs } of bySignature.values()) {
      const columns = properties.map((p) => metadata.findColumnWithPropertyName(p)!);
      const params: unknown[] = [];
      const tuples = runs.map((runUuid) => {
        params.push(runUuid);
        const row = rows.get(runUuid) as ExecutionEntity;
        return `($${params.length}::uuid, ${columns.map((column) => typedParam(params, column, row)).join(', ')})`;
      });
      const names = columns.map((c) => `"${c.databaseName}"`);
      await m.query(
        `UPDATE "scheduler"."executions" e SET ${names.map((n) => `${n} = v.${n}`).join(', ')}, "updated_at" = now()
           FROM (VALUES ${tuples.join(', ')}) AS v("run_uuid", ${names.join(', ')})
          WHERE e."run_uuid" = v."run_uuid"`,
        params,
      );
    }
  }

  /** Re-announce the current status of executions (after a restart: consumers may have missed it). */
  async reannounce(rows: ExecutionEntity[]): Promise<void> {
    await this.dataSource.transaction((m) =>
      enqueueOutboxMany(
        m,
        'scheduler',
        // The last condition again (a waiting run keeps saying which limit holds it), else a plain resync.
        rows.map((row) => statusMessage(row, row.statusReason ? { status: row.status, reason: row.statusReason, message: row.statusMessage ?? '' } : { status: row.status, reason: 'Resync', message: '' })),
      ),
    );
  }

  /**
   * A waiting run's condition changed (another limit holds it now) while its status stays: store
   * and announce it, once. Nothing happens when the status moved meanwhile or the condition is the
   * same, so a scheduler pass never repeats itself.
   */
  async updateCondition(runUuid: string, change: StatusChange): Promise<boolean> {
    return this.dataSource.transaction(async (m) => {
      const row = await m
        .getRepository(ExecutionEntity)
        .createQueryBuilder('e')
        .setLock('pessimistic_write')
        .where('e.run_uuid = :runUuid', { runUuid })
        .getOne();
      if (!row || row.status !== change.status) return false;
      if (row.statusReason === change.reason && row.statusMessage === change.message) return false;
      await m.getRepository(ExecutionEntity).update({ runUuid }, { statusReason: change.reason, statusMessage: change.message });
      await this.emitStatus(m, row, change);
      return true;
    });
  }

  /**
   * Take over the supervision of a live run whose replica is gone: succeeds only while nobody
   * claimed it since `previous` (the token read with the row), and stores the new token and owner.
   */
  async adopt(runUuid: string, previous: number, token: number, owner: string): Promise<boolean> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(ExecutionEntity)
      .set({ fence: token, owner })
      .where('run_uuid = :runUuid AND fence = :previous AND fence < :token', { runUuid, previous, token })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /**
   * Record a sign of life for several runs in one statement (the supervision pass batches every run
   * it saw alive, plus the heartbeats its tracking clients sent). Only runs still in one of
   * `statuses`, and only rows whose last heartbeat is older than `staleBefore` are written: a run is
   * written at most once per throttle period however often it is seen. Not fenced: a heartbeat is a
   * fact about the job, whichever replica learnt it. Returns the rows written.
   */
  async touchHeartbeats(runUuids: string[], statuses: RunStatus[], at: Date, staleBefore: Date): Promise<number> {
    if (!runUuids.length) return 0;
    const result = await this.repo
      .createQueryBuilder()
      .update(ExecutionEntity)
      .set({ heartbeatAt: at })
      .updateEntity(false)
      .where('run_uuid IN (:...runUuids) AND status IN (:...statuses) AND (heartbeat_at IS NULL OR heartbeat_at < :staleBefore)', {
        runUuids,
        statuses,
        staleBefore,
      })
      .execute();
    return result.affected ?? 0;
  }

  /**
   * Claim the finished runs whose working directory is due for cleanup (finished before
   * `finishedBefore`, not cleaned yet), at most `limit`, marking them cleaned in the same statement:
   * one query a period, and two replicas never clean the same run. Returns what the executor needs.
   */
  async claimWorkdirCleanup(
    executor: string,
    finishedBefore: Date,
    at: Date,
    limit: number,
  ): Promise<Array<Pick<ExecutionEntity, 'runUuid' | 'executor' | 'workdir' | 'parentUuid' | 'codeOf' | 'finishedAt'>>> {
    const rows = (await this.dataSource.query(
      `UPDATE "scheduler"."executions" SET "workdir_cleaned_at" = $2
        WHERE "run_uuid" IN (
          SELECT "run_uuid" FROM "scheduler"."executions"
           WHERE "workdir_cleaned_at" IS NULL AND "finished_at" IS NOT NULL AND "finished_at" < $1 AND "executor" = $4
           ORDER BY "finished_at" LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING "run_uuid", "executor", "workdir", "parent_uuid", "code_of", "finished_at"`,
      [finishedBefore, at, limit, executor],
    )) as unknown;
    // TypeORM answers an UPDATE with [rows, affected count] (PostgreSQL server and PGlite alike).
    const list = (Array.isArray(rows) && rows.length === 2 && Array.isArray(rows[0]) && typeof rows[1] === 'number' ? rows[0] : rows) as Array<{
      run_uuid: string;
      executor: string;
      workdir: string | null;
      parent_uuid: string | null;
      code_of: string | null;
      finished_at: Date | string;
    }>;
    return list.map((r) => ({ runUuid: r.run_uuid, executor: r.executor, workdir: r.workdir, parentUuid: r.parent_uuid, codeOf: r.code_of, finishedAt: new Date(r.finished_at) }));
  }

  private async emitStatus(m: EntityManager, row: StatusSource, change: StatusChange): Promise<void> {
    const { kind, pattern, payload } = statusMessage(row, change);
    await enqueueOutbox(m, 'scheduler', kind, pattern, payload);
  }
}

interface SettleRequest {
  runUuid: string;
  decide: (current: ExecutionEntity) => StatusChange;
  patch: ExecutionPatch | ((change: StatusChange, current: ExecutionEntity) => ExecutionPatch);
  fence?: Fence;
  read: 'lean' | 'full';
  commands: readonly OutboxCommand[];
}

type StatusSource = Pick<ExecutionEntity, 'runUuid' | 'attempt' | 'project' | 'parentUuid' | 'parentKind'>;

/** The "status changed" event of a run, as queued in the scheduler's outbox. */
function statusMessage(row: StatusSource, change: StatusChange): OutboxEntry {
  const payload: RunStatusChanged.Payload = {
    runUuid: row.runUuid,
    status: change.status,
    reason: change.reason,
    message: change.message,
    at: new Date().toISOString(),
    attempt: row.attempt ?? 0,
    ...(change.exitCode !== undefined ? { exitCode: change.exitCode } : {}),
    // Consumers that follow only their children (pipelines, the optimizer) skip runs with none. A
    // row made from a stop that overtook its start command knows nothing of the run: no claim then.
    ...(row.project ? { parentUuid: row.parentUuid ?? null } : {}),
    ...(row.project && row.parentUuid && row.parentKind ? { parentKind: row.parentKind } : {}),
  };
  return { kind: 'event', pattern: RunStatusChanged.PATTERN, payload };
}

/** Column types whose parsed value TypeORM's postgres driver hydrates unchanged (a timestamptz string aside: it makes a Date of it). */
const PLAIN_TYPES = new Set<unknown>(['uuid', 'text', 'integer', 'bigint', 'double precision', 'jsonb', 'timestamptz']);

/** A column TypeORM would hydrate as the driver parsed it: a plain type, no transformer, a top-level property. */
function isPlainColumn(column: ColumnMetadata): boolean {
  return PLAIN_TYPES.has(column.type) && !column.transformer && !column.embeddedMetadata && !column.relationMetadata && !column.isVirtual;
}

/** Add a row's value of `column` to `params` and return its placeholder, cast to the column's type (jsonb as text). */
function typedParam(params: unknown[], column: ColumnMetadata, row: object): string {
  const value = (row as Record<string, unknown>)[column.propertyName] ?? null;
  params.push(column.type === 'jsonb' && value !== null ? JSON.stringify(value) : value);
  return `$${params.length}::${String(column.type)}`;
}

function fenceHolds(row: ExecutionEntity, fence: Fence): boolean {
  const current = Number(row.fence);
  return fence.claim ? current < fence.token : current === fence.token;
}
