import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateTrackingTables1764230600000 implements MigrationInterface {
  name = 'CreateTrackingTables1764230600000';

  async up(q: QueryRunner): Promise<void> {
    // Metric names are interned: a point row carries a 4-byte id instead of the name.
    await q.query(`CREATE TABLE "tracking"."metric_names" (
      "id" SERIAL PRIMARY KEY,
      "name" TEXT NOT NULL UNIQUE
    )`);
    await q.query(`CREATE TABLE "tracking"."metrics" (
      "run_uuid" UUID NOT NULL,
      "name_id" INTEGER NOT NULL REFERENCES "tracking"."metric_names"("id"),
      "step" BIGINT,
      "value" DOUBLE PRECISION NOT NULL,
      "at" TIMESTAMPTZ NOT NULL
    )`);
    await q.query(`CREATE INDEX "metrics_run_name_step_idx" ON "tracking"."metrics" ("run_uuid", "name_id", "step")`);
    await q.query(`CREATE TABLE "tracking"."logs" (
      "id" BIGSERIAL PRIMARY KEY,
      "run_uuid" UUID NOT NULL,
      "at" TIMESTAMPTZ NOT NULL,
      "stream" TEXT NOT NULL,
      "line" TEXT NOT NULL
    )`);
    await q.query(`CREATE INDEX "logs_run_idx" ON "tracking"."logs" ("run_uuid", "id")`);
    // Idempotency of ingest: a batch id is stored once; a retried batch is found by primary key.
    await q.query(`CREATE TABLE "tracking"."ingested_batches" (
      "run_uuid" UUID NOT NULL,
      "batch_id" TEXT NOT NULL,
      "at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY ("run_uuid", "batch_id")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "tracking"."ingested_batches"`);
    await q.query(`DROP TABLE "tracking"."logs"`);
    await q.query(`DROP TABLE "tracking"."metrics"`);
    await q.query(`DROP TABLE "tracking"."metric_names"`);
  }
}
