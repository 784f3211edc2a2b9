import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, In, IsNull } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { canTransition, isFinal, MessageKind, RunCondition, RunKind, RunStatus } from '@myelin/contracts';
import { ProjectEntity } from '../entities/project.entity';
import { RunConditionEntity } from '../entities/run-condition.entity';
import { RunEntity } from '../entities/run.entity';
import { enqueueOutbox, enqueueOutboxMany, OutboxEntry } from '../../outbox/outbox-relay';
import { GroupCommitter } from '../../group-commit/group-committer';

/** A run as its view shows it: without the compiled spec and the submitted files (see RunsRepository.findView). */
export type RunWithoutSpec = Omit<RunEntity, 'spec' | 'content'>;

const RUN_START_PATTERN = 'scheduler.cmd.run.start.v1';

/**
 * What the scheduler needs to know about a run beyond its spec: for admission, the submitter's
 * username and teams (`org/team`) for quotas, and the parent's kind and concurrency (a group's
 * `hptuning.concurrency`, a pipeline's `concurrency`); for the code snapshot, whose code the run
 * copies (`codeOf`: its parent's, or for the trial of a search that is a pipeline's op, the
 * pipeline's). Read in the creating transaction.
 */
export async function admissionFacts(
  manager: EntityManager,
  run: Pick<RunEntity, 'createdBy' | 'parentUuid'>,
  /** The parent row when the caller has it in hand (a pipeline's is large: not read again per op). */
  knownParent?: Pick<RunEntity, 'uuid' | 'kind' | 'spec' | 'parentUuid'>,
): Promise<{ user?: string; teams?: string[]; parentKind?: 'group' | 'pipeline'; parentConcurrency?: number; codeOf?: string }> {
  const out: { user?: string; teams?: string[]; parentKind?: 'group' | 'pipeline'; parentConcurrency?: number; codeOf?: string } = {};
  // The username and the teams in one statement (a run is created several times a second under load).
  const users = (await manager.query(
    `SELECT u."username",
            coalesce((SELECT array_agg(o."name" || '/' || t."name" ORDER BY o."name" || '/' || t."name")
                        FROM "core"."team_members" tm
                        JOIN "core"."teams" t ON t."id" = tm."team_id" JOIN "core"."organizations" o ON o."id" = t."org_id"
                       WHERE tm."user_id" = u."id"), '{}') AS "teams"
       FROM "core"."users" u WHERE u."id" = $1`,
    [run.createdBy],
  )) as Array<{ username: string; teams: string[] }>;
  if (users.length) out.user = users[0].username;
  out.teams = users[0]?.teams ?? [];
  if (run.parentUuid) {
    type ParentFacts = { kind: string; spec: { hptuning?: { concurrency?: unknown }; raw?: { concurrency?: unknown } }; parentUuid: string | null };
    const parent: ParentFacts | undefined =
      knownParent?.uuid === run.parentUuid
        ? (knownParent as ParentFacts)
        : ((await manager.query(`SELECT "kind", "spec", "parent_uuid" AS "parentUuid" FROM "core"."runs" WHERE "uuid" = $1`, [run.parentUuid])) as ParentFacts[])[0];
    if (parent && (parent.kind === 'group' || parent.kind === 'pipeline')) {
      out.parentKind = parent.kind;
      const c = parent.kind === 'group' ? parent.spec?.hptuning?.concurrency : parent.spec?.raw?.concurrency;
      if (typeof c === 'number' && Number.isInteger(c) && c > 0) out.parentConcurrency = c;
      out.codeOf = parent.kind === 'group' && parent.parentUuid ? parent.parentUuid : run.parentUuid;
    }
  }
  return out;
}

export interface OutboxMessage {
  kind: Exclude<MessageKind, 'request'>;
  pattern: string;
  /** Built once the run exists (it needs the uuid and number). */
  payload: (run: RunEntity) => object;
}

/** The activity record of a creation (core.activity), written with the run. */
export interface CreationActivity {
  actorId: string | null;
  actor: string;
  action: string;
  /** Built once the run exists (it needs the number). */
  details: (run: RunEntity) => Record<string, unknown>;
}

interface RunCreation {
  input: NewRun;
  messages: OutboxMessage[];
  activity?: CreationActivity;
}

/** The most runs one creating transaction writes (a larger burst is written in several). */
const MAX_RUNS_CREATED_TOGETHER = 64;

