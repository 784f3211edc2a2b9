import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTableSql } from '../../outbox/outbox.entity';

/**
 * The pipelines service's tables: each pipeline run with its engine snapshot, every decision the
 * engine took (a log, written before acting), and the actions those decisions ask for, keyed by
 * (pipeline run, op, attempt, kind) so an op attempt is requested at most once.
 */
export class CreatePipelines1764230800000 implements MigrationInterface {
  name = 'CreatePipelines1764230800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "pipelines"."runs" (
      "uuid" UUID PRIMARY KEY,
      "project" TEXT NOT NULL,
      -- The compiled polyaxonfile (libs/spec CompiledSpec) the graph is built from.
      "spec" JSONB NOT NULL,
      -- libs/dag EngineSnapshot after the last decision; null until the run started.
      "snapshot" JSONB,
      -- Retry of a finished pipeline run: the run whose succeeded ops are reused.
      "resume_of" UUID,
      -- running: the engine decides; done: the engine reported the final status.
      "status" TEXT NOT NULL DEFAULT 'running',
      "final_status" TEXT,
      -- When the engine has a timer due (retry backoff, execute_at, timeouts).
      "wake_at" TIMESTAMPTZ,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "runs_active_wake" ON "pipelines"."runs" ("wake_at") WHERE "status" = 'running'`);
    await q.query(`CREATE TABLE "pipelines"."decisions" (
      "id" BIGSERIAL PRIMARY KEY,
      "pipeline_uuid" UUID NOT NULL REFERENCES "pipelines"."runs"("uuid") ON DELETE CASCADE,
      -- What the engine was told: start, status (op, status, attempt), tick, stop.
      "input" JSONB NOT NULL,
      "decisions" JSONB NOT NULL,
      "at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "decisions_pipeline" ON "pipelines"."decisions" ("pipeline_uuid", "id")`);
    await q.query(`CREATE TABLE "pipelines"."actions" (
      "id" BIGSERIAL PRIMARY KEY,
      "pipeline_uuid" UUID NOT NULL REFERENCES "pipelines"."runs"("uuid") ON DELETE CASCADE,
      "op" TEXT NOT NULL,
      "attempt" INTEGER NOT NULL,
      -- start: create and start the op run; mark: create it with a final status; reuse: retry reused it; stop: RunStop.
      "kind" TEXT NOT NULL,
      "mark" TEXT,
      "reason" TEXT NOT NULL DEFAULT '',
      "params" JSONB NOT NULL DEFAULT '{}'::jsonb,
      "reused_from" UUID,
      -- The op run (start, mark, reuse) once the API created it.
      "run_uuid" UUID,
      -- The op run's last known status, and when it was last confirmed with the API.
      "run_status" TEXT,
      "checked_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "done_at" TIMESTAMPTZ,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      CONSTRAINT "actions_once" UNIQUE ("pipeline_uuid", "op", "attempt", "kind")
    )`);
    await q.query(`CREATE INDEX "actions_pending" ON "pipelines"."actions" ("pipeline_uuid", "id") WHERE "done_at" IS NULL`);
    await q.query(`CREATE UNIQUE INDEX "actions_run" ON "pipelines"."actions" ("run_uuid") WHERE "run_uuid" IS NOT NULL AND "kind" <> 'stop'`);
    await q.query(createOutboxTableSql('pipelines'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "pipelines"."outbox"`);
    await q.query(`DROP TABLE "pipelines"."actions"`);
    await q.query(`DROP TABLE "pipelines"."decisions"`);
    await q.query(`DROP TABLE "pipelines"."runs"`);
  }
}
