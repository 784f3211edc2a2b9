import { MigrationInterface, QueryRunner } from 'typeorm';

/** Organizations own projects; teams group their members; grants give users or teams a role on a project. */
export class AddOrganizationsTeamsAndGrants1764230400003 implements MigrationInterface {
  name = 'AddOrganizationsTeamsAndGrants1764230400003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "core"."organizations" (
      "id" UUID PRIMARY KEY,
      "name" TEXT NOT NULL UNIQUE,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "core"."org_members" (
      "org_id" UUID NOT NULL REFERENCES "core"."organizations"("id") ON DELETE CASCADE,
      "user_id" UUID NOT NULL REFERENCES "core"."users"("id") ON DELETE CASCADE,
      "role" TEXT NOT NULL CHECK ("role" IN ('viewer', 'member', 'admin', 'owner')),
      PRIMARY KEY ("org_id", "user_id")
    )`);
    await q.query(`CREATE TABLE "core"."teams" (
      "id" UUID PRIMARY KEY,
      "org_id" UUID NOT NULL REFERENCES "core"."organizations"("id") ON DELETE CASCADE,
      "name" TEXT NOT NULL,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      CONSTRAINT "teams_org_name_key" UNIQUE ("org_id", "name")
    )`);
    await q.query(`CREATE TABLE "core"."team_members" (
      "team_id" UUID NOT NULL REFERENCES "core"."teams"("id") ON DELETE CASCADE,
      "user_id" UUID NOT NULL REFERENCES "core"."users"("id") ON DELETE CASCADE,
      PRIMARY KEY ("team_id", "user_id")
    )`);
    // A project belongs to a user or to an organization.
    await q.query(`ALTER TABLE "core"."projects" ALTER COLUMN "owner_id" DROP NOT NULL`);
    await q.query(`ALTER TABLE "core"."projects" ADD COLUMN "org_id" UUID REFERENCES "core"."organizations"("id") ON DELETE CASCADE`);
    await q.query(`ALTER TABLE "core"."projects" DROP CONSTRAINT "projects_owner_name_key"`);
    await q.query(`CREATE UNIQUE INDEX "projects_user_name_key" ON "core"."projects" ("owner_id", "name") WHERE "org_id" IS NULL`);
    await q.query(`CREATE UNIQUE INDEX "projects_org_name_key" ON "core"."projects" ("org_id", "name") WHERE "org_id" IS NOT NULL`);
    await q.query(
      `ALTER TABLE "core"."projects" ADD CONSTRAINT "projects_one_owner" CHECK (("owner_id" IS NULL) <> ("org_id" IS NULL))`,
    );
    await q.query(`CREATE TABLE "core"."project_grants" (
      "id" UUID PRIMARY KEY,
      "project_id" UUID NOT NULL REFERENCES "core"."projects"("id") ON DELETE CASCADE,
      "user_id" UUID REFERENCES "core"."users"("id") ON DELETE CASCADE,
      "team_id" UUID REFERENCES "core"."teams"("id") ON DELETE CASCADE,
      "role" TEXT NOT NULL CHECK ("role" IN ('viewer', 'member', 'admin', 'owner')),
      CONSTRAINT "project_grants_one_grantee" CHECK (("user_id" IS NULL) <> ("team_id" IS NULL))
    )`);
    await q.query(`CREATE UNIQUE INDEX "project_grants_user_key" ON "core"."project_grants" ("project_id", "user_id") WHERE "user_id" IS NOT NULL`);
    await q.query(`CREATE UNIQUE INDEX "project_grants_team_key" ON "core"."project_grants" ("project_id", "team_id") WHERE "team_id" IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "core"."project_grants"`);
    await q.query(`ALTER TABLE "core"."projects" DROP CONSTRAINT "projects_one_owner"`);
    await q.query(`DROP INDEX "core"."projects_org_name_key"`);
    await q.query(`DROP INDEX "core"."projects_user_name_key"`);
    await q.query(`DELETE FROM "core"."projects" WHERE "org_id" IS NOT NULL`);
    await q.query(`ALTER TABLE "core"."projects" DROP COLUMN "org_id"`);
    await q.query(`ALTER TABLE "core"."projects" ADD CONSTRAINT "projects_owner_name_key" UNIQUE ("owner_id", "name")`);
    await q.query(`ALTER TABLE "core"."projects" ALTER COLUMN "owner_id" SET NOT NULL`);
    await q.query(`DROP TABLE "core"."team_members"`);
    await q.query(`DROP TABLE "core"."teams"`);
    await q.query(`DROP TABLE "core"."org_members"`);
    await q.query(`DROP TABLE "core"."organizations"`);
  }
}
