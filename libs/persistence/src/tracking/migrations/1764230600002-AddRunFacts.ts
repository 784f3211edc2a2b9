import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a job reports about itself besides metrics and logs: params (write-once, one row per key
 * so a conflict is found by primary key), and the code reference, environment and data references.
 */
export class AddRunFacts1764230600002 implements MigrationInterface {
  name = 'AddRunFacts1764230600002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "tracking"."run_params" (
      "run_uuid" UUID NOT NULL,
      "key" TEXT NOT NULL,
      "value" JSONB NOT NULL,
      "at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY ("run_uuid", "key")
    )`);
    await q.query(`CREATE TABLE "tracking"."run_metadata" (
      "run_uuid" UUID PRIMARY KEY,
      "code_ref" JSONB,
      "environment" JSONB,
      "data_refs" JSONB NOT NULL DEFAULT '[]'::jsonb,
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "tracking"."run_metadata"`);
    await q.query(`DROP TABLE "tracking"."run_params"`);
  }
}
