import { MigrationInterface, QueryRunner } from 'typeorm';

/** The API's copy of metric summaries (to filter and sort runs by metrics) and saved searches. */
export class AddRunMetricsAndSearches1764230400005 implements MigrationInterface {
  name = 'AddRunMetricsAndSearches1764230400005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "core"."run_metrics" (
      "run_uuid" UUID NOT NULL REFERENCES "core"."runs"("uuid") ON DELETE CASCADE,
      "name" TEXT NOT NULL,
      "last" DOUBLE PRECISION,
      "last_step" BIGINT,
      "min" DOUBLE PRECISION,
      "max" DOUBLE PRECISION,
      "count" BIGINT NOT NULL DEFAULT 0,
      PRIMARY KEY ("run_uuid", "name")
    )`);
    // Sorting and filtering a project's runs by one metric.
    await q.query(`CREATE INDEX "run_metrics_name_last_idx" ON "core"."run_metrics" ("name", "last")`);
    await q.query(`CREATE TABLE "core"."saved_searches" (
      "id" UUID PRIMARY KEY,
      "project_id" UUID NOT NULL REFERENCES "core"."projects"("id") ON DELETE CASCADE,
      "user_id" UUID NOT NULL REFERENCES "core"."users"("id") ON DELETE CASCADE,
      "name" TEXT NOT NULL,
      "query" TEXT NOT NULL DEFAULT '',
      "sort" TEXT NOT NULL DEFAULT '',
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      CONSTRAINT "saved_searches_name_key" UNIQUE ("project_id", "user_id", "name")
    )`);
    await q.query(`CREATE INDEX "runs_project_number_idx" ON "core"."runs" ("project_id", "number" DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "core"."runs_project_number_idx"`);
    await q.query(`DROP TABLE "core"."saved_searches"`);
    await q.query(`DROP TABLE "core"."run_metrics"`);
  }
}
