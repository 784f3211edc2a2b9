import { DataSource, EntityManager } from 'typeorm';
import { enqueueOutbox } from '@myelin/persistence';
import { GroupStatus, GroupStatusChanged } from '@myelin/contracts';

export interface GroupRow {
  uuid: string;
  project: string;
  hptuning: Record<string, unknown>;
  state: Record<string, unknown> | null;
  status: 'running' | 'done' | 'failed' | 'stopped';
}

export interface TrialRow {
  groupUuid: string;
  trialId: number;
  params: Record<string, unknown>;
  runUuid: string | null;
  /** asked: not yet a run; created: running; ended: the run ended, its value may be on its way; final: told. */
  status: 'asked' | 'created' | 'ended' | 'final';
  lastValue: number | null;
  lastStep: number | null;
  finalStatus: string | null;
  endedAt: Date | null;
  lastMetrics: Record<string, number>;
  toldStep: number | null;
  /** hyperband with resume: the earlier trial whose outputs (checkpoints) this one continues from. */
  resumeFrom: number | null;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toTrial(r: Record<string, unknown>): TrialRow {
  return {
    groupUuid: r['group_uuid'] as string,
    trialId: Number(r['trial_id']),
    params: json(r['params']),
    runUuid: (r['run_uuid'] as string | null) ?? null,
    status: r['status'] as TrialRow['status'],
    lastValue: r['last_value'] === null ? null : Number(r['last_value']),
    lastStep: r['last_step'] === null ? null : Number(r['last_step']),
    finalStatus: (r['final_status'] as string | null) ?? null,
    endedAt: r['ended_at'] ? new Date(r['ended_at'] as string) : null,
    lastMetrics: json<Record<string, number>>(r['last_metrics'] ?? {}),
    toldStep: r['told_step'] === null || r['told_step'] === undefined ? null : Number(r['told_step']),
    resumeFrom: r['resume_from'] === null || r['resume_from'] === undefined ? null : Number(r['resume_from']),
  };
}

/** The optimizer's tables: each group's search state and its trials. */
export class SearchesRepository {
  constructor(readonly dataSource: DataSource) {}

