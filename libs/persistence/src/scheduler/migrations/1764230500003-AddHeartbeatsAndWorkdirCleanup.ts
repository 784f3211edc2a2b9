import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Liveness and cleanup: the last sign of life of a live run (its process or pod seen alive, or a
 * heartbeat from its tracking client), and when a finished run's working directory was cleaned
 * after MYELIN_RUN_TTL_SECONDS (so it is done once). The partial index serves the periodic cleanup
 * query, which only ever looks at finished runs not cleaned yet.
 */
export class AddHeartbeatsAndWorkdirCleanup1764230500003 implements MigrationInterface {
  name = 'AddHeartbeatsAndWorkdirCleanup1764230500003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions"
      ADD COLUMN "heartbeat_at" TIMESTAMPTZ,
      ADD COLUMN "workdir_cleaned_at" TIMESTAMPTZ`);
    await q.query(`CREATE INDEX "executions_workdir_cleanup" ON "scheduler"."executions" ("finished_at")
      WHERE "workdir_cleaned_at" IS NULL AND "finished_at" IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "scheduler"."executions_workdir_cleanup"`);
    await q.query(`ALTER TABLE "scheduler"."executions" DROP COLUMN "heartbeat_at", DROP COLUMN "workdir_cleaned_at"`);
  }
}
