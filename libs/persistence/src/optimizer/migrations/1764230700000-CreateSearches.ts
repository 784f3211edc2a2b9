import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTableSql } from '../../outbox/outbox.entity';

/** The optimizer's groups (search state after every ask and tell) and their trials. */
export class CreateSearches1764230700000 implements MigrationInterface {
  name = 'CreateSearches1764230700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "optimizer"."groups" (
      "uuid" UUID PRIMARY KEY,
      "project" TEXT NOT NULL,
      "hptuning" JSONB NOT NULL,
      "state" JSONB,
      "status" TEXT NOT NULL DEFAULT 'running',
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "optimizer"."trials" (
      "group_uuid" UUID NOT NULL REFERENCES "optimizer"."groups"("uuid") ON DELETE CASCADE,
      "trial_id" INTEGER NOT NULL,
      "params" JSONB NOT NULL,
      "run_uuid" UUID UNIQUE,
      "status" TEXT NOT NULL DEFAULT 'asked',
      "last_value" DOUBLE PRECISION,
      "last_step" BIGINT,
      -- Last value of every metric the run reported (early-stopping rules may watch another metric).
      "last_metrics" JSONB NOT NULL DEFAULT '{}'::jsonb,
      -- Step of the last intermediate value told to the search.
      "told_step" BIGINT,
      "resume_from" INTEGER,
      -- When the optimizer last confirmed the trial's run with the API (catch-up of missed events).
      "checked_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      -- The run's final status, kept while its metric value may still be on its way.
      "final_status" TEXT,
      "ended_at" TIMESTAMPTZ,
      PRIMARY KEY ("group_uuid", "trial_id")
    )`);
    await q.query(createOutboxTableSql('optimizer'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "optimizer"."outbox"`);
    await q.query(`DROP TABLE "optimizer"."trials"`);
    await q.query(`DROP TABLE "optimizer"."groups"`);
  }
}