  /** Insert a new group once (a repeated "run created" is ignored). */
  async insertGroup(uuid: string, project: string, hptuning: Record<string, unknown>): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO "optimizer"."groups" ("uuid", "project", "hptuning") VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [uuid, project, JSON.stringify(hptuning)],
    );
  }

  /** The group row locked for the rest of the transaction: one decision maker per group. */
  async lockGroup(m: EntityManager, uuid: string): Promise<GroupRow | null> {
    const rows = (await m.query(`SELECT * FROM "optimizer"."groups" WHERE "uuid" = $1 FOR UPDATE`, [uuid])) as Array<Record<string, unknown>>;
    if (!rows.length) return null;
    const r = rows[0];
    return { uuid: r['uuid'] as string, project: r['project'] as string, hptuning: json(r['hptuning']), state: r['state'] === null ? null : json(r['state']), status: r['status'] as GroupRow['status'] };
  }

  async saveState(m: EntityManager, uuid: string, state: unknown, status?: GroupRow['status']): Promise<void> {
    await m.query(
      `UPDATE "optimizer"."groups" SET "state" = $2, "status" = coalesce($3, "status"), "updated_at" = now() WHERE "uuid" = $1`,
      [uuid, JSON.stringify(state), status ?? null],
    );
  }

  async setStatus(m: EntityManager, uuid: string, status: GroupRow['status']): Promise<void> {
    await m.query(`UPDATE "optimizer"."groups" SET "status" = $2, "updated_at" = now() WHERE "uuid" = $1`, [uuid, status]);
  }

  async insertTrial(m: EntityManager, groupUuid: string, trialId: number, params: Record<string, unknown>, resumeFrom?: number): Promise<void> {
    await m.query(
      `INSERT INTO "optimizer"."trials" ("group_uuid", "trial_id", "params", "resume_from") VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [groupUuid, trialId, JSON.stringify(params), resumeFrom ?? null],
    );
  }

  async trials(m: EntityManager | DataSource, groupUuid: string): Promise<TrialRow[]> {
    const rows = (await m.query(`SELECT * FROM "optimizer"."trials" WHERE "group_uuid" = $1 ORDER BY "trial_id"`, [groupUuid])) as Array<Record<string, unknown>>;
    return rows.map(toTrial);
  }

  async trialByRun(runUuid: string): Promise<TrialRow | null> {
    const rows = (await this.dataSource.query(`SELECT * FROM "optimizer"."trials" WHERE "run_uuid" = $1`, [runUuid])) as Array<Record<string, unknown>>;
    return rows.length ? toTrial(rows[0]) : null;
  }

  async attachRun(groupUuid: string, trialId: number, runUuid: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE "optimizer"."trials" SET "run_uuid" = $3, "checked_at" = now(), "status" = CASE WHEN "status" = 'asked' THEN 'created' ELSE "status" END
        WHERE "group_uuid" = $1 AND "trial_id" = $2`,
      [groupUuid, trialId, runUuid],
    );
  }

  /** Running trials not confirmed with the API for `olderThanMs`: their events may have been missed. */
  async staleTrials(groupUuid: string, olderThanMs: number): Promise<TrialRow[]> {
    const rows = (await this.dataSource.query(
      `SELECT * FROM "optimizer"."trials" WHERE "group_uuid" = $1 AND "status" = 'created' AND "checked_at" < now() - ($2::int * interval '1 millisecond')`,
      [groupUuid, olderThanMs],
    )) as Array<Record<string, unknown>>;
    return rows.map(toTrial);
  }

  async recordValues(runUuid: string, value: number | null, step: number | null, metrics: Record<string, number>): Promise<void> {
    await this.dataSource.query(
      `UPDATE "optimizer"."trials" SET "last_value" = coalesce($2, "last_value"), "last_step" = coalesce($3, "last_step"),
              "last_metrics" = "last_metrics" || $4::jsonb WHERE "run_uuid" = $1`,
      [runUuid, value, step, JSON.stringify(metrics)],
    );
  }

  async markTold(m: EntityManager, groupUuid: string, trialId: number, step: number): Promise<void> {
    await m.query(`UPDATE "optimizer"."trials" SET "told_step" = $3 WHERE "group_uuid" = $1 AND "trial_id" = $2`, [groupUuid, trialId, step]);
  }

  /** The run ended: remember how, and when (its value may still arrive). */
  async markEnded(runUuid: string, finalStatus: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE "optimizer"."trials" SET "status" = 'ended', "final_status" = $2, "ended_at" = now() WHERE "run_uuid" = $1 AND "status" IN ('asked', 'created')`,
      [runUuid, finalStatus],
    );
  }

  async markFinal(m: EntityManager, groupUuid: string, trialId: number): Promise<boolean> {
    const rows = (await m.query(
      `UPDATE "optimizer"."trials" SET "status" = 'final' WHERE "group_uuid" = $1 AND "trial_id" = $2 AND "status" <> 'final' RETURNING 1`,
      [groupUuid, trialId],
    )) as unknown[];
    return rows.length > 0;
  }

  async hptuningOf(groupUuid: string): Promise<Record<string, unknown>> {
    const rows = (await this.dataSource.query(`SELECT "hptuning" FROM "optimizer"."groups" WHERE "uuid" = $1`, [groupUuid])) as Array<{ hptuning: unknown }>;
    return json(rows[0]?.hptuning ?? {});
  }

  /** Groups still searching: what a restarted optimizer resumes. */
  async activeGroups(): Promise<string[]> {
    return ((await this.dataSource.query(`SELECT "uuid" FROM "optimizer"."groups" WHERE "status" = 'running'`)) as Array<{ uuid: string }>).map((r) => r.uuid);
  }

  async announce(m: EntityManager, groupUuid: string, status: GroupStatus, reason: string, message: string): Promise<void> {
    await enqueueOutbox(m, 'optimizer', 'event', GroupStatusChanged.PATTERN, {
      groupUuid,
      status,
      reason,
      message,
      at: new Date().toISOString(),
    } satisfies GroupStatusChanged.Payload);
  }
}
