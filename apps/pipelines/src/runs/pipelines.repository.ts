import { DataSource, EntityManager } from 'typeorm';
import { enqueueOutbox } from '@myelin/persistence';
import { PipelineStatusChanged, PipelineStatusName, RunStopRequest } from '@myelin/contracts';

export interface PipelineRow {
  uuid: string;
  project: string;
  spec: Record<string, unknown>;
  snapshot: Record<string, unknown> | null;
  resumeOf: string | null;
  status: 'running' | 'done';
  finalStatus: string | null;
  /** The snapshot's op rows as stored in `op_states` (JSON, by op), when they are there (see save). */
  opsWritten?: Map<number, string>;
}

/** start: create and start the op run; mark: create it with a final status; reuse: taken from the retried run; cached: a cache hit; stop: RunStopRequest (the API stops it as its kind stops). */
export type ActionKind = 'start' | 'mark' | 'reuse' | 'cached' | 'stop';

export interface ActionRow {
  id: number;
  pipelineUuid: string;
  op: string;
  attempt: number;
  kind: ActionKind;
  mark: string | null;
  reason: string;
  params: Record<string, unknown>;
  reusedFrom: string | null;
  runUuid: string | null;
  runStatus: string | null;
  doneAt: Date | null;
  cacheScope: string | null;
  cacheKey: Record<string, unknown> | null;
}

export interface NewAction {
  op: string;
  attempt: number;
  kind: ActionKind;
  mark?: string;
  reason: string;
  params?: Record<string, unknown>;
  reusedFrom?: string;
  /** `cache: true` ops: where the key is kept, and the key the op run starts with. */
  cacheScope?: string;
  cacheKey?: unknown;
}

export interface CacheEntry {
  runUuid: string;
  key: Record<string, unknown>;
  status: string;
  outputs: Record<string, unknown>;
  finishedAt: Date;
}

/** In a stored snapshot: its op rows are in `op_states` (see save). */
const OPS_IN = 'opsIn';

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const FINAL_SQL = `('succeeded','failed','upstream_failed','stopped','skipped','done')`;

function toPipeline(r: Record<string, unknown>): PipelineRow {
  return {
    uuid: r['uuid'] as string,
    project: r['project'] as string,
    spec: json(r['spec']),
    snapshot: r['snapshot'] === null ? null : json(r['snapshot']),
    resumeOf: (r['resume_of'] as string | null) ?? null,
    status: r['status'] as PipelineRow['status'],
    finalStatus: (r['final_status'] as string | null) ?? null,
  };
}

function toAction(r: Record<string, unknown>): ActionRow {
  return {
    id: Number(r['id']),
    pipelineUuid: r['pipeline_uuid'] as string,
    op: r['op'] as string,
    attempt: Number(r['attempt']),
    kind: r['kind'] as ActionKind,
    mark: (r['mark'] as string | null) ?? null,
    reason: r['reason'] as string,
    params: json(r['params'] ?? {}),
    reusedFrom: (r['reused_from'] as string | null) ?? null,
    runUuid: (r['run_uuid'] as string | null) ?? null,
    runStatus: (r['run_status'] as string | null) ?? null,
    doneAt: r['done_at'] ? new Date(r['done_at'] as string) : null,
    cacheScope: (r['cache_scope'] as string | null) ?? null,
    cacheKey: r['cache_key'] === null || r['cache_key'] === undefined ? null : json(r['cache_key']),
  };
}

/** The pipelines service's tables (schema `pipelines`): pipeline runs, their decision log, and the actions decided. */
export class PipelinesRepository {
  constructor(readonly dataSource: DataSource) {}

