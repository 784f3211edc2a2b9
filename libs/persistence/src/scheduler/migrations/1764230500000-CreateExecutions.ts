import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTableSql } from '../../outbox/outbox.entity';

export class CreateExecutions1764230500000 implements MigrationInterface {
  name = 'CreateExecutions1764230500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "scheduler"."executions" (
      "run_uuid" UUID PRIMARY KEY,
      "project" TEXT NOT NULL,
      "number" INTEGER NOT NULL,
      "kind" TEXT NOT NULL,
      "cmd" TEXT NOT NULL,
      "params" JSONB NOT NULL,
      "spec" JSONB NOT NULL,
      "code_dir" TEXT,
      "outputs_of" UUID,
      "copy_outputs_from" UUID,
      "priority" INTEGER NOT NULL DEFAULT 0,
      "status" TEXT NOT NULL,
      "attempt" INTEGER NOT NULL DEFAULT 0,
      "max_restarts" INTEGER NOT NULL DEFAULT 0,
      "executor" TEXT NOT NULL DEFAULT 'local',
      "pid" INTEGER,
      "pid_start_time" TEXT,
      "workdir" TEXT,
      "stdout_offset" BIGINT NOT NULL DEFAULT 0,
      "stderr_offset" BIGINT NOT NULL DEFAULT 0,
      "exit_code" INTEGER,
      "stop_requested_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ,
      "finished_at" TIMESTAMPTZ,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    // The admission query: waiting runs by priority, FIFO within a priority.
    await q.query(
      `CREATE INDEX "executions_queue_idx" ON "scheduler"."executions" ("priority" DESC, "created_at") WHERE "status" = 'queued'`,
    );
    await q.query(`CREATE INDEX "executions_status_idx" ON "scheduler"."executions" ("status")`);
    await q.query(createOutboxTableSql('scheduler'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "scheduler"."outbox"`);
    await q.query(`DROP TABLE "scheduler"."executions"`);
  }
}
