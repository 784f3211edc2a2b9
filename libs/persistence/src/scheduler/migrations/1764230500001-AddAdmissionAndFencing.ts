import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Queue and admission: what each execution needs to be admitted (submitter, teams, parent and its
 * concurrency, resources), the condition it waits under, the fencing token and owner of the
 * scheduler replica that started it; and the quotas table.
 */
export class AddAdmissionAndFencing1764230500001 implements MigrationInterface {
  name = 'AddAdmissionAndFencing1764230500001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions"
      ADD COLUMN "submitter" TEXT,
      ADD COLUMN "teams" JSONB NOT NULL DEFAULT '[]',
      ADD COLUMN "parent_uuid" UUID,
      ADD COLUMN "parent_kind" TEXT,
      ADD COLUMN "parent_concurrency" INTEGER,
      ADD COLUMN "cpu" DOUBLE PRECISION NOT NULL DEFAULT 0,
      ADD COLUMN "memory_mb" DOUBLE PRECISION NOT NULL DEFAULT 0,
      ADD COLUMN "gpu" DOUBLE PRECISION NOT NULL DEFAULT 0,
      ADD COLUMN "status_reason" TEXT,
      ADD COLUMN "status_message" TEXT,
      ADD COLUMN "fence" BIGINT NOT NULL DEFAULT 0,
      ADD COLUMN "owner" TEXT`);
    await q.query(`CREATE TABLE "scheduler"."quotas" (
      "scope" TEXT NOT NULL CHECK ("scope" IN ('user', 'team', 'project')),
      "name" TEXT NOT NULL,
      "max_runs" INTEGER CHECK ("max_runs" >= 0),
      "cpu" DOUBLE PRECISION CHECK ("cpu" >= 0),
      "memory_mb" DOUBLE PRECISION CHECK ("memory_mb" >= 0),
      "gpu" DOUBLE PRECISION CHECK ("gpu" >= 0),
      "updated_by" TEXT NOT NULL DEFAULT '',
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY ("scope", "name")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "scheduler"."quotas"`);
    await q.query(`ALTER TABLE "scheduler"."executions"
      DROP COLUMN "submitter", DROP COLUMN "teams", DROP COLUMN "parent_uuid", DROP COLUMN "parent_kind",
      DROP COLUMN "parent_concurrency", DROP COLUMN "cpu", DROP COLUMN "memory_mb", DROP COLUMN "gpu",
      DROP COLUMN "status_reason", DROP COLUMN "status_message", DROP COLUMN "fence", DROP COLUMN "owner"`);
  }
}
