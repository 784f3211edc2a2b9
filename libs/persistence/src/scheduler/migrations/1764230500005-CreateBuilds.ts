import { MigrationInterface, QueryRunner } from 'typeorm';

/** The build cache: which image holds a build's content for a code version (decision 0014). */
export class CreateBuilds1764230500005 implements MigrationInterface {
  name = 'CreateBuilds1764230500005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "scheduler"."builds" (
      "key" VARCHAR(64) PRIMARY KEY,
      "image" TEXT NOT NULL,
      "project" TEXT NOT NULL,
      "run_uuid" UUID NOT NULL,
      "code_ref" TEXT NOT NULL,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "builds_project" ON "scheduler"."builds" ("project")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "scheduler"."builds"`);
  }
}
