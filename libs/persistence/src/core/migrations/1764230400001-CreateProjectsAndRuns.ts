import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateProjectsAndRuns1764230400001 implements MigrationInterface {
  name = 'CreateProjectsAndRuns1764230400001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "core"."projects" (
      "id" UUID PRIMARY KEY,
      "owner_id" UUID NOT NULL REFERENCES "core"."users"("id"),
      "name" TEXT NOT NULL,
      "description" TEXT NOT NULL DEFAULT '',
      "is_public" BOOLEAN NOT NULL DEFAULT FALSE,
      "last_run_number" INTEGER NOT NULL DEFAULT 0,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      CONSTRAINT "projects_owner_name_key" UNIQUE ("owner_id", "name")
    )`);
    await q.query(`CREATE TABLE "core"."runs" (
      "uuid" UUID PRIMARY KEY,
      "project_id" UUID NOT NULL REFERENCES "core"."projects"("id") ON DELETE CASCADE,
      "number" INTEGER NOT NULL,
      "kind" TEXT NOT NULL,
      "name" TEXT,
      "description" TEXT NOT NULL DEFAULT '',
      "tags" JSONB NOT NULL DEFAULT '[]'::jsonb,
      "content" TEXT NOT NULL,
      "spec" JSONB NOT NULL,
      "params" JSONB NOT NULL DEFAULT '{}'::jsonb,
      "code_dir" TEXT,
      "status" TEXT NOT NULL,
      "status_reason" TEXT NOT NULL DEFAULT '',
      "status_message" TEXT NOT NULL DEFAULT '',
      "exit_code" INTEGER,
      "parent_uuid" UUID REFERENCES "core"."runs"("uuid") ON DELETE CASCADE,
      "original_uuid" UUID,
      "cloning_strategy" TEXT,
      "created_by" UUID NOT NULL REFERENCES "core"."users"("id"),
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "started_at" TIMESTAMPTZ,
      "finished_at" TIMESTAMPTZ,
      CONSTRAINT "runs_project_number_key" UNIQUE ("project_id", "number")
    )`);
    await q.query(`CREATE INDEX "runs_project_created_idx" ON "core"."runs" ("project_id", "created_at" DESC)`);
    await q.query(`CREATE INDEX "runs_status_idx" ON "core"."runs" ("status")`);
    await q.query(`CREATE TABLE "core"."run_conditions" (
      "id" BIGSERIAL PRIMARY KEY,
      "run_uuid" UUID NOT NULL REFERENCES "core"."runs"("uuid") ON DELETE CASCADE,
      "status" TEXT NOT NULL,
      "reason" TEXT NOT NULL DEFAULT '',
      "message" TEXT NOT NULL DEFAULT '',
      "at" TIMESTAMPTZ NOT NULL
    )`);
    await q.query(`CREATE INDEX "run_conditions_run_idx" ON "core"."run_conditions" ("run_uuid", "id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "core"."run_conditions"`);
    await q.query(`DROP TABLE "core"."runs"`);
    await q.query(`DROP TABLE "core"."projects"`);
  }
}
