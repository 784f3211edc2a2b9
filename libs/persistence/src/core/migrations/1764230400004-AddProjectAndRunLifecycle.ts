import { MigrationInterface, QueryRunner } from 'typeorm';

/** Archive (soft delete), readme and tags on projects; archive on runs; bookmarks; the activity log. */
export class AddProjectAndRunLifecycle1764230400004 implements MigrationInterface {
  name = 'AddProjectAndRunLifecycle1764230400004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "core"."projects" ADD COLUMN "readme" TEXT NOT NULL DEFAULT ''`);
    await q.query(`ALTER TABLE "core"."projects" ADD COLUMN "tags" JSONB NOT NULL DEFAULT '[]'::jsonb`);
    await q.query(`ALTER TABLE "core"."projects" ADD COLUMN "archived_at" TIMESTAMPTZ`);
    await q.query(`ALTER TABLE "core"."runs" ADD COLUMN "archived_at" TIMESTAMPTZ`);
    await q.query(`ALTER TABLE "core"."runs" ADD COLUMN "readme" TEXT NOT NULL DEFAULT ''`);
    await q.query(`CREATE TABLE "core"."bookmarks" (
      "user_id" UUID NOT NULL REFERENCES "core"."users"("id") ON DELETE CASCADE,
      "entity" TEXT NOT NULL CHECK ("entity" IN ('project', 'run')),
      "entity_id" UUID NOT NULL,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY ("user_id", "entity", "entity_id")
    )`);
    await q.query(`CREATE TABLE "core"."activity" (
      "id" BIGSERIAL PRIMARY KEY,
      "actor_id" UUID,
      "actor" TEXT NOT NULL,
      "action" TEXT NOT NULL,
      "entity" TEXT NOT NULL,
      "entity_id" TEXT NOT NULL,
      "project_id" UUID,
      "details" JSONB NOT NULL DEFAULT '{}'::jsonb,
      "at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "activity_project_idx" ON "core"."activity" ("project_id", "id" DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "core"."activity"`);
    await q.query(`DROP TABLE "core"."bookmarks"`);
    await q.query(`ALTER TABLE "core"."runs" DROP COLUMN "readme"`);
    await q.query(`ALTER TABLE "core"."runs" DROP COLUMN "archived_at"`);
    await q.query(`ALTER TABLE "core"."projects" DROP COLUMN "archived_at"`);
    await q.query(`ALTER TABLE "core"."projects" DROP COLUMN "tags"`);
    await q.query(`ALTER TABLE "core"."projects" DROP COLUMN "readme"`);
  }
}