export interface NewRun {
  projectId: string;
  kind: RunKind;
  name?: string | null;
  description?: string;
  tags?: string[];
  content: string;
  spec: Record<string, unknown>;
  params: Record<string, unknown>;
  codeDir?: string | null;
  createdBy: string;
  /** False: tracked from outside, never started by the scheduler. */
  managed?: boolean;
  parentUuid?: string | null;
  originalUuid?: string | null;
  cloningStrategy?: string | null;
  trialKey?: string | null;
  /** Not stored: the parent row when the caller has it (spares the start command's admission facts a read of it). */
  parentRun?: Pick<RunEntity, 'uuid' | 'kind' | 'spec' | 'parentUuid'>;
}

/** The columns a status change reads and writes (not the run's large spec and content). */
export type RunStatusRow = Pick<RunEntity, 'uuid' | 'kind' | 'status' | 'statusReason' | 'statusMessage' | 'exitCode' | 'startedAt' | 'finishedAt'>;

export type StatusUpdateResult =
  | { applied: true; run: RunStatusRow }
  | { applied: false; reason: 'not_found' | 'illegal_transition'; run?: RunStatusRow };

/** SQL from libs/query over alias `r`: `where`'s parameters first (`whereParamCount` of them), then `orderBy`'s. */
export interface RunFilter {
  where: string;
  orderBy: string;
  params: unknown[];
  whereParamCount: number;
}

export interface Page<T> {
  count: number;
  results: T[];
}

