import { MigrationInterface, QueryRunner } from 'typeorm';

/** Selections: hand-picked sets of a project's runs, kept to compare them. */
export class AddSelections1764230400006 implements MigrationInterface {
  name = 'AddSelections1764230400006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "core"."selections" (
      "id" UUID PRIMARY KEY,
      "project_id" UUID NOT NULL REFERENCES "core"."projects"("id") ON DELETE CASCADE,
      "number" INTEGER NOT NULL,
      "name" TEXT NOT NULL,
      "description" TEXT NOT NULL DEFAULT '',
      "created_by" UUID NOT NULL REFERENCES "core"."users"("id"),
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      CONSTRAINT "selections_project_number_key" UNIQUE ("project_id", "number")
    )`);
    await q.query(`CREATE TABLE "core"."selection_runs" (
      "selection_id" UUID NOT NULL REFERENCES "core"."selections"("id") ON DELETE CASCADE,
      "run_uuid" UUID NOT NULL REFERENCES "core"."runs"("uuid") ON DELETE CASCADE,
      PRIMARY KEY ("selection_id", "run_uuid")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "core"."selection_runs"`);
    await q.query(`DROP TABLE "core"."selections"`);
  }
}
