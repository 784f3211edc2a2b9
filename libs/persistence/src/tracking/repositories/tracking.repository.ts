import { DataSource, EntityManager } from 'typeorm';
import type { LogStream } from '@myelin/contracts';

export interface MetricPointInput {
  name: string;
  step?: number;
  value: number;
  at: Date;
}

export interface MetricPoint {
  step: number | null;
  value: number;
  timestamp: string;
}

export interface LogLineInput {
  at: Date;
  stream: LogStream;
  line: string;
}

export interface StoredLogLine extends LogLineInput {
  id: number;
}

/** PostgreSQL's float8 accepts these spellings; JSON has no NaN or infinities. */
function toFloat(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

export class TrackingRepository {
  private readonly nameIds = new Map<string, number>();

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Store a batch of metric points once: the batch id is claimed by primary key in the same
   * transaction, so a redelivered batch is detected in O(1) and stored nothing twice.
   * Returns false for a duplicate.
   */
  async appendMetrics(runUuid: string, batchId: string, points: MetricPointInput[]): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      if (!(await this.claimBatch(manager, runUuid, `m:${batchId}`))) return false;
      if (!points.length) return true;
      const ids = await this.internNames(manager, [...new Set(points.map((p) => p.name))]);
      await manager.query(
        `INSERT INTO "tracking"."metrics" ("run_uuid", "name_id", "step", "value", "at")
         SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::float8[], $5::timestamptz[])`,
        [
          runUuid,
          points.map((p) => ids.get(p.name)),
          points.map((p) => (p.step === undefined ? null : p.step)),
          points.map((p) => String(p.value)),
          points.map((p) => p.at.toISOString()),
        ],
      );
      return true;
    });
  }

  async appendLogs(runUuid: string, batchId: string, lines: LogLineInput[]): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      if (!(await this.claimBatch(manager, runUuid, `l:${batchId}`))) return false;
      if (!lines.length) return true;
      await manager.query(
        `INSERT INTO "tracking"."logs" ("run_uuid", "at", "stream", "line")
         SELECT $1, * FROM unnest($2::timestamptz[], $3::text[], $4::text[])`,
        [runUuid, lines.map((l) => l.at.toISOString()), lines.map((l) => l.stream), lines.map((l) => l.line)],
      );
      return true;
    });
  }

  /** Record that the run's producer sent its last log batch. */
  async markLogsEnded(runUuid: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO "tracking"."ingested_batches" ("run_uuid", "batch_id") VALUES ($1, 'eof') ON CONFLICT DO NOTHING`,
      [runUuid],
    );
  }

  async logsEnded(runUuid: string): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `SELECT 1 FROM "tracking"."ingested_batches" WHERE "run_uuid" = $1 AND "batch_id" = 'eof'`,
      [runUuid],
    )) as unknown[];
    return rows.length > 0;
  }

  /** Every metric of a run, by name, ordered by step then time. */
  async metrics(runUuid: string, names?: string[]): Promise<Record<string, MetricPoint[]>> {
    const rows = (await this.dataSource.query(
      `SELECT n."name", m."step", m."value", m."at"
       FROM "tracking"."metrics" m JOIN "tracking"."metric_names" n ON n."id" = m."name_id"
       WHERE m."run_uuid" = $1 ${names?.length ? 'AND n."name" = ANY($2)' : ''}
       ORDER BY n."name", m."step" NULLS FIRST, m."at"`,
      names?.length ? [runUuid, names] : [runUuid],
    )) as Array<{ name: string; step: number | string | null; value: number | string; at: Date | string }>;
    const out: Record<string, MetricPoint[]> = {};
    for (const r of rows) {
      (out[r.name] ??= []).push({
        step: r.step === null ? null : Number(r.step),
        value: toFloat(r.value),
        timestamp: new Date(r.at).toISOString(),
      });
    }
    return out;
  }

  async logs(runUuid: string, { afterId = 0, limit = 1000 } = {}): Promise<StoredLogLine[]> {
    const rows = (await this.dataSource.query(
      `SELECT "id", "at", "stream", "line" FROM "tracking"."logs"
       WHERE "run_uuid" = $1 AND "id" > $2 ORDER BY "id" LIMIT $3`,
      [runUuid, afterId, limit],
    )) as Array<{ id: number | string; at: Date | string; stream: LogStream; line: string }>;
    return rows.map((r) => ({ id: Number(r.id), at: new Date(r.at), stream: r.stream, line: r.line }));
  }

  async deleteRun(runUuid: string): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await m.query(`DELETE FROM "tracking"."metrics" WHERE "run_uuid" = $1`, [runUuid]);
      await m.query(`DELETE FROM "tracking"."logs" WHERE "run_uuid" = $1`, [runUuid]);
      await m.query(`DELETE FROM "tracking"."ingested_batches" WHERE "run_uuid" = $1`, [runUuid]);
    });
  }

  private async claimBatch(manager: EntityManager, runUuid: string, batchId: string): Promise<boolean> {
    const rows = (await manager.query(
      `INSERT INTO "tracking"."ingested_batches" ("run_uuid", "batch_id") VALUES ($1, $2)
       ON CONFLICT DO NOTHING RETURNING "batch_id"`,
      [runUuid, batchId],
    )) as unknown[];
    return rows.length === 1;
  }

  private async internNames(manager: EntityManager, names: string[]): Promise<Map<string, number>> {
    const missing = names.filter((n) => !this.nameIds.has(n));
    if (missing.length) {
      await manager.query(
        `INSERT INTO "tracking"."metric_names" ("name") SELECT unnest($1::text[]) ON CONFLICT ("name") DO NOTHING`,
        [missing],
      );
      const rows = (await manager.query(`SELECT "id", "name" FROM "tracking"."metric_names" WHERE "name" = ANY($1)`, [
        missing,
      ])) as Array<{ id: number; name: string }>;
      for (const r of rows) this.nameIds.set(r.name, Number(r.id));
    }
    return this.nameIds;
  }
}