  /** Insert a pipeline run once (a repeated "run created" is ignored). */
  async insertRun(uuid: string, project: string, spec: Record<string, unknown>, resumeOf: string | null): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO "pipelines"."runs" ("uuid", "project", "spec", "resume_of") VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [uuid, project, JSON.stringify(spec), resumeOf],
    );
  }

  /** The pipeline run with its whole snapshot (the op rows of `op_states` put back in it). */
  async find(m: EntityManager | DataSource, uuid: string): Promise<PipelineRow | null> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."runs" WHERE "uuid" = $1`, [uuid])) as Array<Record<string, unknown>>;
    if (!rows.length) return null;
    const row = toPipeline(rows[0]);
    if (row.snapshot?.[OPS_IN] === 'op_states') {
      const { [OPS_IN]: _where, ...header } = row.snapshot;
      const stored = (await m.query(`SELECT "state" FROM "pipelines"."op_states" WHERE "pipeline_uuid" = $1 ORDER BY "op"`, [uuid])) as Array<{ state: unknown }>;
      const ops = stored.map((r) => json<[number, ...unknown[]]>(r.state));
      row.snapshot = { ...header, ops };
      row.opsWritten = new Map(ops.map((op) => [op[0], JSON.stringify(op)]));
    }
    return row;
  }

  /**
   * The pipeline row locked for the rest of the transaction, without its (large) spec and snapshot:
   * its status and `xmin`, which changes with every write, so an engine kept in memory since the
   * last step can be trusted only if nothing else wrote the row meanwhile.
   */
  async lockLean(m: EntityManager, uuid: string): Promise<{ status: string; version: string; started: boolean } | null> {
    const rows = (await m.query(`SELECT "status", xmin::text AS "version", "snapshot" IS NOT NULL AS "started" FROM "pipelines"."runs" WHERE "uuid" = $1 FOR UPDATE`, [
      uuid,
    ])) as Array<{ status: string; version: string; started: boolean }>;
    return rows.length ? rows[0] : null;
  }

  /** The row's version after this transaction's writes (see lockLean). */
  async version(m: EntityManager, uuid: string): Promise<string> {
    const rows = (await m.query(`SELECT xmin::text AS "version" FROM "pipelines"."runs" WHERE "uuid" = $1`, [uuid])) as Array<{ version: string }>;
    return rows[0]?.version ?? '';
  }

  /** The pipeline row locked for the rest of the transaction: one decision maker per pipeline run. */
  async lock(m: EntityManager, uuid: string): Promise<PipelineRow | null> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."runs" WHERE "uuid" = $1 FOR UPDATE`, [uuid])) as Array<Record<string, unknown>>;
    return rows.length ? toPipeline(rows[0]) : null;
  }

  /**
   * Write the engine's snapshot: its op rows into `op_states`, only those that differ from
   * `written` (the rows as the last save left them, by op; unknown: all of them, and the table's
   * other rows of the run removed), the rest into the run's row. Returns the rows as written now.
   */
  async save(
    m: EntityManager,
    uuid: string,
    snapshot: { ops: ReadonlyArray<readonly [number, ...unknown[]]> },
    wakeAt: number | undefined,
    finalStatus?: string,
    written?: ReadonlyMap<number, string>,
  ): Promise<Map<number, string>> {
    const { ops, ...header } = snapshot;
    const now = new Map(ops.map((row) => [row[0], JSON.stringify(row)]));
    const changed = [...now].filter(([op, text]) => written?.get(op) !== text);
    if (!written) await m.query(`DELETE FROM "pipelines"."op_states" WHERE "pipeline_uuid" = $1`, [uuid]);
    else {
      const gone = [...written.keys()].filter((op) => !now.has(op));
      if (gone.length) await m.query(`DELETE FROM "pipelines"."op_states" WHERE "pipeline_uuid" = $1 AND "op" = ANY($2::int[])`, [uuid, gone]);
    }
    if (changed.length) {
      await m.query(
        `INSERT INTO "pipelines"."op_states" ("pipeline_uuid", "op", "state")
           SELECT $1, u.op, u.state::jsonb FROM unnest($2::int[], $3::text[]) AS u(op, state)
         ON CONFLICT ("pipeline_uuid", "op") DO UPDATE SET "state" = EXCLUDED."state"`,
        [uuid, changed.map(([op]) => op), changed.map(([, text]) => text)],
      );
    }
    await m.query(
      `UPDATE "pipelines"."runs" SET "snapshot" = $2, "wake_at" = $3, "status" = CASE WHEN $4::text IS NULL THEN "status" ELSE 'done' END,
              "final_status" = coalesce($4, "final_status"), "updated_at" = now() WHERE "uuid" = $1`,
      [uuid, JSON.stringify({ ...header, [OPS_IN]: 'op_states' }), wakeAt === undefined ? null : new Date(wakeAt), finalStatus ?? null],
    );
    return now;
  }

  async logDecision(m: EntityManager, uuid: string, input: unknown, decisions: unknown): Promise<void> {
    await m.query(`INSERT INTO "pipelines"."decisions" ("pipeline_uuid", "input", "decisions") VALUES ($1, $2, $3)`, [
      uuid,
      JSON.stringify(input),
      JSON.stringify(decisions),
    ]);
  }

  /** Write an action down; the key (pipeline, op, attempt, kind) makes a repeated decision a no-op. */
  async insertAction(m: EntityManager, uuid: string, a: NewAction): Promise<void> {
    await m.query(
      `INSERT INTO "pipelines"."actions" ("pipeline_uuid", "op", "attempt", "kind", "mark", "reason", "params", "reused_from", "cache_scope", "cache_key")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT ("pipeline_uuid", "op", "attempt", "kind") DO NOTHING`,
      [
        uuid,
        a.op,
        a.attempt,
        a.kind,
        a.mark ?? null,
        a.reason.slice(0, 2000),
        JSON.stringify(a.params ?? {}),
        a.reusedFrom ?? null,
        a.cacheScope ?? null,
        a.cacheKey === undefined ? null : JSON.stringify(a.cacheKey),
      ],
    );
  }

  async pendingActions(uuid: string): Promise<ActionRow[]> {
    const rows = (await this.dataSource.query(`SELECT * FROM "pipelines"."actions" WHERE "pipeline_uuid" = $1 AND "done_at" IS NULL ORDER BY "id"`, [uuid])) as Array<
      Record<string, unknown>
    >;
    return rows.map(toAction);
  }

  async actions(m: EntityManager | DataSource, uuid: string): Promise<ActionRow[]> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."actions" WHERE "pipeline_uuid" = $1 ORDER BY "id"`, [uuid])) as Array<Record<string, unknown>>;
    return rows.map(toAction);
  }

  /** The action carried out: the op run it created (start, mark, reuse) and that run's status. */
  async complete(id: number, runUuid: string | null, runStatus: string | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE "pipelines"."actions" SET "done_at" = now(), "run_uuid" = coalesce($2, "run_uuid"), "run_status" = coalesce($3, "run_status"), "checked_at" = now() WHERE "id" = $1`,
      [id, runUuid, runStatus],
    );
  }

  /** Per op name, the op runs still running in the other active runs of the same pipeline (same project and name). */
  async runningElsewhere(m: EntityManager, row: PipelineRow): Promise<Map<string, number>> {
    // One decision at a time per pipeline (project and name), so two runs cannot both take the last slot.
    await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`pipeline:${row.project}:${(row.spec['name'] as string | undefined) ?? ''}`]);
    const rows = (await m.query(
      `SELECT a."op", count(*)::int AS n FROM "pipelines"."actions" a JOIN "pipelines"."runs" r ON r."uuid" = a."pipeline_uuid"
        WHERE r."project" = $1 AND r."spec" ->> 'name' IS NOT DISTINCT FROM $2 AND r."uuid" <> $3 AND r."status" = 'running'
          AND a."kind" = 'start' AND a."mark" IS NULL AND (a."run_status" IS NULL OR a."run_status" NOT IN ${FINAL_SQL})
        GROUP BY a."op"`,
      [row.project, (row.spec['name'] as string | undefined) ?? null, row.uuid],
    )) as Array<{ op: string; n: number }>;
    return new Map(rows.map((r) => [r.op, Number(r.n)]));
  }

  /** A pipeline run deleted in the API: no longer driven, its pending actions dropped. */
  async drop(uuid: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await m.query(`UPDATE "pipelines"."runs" SET "status" = 'done', "final_status" = coalesce("final_status", 'deleted'), "wake_at" = NULL WHERE "uuid" = $1`, [uuid]);
      await m.query(`UPDATE "pipelines"."actions" SET "done_at" = now() WHERE "pipeline_uuid" = $1 AND "done_at" IS NULL`, [uuid]);
    });
  }

  /** The start action that created this op run. */
  async startByRun(runUuid: string): Promise<ActionRow | null> {
    const rows = (await this.dataSource.query(`SELECT * FROM "pipelines"."actions" WHERE "run_uuid" = $1 AND "kind" = 'start'`, [runUuid])) as Array<
      Record<string, unknown>
    >;
    return rows.length ? toAction(rows[0]) : null;
  }

  async startOf(uuid: string, op: string, attempt: number): Promise<ActionRow | null> {
    const rows = (await this.dataSource.query(
      `SELECT * FROM "pipelines"."actions" WHERE "pipeline_uuid" = $1 AND "op" = $2 AND "attempt" = $3 AND "kind" = 'start'`,
      [uuid, op, attempt],
    )) as Array<Record<string, unknown>>;
    return rows.length ? toAction(rows[0]) : null;
  }

  /** Remember the op run's final status (so a confirmation pass leaves it alone). */
  async setRunStatus(runUuid: string, status: string): Promise<void> {
    await this.dataSource.query(`UPDATE "pipelines"."actions" SET "run_status" = $2, "checked_at" = now() WHERE "run_uuid" = $1 AND "kind" <> 'stop'`, [
      runUuid,
      status,
    ]);
  }

  /** Started op runs of active pipelines, not final in our eyes and not confirmed for `olderThanMs`: their events may have been missed. */
  async staleStarts(olderThanMs: number): Promise<ActionRow[]> {
    const rows = (await this.dataSource.query(
      `SELECT a.* FROM "pipelines"."actions" a JOIN "pipelines"."runs" r ON r."uuid" = a."pipeline_uuid"
        WHERE r."status" = 'running' AND a."kind" = 'start' AND a."done_at" IS NOT NULL
          AND (a."run_status" IS NULL OR a."run_status" NOT IN ${FINAL_SQL})
          AND a."checked_at" < now() - ($1::int * interval '1 millisecond')
        ORDER BY a."id" LIMIT 200`,
      [olderThanMs],
    )) as Array<Record<string, unknown>>;
    return rows.map(toAction);
  }

  async touch(id: number): Promise<void> {
    await this.dataSource.query(`UPDATE "pipelines"."actions" SET "checked_at" = now() WHERE "id" = $1`, [id]);
  }

  /** Pipeline runs with a timer due, or with actions still to carry out. */
  async needingAttention(now: Date): Promise<{ due: string[]; pending: string[] }> {
    const due = (await this.dataSource.query(`SELECT "uuid" FROM "pipelines"."runs" WHERE "status" = 'running' AND "wake_at" <= $1`, [now])) as Array<{ uuid: string }>;
    const pending = (await this.dataSource.query(`SELECT DISTINCT "pipeline_uuid" AS uuid FROM "pipelines"."actions" WHERE "done_at" IS NULL`)) as Array<{
      uuid: string;
    }>;
    return { due: due.map((r) => r.uuid), pending: pending.map((r) => r.uuid) };
  }

  /** Pipeline runs created but never started (the service died between "run created" and the first decision). */
  async unstarted(): Promise<string[]> {
    return ((await this.dataSource.query(`SELECT "uuid" FROM "pipelines"."runs" WHERE "status" = 'running' AND "snapshot" IS NULL`)) as Array<{ uuid: string }>).map(
      (r) => r.uuid,
    );
  }

  /** Earlier op runs of the same op (cache scope), newest first. */
  async cacheCandidates(m: EntityManager, scope: string, limit = 50): Promise<CacheEntry[]> {
    const rows = (await m.query(`SELECT * FROM "pipelines"."op_cache" WHERE "scope" = $1 ORDER BY "finished_at" DESC LIMIT $2`, [scope, limit])) as Array<
      Record<string, unknown>
    >;
    return rows.map((r) => ({
      runUuid: r['run_uuid'] as string,
      key: json(r['key']),
      status: r['status'] as string,
      outputs: json(r['outputs'] ?? {}),
      finishedAt: new Date(r['finished_at'] as string),
    }));
  }

  /** Keep a finished op run's key, status and outputs for later cache decisions (once per op run). */
  async remember(runUuid: string, scope: string, key: unknown, status: string, outputs: Record<string, unknown>): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO "pipelines"."op_cache" ("run_uuid", "scope", "key", "status", "outputs") VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [runUuid, scope, JSON.stringify(key), status, JSON.stringify(outputs)],
    );
  }

  async announce(m: EntityManager, pipelineUuid: string, status: PipelineStatusName, reason: string, message: string): Promise<void> {
    await enqueueOutbox(m, 'pipelines', 'event', PipelineStatusChanged.PATTERN, {
      pipelineUuid,
      status,
      reason,
      message: message.slice(0, 10_000),
      at: new Date().toISOString(),
    } satisfies PipelineStatusChanged.Payload);
  }

  async enqueueStop(m: EntityManager | DataSource, runUuid: string, reason: string): Promise<void> {
    if (m instanceof DataSource) {
      await m.transaction((t) => enqueueOutbox(t, 'pipelines', 'command', RunStopRequest.PATTERN, { runUuid, reason: reason.slice(0, 1000) } satisfies RunStopRequest.Payload));
      return;
    }
    await enqueueOutbox(m, 'pipelines', 'command', RunStopRequest.PATTERN, { runUuid, reason: reason.slice(0, 1000) } satisfies RunStopRequest.Payload);
  }
}
