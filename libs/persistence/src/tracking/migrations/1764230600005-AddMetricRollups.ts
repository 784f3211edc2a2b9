import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Min and max (with their steps) and count of each metric per fixed step bucket, at two widths
 * (100 and 10,000 steps), kept up to date by every batch. A downsampled read of a long series
 * reads a few thousand rollup rows instead of aggregating millions of points.
 */
export class AddMetricRollups1764230600005 implements MigrationInterface {
  name = 'AddMetricRollups1764230600005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "tracking"."metric_rollups" (
      "run_uuid" UUID NOT NULL,
      "name_id" INTEGER NOT NULL,
      "width" INTEGER NOT NULL,
      "bucket" BIGINT NOT NULL,
      "min_value" DOUBLE PRECISION,
      "min_step" BIGINT,
      "max_value" DOUBLE PRECISION,
      "max_step" BIGINT,
      "count" BIGINT NOT NULL,
      PRIMARY KEY ("run_uuid", "name_id", "width", "bucket")
    )`);
    // Series stored before this migration get their rollups now. min/max over [value, step]
    // arrays compare element-wise; the max uses -step so that a tie keeps the smallest step, as at ingest.
    for (const width of [100, 10_000]) {
      await q.query(
        `INSERT INTO "tracking"."metric_rollups" ("run_uuid", "name_id", "width", "bucket", "min_value", "min_step", "max_value", "max_step", "count")
         SELECT "run_uuid", "name_id", $1, "bucket", "lo"[1], "lo"[2]::bigint, "hi"[1], (-"hi"[2])::bigint, "n"
           FROM (SELECT "run_uuid", "name_id", "step" / $1 AS "bucket",
                        min(ARRAY["value", "step"::float8]) FILTER (WHERE "value" NOT IN ('NaN', 'Infinity', '-Infinity')) AS "lo",
                        max(ARRAY["value", -"step"::float8]) FILTER (WHERE "value" NOT IN ('NaN', 'Infinity', '-Infinity')) AS "hi",
                        count(*) AS "n"
                   FROM "tracking"."metrics" WHERE "step" IS NOT NULL GROUP BY 1, 2, 3) AS a`,
        [width],
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "tracking"."metric_rollups"`);
  }
}
