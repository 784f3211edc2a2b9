import { DataSource } from 'typeorm';

export type QuotaScopeName = 'user' | 'team' | 'project';

export interface QuotaRow {
  scope: QuotaScopeName;
  /** Username, `org/team` or `owner/project`. */
  name: string;
  maxRuns: number | null;
  cpu: number | null;
  /** MB. */
  memoryMb: number | null;
  gpu: number | null;
  updatedBy: string;
  updatedAt: Date;
}

interface RawQuota {
  scope: QuotaScopeName;
  name: string;
  max_runs: number | null;
  cpu: number | null;
  memory_mb: number | null;
  gpu: number | null;
  updated_by: string;
  updated_at: Date;
}

const fromRow = (r: RawQuota): QuotaRow => ({
  scope: r.scope,
  name: r.name,
  maxRuns: r.max_runs === null ? null : Number(r.max_runs),
  cpu: r.cpu === null ? null : Number(r.cpu),
  memoryMb: r.memory_mb === null ? null : Number(r.memory_mb),
  gpu: r.gpu === null ? null : Number(r.gpu),
  updatedBy: r.updated_by,
  updatedAt: new Date(r.updated_at),
});

/** The scheduler's quotas (`scheduler.quotas`): ceilings on what a user, team or project holds at once. */
export class QuotasRepository {
  constructor(private readonly dataSource: DataSource) {}

  async list(): Promise<QuotaRow[]> {
    const rows = (await this.dataSource.query(`SELECT * FROM "scheduler"."quotas" ORDER BY "scope", "name"`)) as RawQuota[];
    return rows.map(fromRow);
  }

  async get(scope: QuotaScopeName, name: string): Promise<QuotaRow | null> {
    const rows = (await this.dataSource.query(`SELECT * FROM "scheduler"."quotas" WHERE "scope" = $1 AND "name" = $2`, [scope, name])) as RawQuota[];
    return rows.length ? fromRow(rows[0]) : null;
  }

  /** Create or replace a quota (every ceiling given; null = none). */
  async put(quota: Omit<QuotaRow, 'updatedAt'>): Promise<QuotaRow> {
    const rows = (await this.dataSource.query(
      `INSERT INTO "scheduler"."quotas" ("scope", "name", "max_runs", "cpu", "memory_mb", "gpu", "updated_by", "updated_at")
       VALUES ($1, $2, $3, $4, $5, $6, $7, now())
       ON CONFLICT ("scope", "name") DO UPDATE SET "max_runs" = EXCLUDED."max_runs", "cpu" = EXCLUDED."cpu",
         "memory_mb" = EXCLUDED."memory_mb", "gpu" = EXCLUDED."gpu", "updated_by" = EXCLUDED."updated_by", "updated_at" = now()
       RETURNING *`,
      [quota.scope, quota.name, quota.maxRuns, quota.cpu, quota.memoryMb, quota.gpu, quota.updatedBy],
    )) as RawQuota[];
    return fromRow(rows[0]);
  }

  /** False when there was no such quota. (In a CTE: a bare DELETE ... RETURNING comes back as [rows, count].) */
  async remove(scope: QuotaScopeName, name: string): Promise<boolean> {
    const rows = (await this.dataSource.query(`WITH gone AS (DELETE FROM "scheduler"."quotas" WHERE "scope" = $1 AND "name" = $2 RETURNING "name") SELECT "name" FROM gone`, [scope, name])) as unknown[];
    return rows.length > 0;
  }
}