export class RunsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async getOrCreateProject(ownerId: string, name: string): Promise<ProjectEntity> {
    const repo = this.dataSource.getRepository(ProjectEntity);
    const existing = await repo.findOne({ where: { ownerId, orgId: IsNull(), name } });
    if (existing) return existing;
    await this.dataSource.query(
      `INSERT INTO "core"."projects" ("id", "owner_id", "name") VALUES ($1, $2, $3)
       ON CONFLICT ("owner_id", "name") WHERE "org_id" IS NULL DO NOTHING`,
      [randomUUID(), ownerId, name],
    );
    return repo.findOneOrFail({ where: { ownerId, orgId: IsNull(), name } });
  }


  /**
   * Create a run with its per-project number, its first condition and the messages that
   * announce it, in one transaction: either all of it exists or none of it does.
   *
   * Creations that arrive together (a burst of submissions, a pipeline's wave of ops, a search's
   * trials) are written together: one transaction, one counter update per project and one
   * statement each for the runs, their conditions and their messages, instead of eight statements
   * per run. Numbers follow the order of arrival. If a group fails, each of its runs is created
   * alone, so one bad creation (a missing project, a trial key taken) fails only its own caller.
   */
  create(
    input: NewRun,
    messages: OutboxMessage[] = [],
    /** Who created it, for the activity log (in the same transaction). */
    activity?: CreationActivity,
  ): Promise<RunEntity> {
    return this.creations.submit({ input, messages, activity });
  }

  private readonly creations = new GroupCommitter<RunCreation, RunEntity>((group) => this.createGroup(group), {
    gather: true,
    maxGroupSize: MAX_RUNS_CREATED_TOGETHER,
  });

  private insert?: { columns: ColumnMetadata[]; sql: string };

  /** The multi-row INSERT of runs, from the entity's own columns (all but the creation and update times). */
  private runInsert(): { columns: ColumnMetadata[]; sql: string } {
    if (this.insert) return this.insert;
    const columns = this.dataSource.getMetadata(RunEntity).columns.filter((c) => !c.isCreateDate && !c.isUpdateDate);
    const names = columns.map((c) => `"${c.databaseName}"`);
    const sql = `INSERT INTO "core"."runs" (${names.join(', ')})
       SELECT ${names.map((n) => `r.${n}`).join(', ')}
         FROM jsonb_populate_recordset(NULL::"core"."runs", $1::jsonb) WITH ORDINALITY AS r
        ORDER BY r.ordinality
       RETURNING "uuid", "created_at", "updated_at"`;
    return (this.insert = { columns, sql });
  }

  private createGroup(group: RunCreation[]): Promise<RunEntity[]> {
    return this.dataSource.transaction(async (manager) => {
      // Each project's counter moves once, by the number of its runs in the group, in the order of
      // the projects' ids: two replicas' groups over the same projects lock them in the same order
      // (no deadlock). A group rarely spans more than one project.
      const perProject = new Map<string, number>();
      for (const { input } of group) perProject.set(input.projectId, (perProject.get(input.projectId) ?? 0) + 1);
      const nextNumber = new Map<string, number>();
      for (const projectId of [...perProject.keys()].sort()) {
        const count = perProject.get(projectId) as number;
        const counter = (await manager.query(
          `WITH bumped AS (
             UPDATE "core"."projects" SET "last_run_number" = "last_run_number" + $2, "updated_at" = now()
             WHERE "id" = $1 RETURNING "last_run_number"
           ) SELECT "last_run_number" FROM bumped`,
          [projectId, count],
        )) as Array<{ last_run_number: number }>;
        if (counter.length) nextNumber.set(projectId, Number(counter[0].last_run_number) - count + 1);
      }
      const runs = group.map(({ input }) => {
        const number = nextNumber.get(input.projectId);
        if (number === undefined) throw new Error(`project ${input.projectId} does not exist`);
        nextNumber.set(input.projectId, number + 1);
        return manager.create(RunEntity, {
          uuid: randomUUID(),
          projectId: input.projectId,
          number,
          kind: input.kind,
          name: input.name ?? null,
          description: input.description ?? '',
          tags: input.tags ?? [],
          content: input.content,
          spec: input.spec,
          params: input.params,
          codeDir: input.codeDir ?? null,
          status: 'created',
          statusReason: 'Created',
          statusMessage: '',
          exitCode: null,
          parentUuid: input.parentUuid ?? null,
          originalUuid: input.originalUuid ?? null,
          cloningStrategy: input.cloningStrategy ?? null,
          trialKey: input.trialKey ?? null,
          createdBy: input.createdBy,
          managed: input.managed ?? true,
          readme: '',
          archivedAt: null,
          startedAt: null,
          finishedAt: null,
        });
      });
      // All rows in one statement whatever their number (one prepared statement): a JSON array
      // of rows by column name, with the columns the table sets itself (created_at, updated_at) read back.
      const { columns, sql } = this.runInsert();
      const rows = runs.map((run) => Object.fromEntries(columns.map((c) => [c.databaseName, c.getEntityValue(run)])));
      const stamps = (await manager.query(sql, [JSON.stringify(rows)])) as Array<{ uuid: string; created_at: Date; updated_at: Date }>;
      const stampOf = new Map(stamps.map((row) => [row.uuid, row]));
      for (const run of runs) {
        const stamp = stampOf.get(run.uuid);
        if (stamp) Object.assign(run, { createdAt: stamp.created_at, updatedAt: stamp.updated_at });
      }
      const now = new Date();
      await manager.query(
        `INSERT INTO "core"."run_conditions" ("run_uuid", "status", "reason", "message", "at")
         SELECT u, 'created', 'Created', '', $2::timestamptz FROM unnest($1::uuid[]) AS u`,
        [runs.map((r) => r.uuid), now],
      );
      const activities = group.flatMap(({ activity }, i) => (activity ? [{ ...activity, run: runs[i] }] : []));
      if (activities.length) {
        await manager.query(
          `INSERT INTO "core"."activity" ("actor_id", "actor", "action", "entity", "entity_id", "project_id", "details")
           SELECT a.actor_id, a.actor, a.action, 'run', a.entity_id, a.project_id, a.details
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::jsonb[]) WITH ORDINALITY
                  AS a(actor_id, actor, action, entity_id, project_id, details, n)
            ORDER BY a.n`,
          [
            activities.map((a) => a.actorId),
            activities.map((a) => a.actor),
            activities.map((a) => a.action),
            activities.map((a) => a.run.uuid),
            activities.map((a) => a.run.projectId),
            activities.map((a) => JSON.stringify(a.details(a.run))),
          ],
        );
      }
      const queued: OutboxEntry[] = [];
      // Admission facts are the same for every run of one submitter and parent: read once per group.
      const facts = new Map<string, ReturnType<typeof admissionFacts>>();
      for (const [i, { input, messages }] of group.entries()) {
        const run = runs[i];
        for (const m of messages) {
          const payload = m.payload(run);
          // Start commands carry what the scheduler's admission needs (submitter, teams, parent concurrency).
          if (m.pattern === RUN_START_PATTERN) {
            const key = `${run.createdBy} ${run.parentUuid ?? ''}`;
            if (!facts.has(key)) facts.set(key, admissionFacts(manager, run, input.parentRun));
            Object.assign(payload, await facts.get(key));
          }
          queued.push({ kind: m.kind, pattern: m.pattern, payload });
        }
      }
      await enqueueOutboxMany(manager, 'core', queued);
      return runs;
    });
  }

  /**
   * Keep the API's copy of a run's metric summaries: a summary replaces the stored one only if
   * it counts at least as many points (out-of-order events never regress it); summaries of a
   * deleted run are dropped.
   */
  async upsertMetricSummaries(
    runUuid: string,
    metrics: Array<{ name: string; last: number | null; lastStep: number | null; min: number | null; max: number | null; count: number }>,
  ): Promise<void> {
    if (!metrics.length) return;
    await this.dataSource.query(
      `INSERT INTO "core"."run_metrics" ("run_uuid", "name", "last", "last_step", "min", "max", "count")
       SELECT $1, m.name, m.last, m.last_step, m.min, m.max, m.count
         FROM unnest($2::text[], $3::float8[], $4::bigint[], $5::float8[], $6::float8[], $7::bigint[]) AS m(name, last, last_step, min, max, count)
        WHERE EXISTS (SELECT 1 FROM "core"."runs" WHERE "uuid" = $1)
       ON CONFLICT ("run_uuid", "name") DO UPDATE SET
         "last" = EXCLUDED."last", "last_step" = EXCLUDED."last_step", "min" = EXCLUDED."min",
         "max" = EXCLUDED."max", "count" = EXCLUDED."count"
       WHERE "core"."run_metrics"."count" <= EXCLUDED."count"`,
      [
        runUuid,
        metrics.map((m) => m.name),
        metrics.map((m) => m.last),
        metrics.map((m) => m.lastStep),
        metrics.map((m) => m.min),
        metrics.map((m) => m.max),
        metrics.map((m) => m.count),
      ],
    );
  }

  async metricSummaries(
    runUuid: string,
  ): Promise<Array<{ name: string; last: number | null; lastStep: number | null; min: number | null; max: number | null; count: number }>> {
    const rows = (await this.dataSource.query(
      `SELECT "name", "last", "last_step", "min", "max", "count" FROM "core"."run_metrics" WHERE "run_uuid" = $1 ORDER BY "name"`,
      [runUuid],
    )) as Array<{ name: string; last: number | null; last_step: number | string | null; min: number | null; max: number | null; count: number | string }>;
    return rows.map((r) => ({ name: r.name, last: r.last, lastStep: r.last_step === null ? null : Number(r.last_step), min: r.min, max: r.max, count: Number(r.count) }));
  }

  async findTrial(parentUuid: string, trialKey: string): Promise<RunEntity | null> {
    // Most lookups are the check before a child is created, and find none: a bare read of the
    // (parent, key) index first, the entity only when there is one (TypeORM's findOne cost as
    // much as the rest of an op run's creation).
    const found = (await this.dataSource.query(`SELECT 1 FROM "core"."runs" WHERE "parent_uuid" = $1 AND "trial_key" = $2 LIMIT 1`, [parentUuid, trialKey])) as unknown[];
    if (!found.length) return null;
    return this.dataSource.getRepository(RunEntity).findOne({ where: { parentUuid, trialKey } });
  }

  /**
   * What may change on a parent run after its creation (status, name, tags) and its project's full
   * name, in one read: the parent's spec and content never change, so a caller creating many
   * children keeps those and reads only this per child.
   */
  async liveFacts(uuid: string): Promise<{ status: RunStatus; name: string | null; tags: string[]; project: string } | null> {
    const rows = (await this.dataSource.query(
      `SELECT r."status", r."name", r."tags",
              (CASE WHEN p."org_id" IS NOT NULL THEN o."name" ELSE u."username" END) || '/' || p."name" AS "project"
         FROM "core"."runs" r
         JOIN "core"."projects" p ON p."id" = r."project_id"
         LEFT JOIN "core"."organizations" o ON o."id" = p."org_id"
         LEFT JOIN "core"."users" u ON u."id" = p."owner_id"
        WHERE r."uuid" = $1`,
      [uuid],
    )) as Array<{ status: RunStatus; name: string | null; tags: string[]; project: string }>;
    return rows[0] ?? null;
  }

  findByUuid(uuid: string): Promise<RunEntity | null> {
    return this.dataSource.getRepository(RunEntity).findOne({ where: { uuid } });
  }

  findByNumber(projectId: string, number: number): Promise<RunEntity | null> {
    return this.dataSource.getRepository(RunEntity).findOne({ where: { projectId, number } });
  }

  /**
   * A run without its compiled spec and submitted files, which the run's view shows neither of:
   * what a watcher polls. A 1,000-op pipeline's are 190 kB, read and parsed at every poll (6.7 ms
   * of the platform's CPU per GET, measured; `myelin run --watch` polls it several times a second).
   */
  findView(where: { uuid: string } | { projectId: string; number: number }): Promise<RunWithoutSpec | null> {
    this.viewColumns ??= Object.fromEntries(
      this.dataSource
        .getMetadata(RunEntity)
        .columns.filter((c) => c.propertyName !== 'spec' && c.propertyName !== 'content')
        .map((c) => [c.propertyName, true]),
    );
    return this.dataSource.getRepository(RunEntity).findOne({ where, select: this.viewColumns });
  }
  private viewColumns?: Record<string, true>;

  /**
   * A filtered, sorted page of a project's runs. `where`/`orderBy` are SQL compiled by libs/query
   * over the alias `r` with placeholders from `$2` on (`$1` is the project).
   */
  async listFiltered(
    projectId: string,
    filter: RunFilter,
    { limit = 20, offset = 0, archived = false } = {},
  ): Promise<Page<RunEntity>> {
    const base = `FROM "core"."runs" r WHERE r."project_id" = $1 AND r."archived_at" IS ${archived ? 'NOT ' : ''}NULL AND (${filter.where})`;
    const params = [projectId, ...filter.params];
    const countParams = params.slice(0, 1 + filter.whereParamCount);
    const [{ n }] = (await this.dataSource.query(`SELECT count(*)::int AS n ${base}`, countParams)) as Array<{ n: number }>;
    const order = filter.orderBy ? `${filter.orderBy}, r."number" DESC` : 'r."number" DESC';
    const rows = (await this.dataSource.query(
      `SELECT r."uuid" ${base} ORDER BY ${order} LIMIT ${Number(limit)} OFFSET ${Number(offset)}`,
      params,
    )) as Array<{ uuid: string }>;
    const byUuid = new Map(
      (await this.dataSource.getRepository(RunEntity).findBy({ uuid: In(rows.map((r) => r.uuid)) })).map((r) => [r.uuid, r] as const),
    );
    return { count: Number(n), results: rows.map((r) => byUuid.get(r.uuid) as RunEntity) };
  }

  /** Runs not final, oldest first: what a reconciler looks at. */
  listUnfinished(statuses: RunStatus[], olderThan: Date, limit = 500): Promise<RunEntity[]> {
    return this.dataSource
      .getRepository(RunEntity)
      .createQueryBuilder('r')
      .where('r.status IN (:...statuses)', { statuses })
      .andWhere('r.updated_at < :olderThan', { olderThan })
      .orderBy('r.created_at', 'ASC')
      .limit(limit)
      .getMany();
  }

  async conditions(uuid: string): Promise<RunCondition[]> {
    const rows = await this.dataSource
      .getRepository(RunConditionEntity)
      .find({ where: { runUuid: uuid }, order: { id: 'ASC' } });
    return rows.map((r) => ({ status: r.status, reason: r.reason, message: r.message, at: r.at.toISOString() }));
  }

  /**
   * Apply a status through the state machine, under a row lock: a duplicate, late or
   * out-of-order status is refused instead of moving the run backwards.
   */
  async applyStatus(
    uuid: string,
    change: StatusChangeInput,
    messages: Array<Omit<OutboxMessage, 'payload'> & { payload: object }> = [],
  ): Promise<StatusUpdateResult> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const [result] = await this.applyStatusesIn(manager, [{ uuid, change }]);
      if (result.applied) for (const m of messages) await enqueueOutbox(manager, 'core', m.kind, m.pattern, m.payload);
      return result;
    });
  }

  /**
   * Apply many observed statuses in one transaction with a few set-based statements (group
   * commit of the status events: the platform's most frequent write). Changes of one run apply
   * in the given order; each is decided as `applyStatus` would.
   */
  applyStatuses(changes: Array<{ uuid: string; change: StatusChangeInput }>): Promise<StatusUpdateResult[]> {
    return this.dataSource.transaction((manager) => this.applyStatusesIn(manager, changes));
  }

  private async applyStatusesIn(manager: EntityManager, changes: Array<{ uuid: string; change: StatusChangeInput }>): Promise<StatusUpdateResult[]> {
    const uuids = [...new Set(changes.map((c) => c.uuid))].sort();
    // Locked in one order (by uuid), so two groups never wait on each other.
    const rows = (await manager.query(
      `SELECT "uuid", "kind", "status", "status_reason", "status_message", "exit_code", "started_at", "finished_at"
         FROM "core"."runs" WHERE "uuid" = ANY($1::uuid[]) ORDER BY "uuid" FOR UPDATE`,
      [uuids],
    )) as Array<Record<string, unknown>>;
    const current = new Map<string, RunStatusRow>(
      rows.map((r) => [
        r['uuid'] as string,
        {
          uuid: r['uuid'] as string,
          kind: r['kind'] as RunKind,
          status: r['status'] as RunStatus,
          statusReason: (r['status_reason'] as string | null) ?? '',
          statusMessage: (r['status_message'] as string | null) ?? '',
          exitCode: r['exit_code'] === null ? null : Number(r['exit_code']),
          startedAt: (r['started_at'] as Date | null) ?? null,
          finishedAt: (r['finished_at'] as Date | null) ?? null,
        },
      ]),
    );
    const changed = new Set<string>();
    const conditions: Array<{ uuid: string; status: RunStatus; reason: string; message: string; at: Date }> = [];
    const results = changes.map(({ uuid, change }): StatusUpdateResult => {
      const run = current.get(uuid);
      if (!run) return { applied: false, reason: 'not_found' };
      const decision = decideStatusChange(run, change);
      if (!decision) return { applied: false, reason: 'illegal_transition', run: { ...run } };
      Object.assign(run, decision);
      changed.add(uuid);
      conditions.push({ uuid, status: run.status, reason: change.reason, message: change.message, at: change.at });
      return { applied: true, run: { ...run } };
    });
    if (!changed.size) return results;
    const updated = [...changed].map((uuid) => current.get(uuid) as RunStatusRow);
    await manager.query(
      `UPDATE "core"."runs" r SET "status" = v.status, "status_reason" = v.reason, "status_message" = v.message,
              "exit_code" = v.exit_code, "started_at" = v.started_at, "finished_at" = v.finished_at, "updated_at" = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::timestamptz[])
              AS v(uuid, status, reason, message, exit_code, started_at, finished_at)
        WHERE r."uuid" = v.uuid`,
      [
        updated.map((r) => r.uuid),
        updated.map((r) => r.status),
        updated.map((r) => r.statusReason),
        updated.map((r) => r.statusMessage),
        updated.map((r) => r.exitCode),
        updated.map((r) => r.startedAt),
        updated.map((r) => r.finishedAt),
      ],
    );
    await manager.query(
      `INSERT INTO "core"."run_conditions" ("run_uuid", "status", "reason", "message", "at")
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`,
      [conditions.map((c) => c.uuid), conditions.map((c) => c.status), conditions.map((c) => c.reason), conditions.map((c) => c.message), conditions.map((c) => c.at)],
    );
    // A run's own token dies with the run, in the same transaction.
    const ended = updated.filter((r) => isFinal(r.status)).map((r) => r.uuid);
    if (ended.length) {
      await manager.query(`UPDATE "core"."tokens" SET "revoked_at" = now() WHERE "run_uuid" = ANY($1::uuid[]) AND "revoked_at" IS NULL`, [ended]);
    }
    return results;
  }
}

export interface StatusChangeInput {
  status: RunStatus;
  reason: string;
  message: string;
  at: Date;
  exitCode?: number;
}

/**
 * What a status change writes on a run as it is now, or null when it is refused: a waiting
 * run whose condition changed keeps its status with the new reason (an identical one is a
 * duplicate); otherwise the state machine decides, so a duplicate, late or out-of-order status
 * never moves a run backwards.
 */
export function decideStatusChange(run: RunStatusRow, change: StatusChangeInput): Partial<RunStatusRow> | null {
  if ((run.status === 'queued' || run.status === 'unschedulable') && change.status === run.status) {
    if (run.statusReason === change.reason && run.statusMessage === change.message) return null;
    return { statusReason: change.reason, statusMessage: change.message };
  }
  if (!canTransition(run.status, change.status, run.kind)) return null;
  const changed: Partial<RunStatusRow> = { status: change.status, statusReason: change.reason, statusMessage: change.message };
  if (change.exitCode !== undefined) changed.exitCode = change.exitCode;
  if (change.status === 'running' && !run.startedAt) changed.startedAt = change.at;
  if (isFinal(change.status)) changed.finishedAt = change.at;
  return changed;
}
