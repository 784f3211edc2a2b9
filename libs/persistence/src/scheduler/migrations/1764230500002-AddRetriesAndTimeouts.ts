import { MigrationInterface, QueryRunner } from 'typeorm';

/** Automatic retries (when the next attempt is due) and run timeouts (the limit, and when it was hit). */
export class AddRetriesAndTimeouts1764230500002 implements MigrationInterface {
  name = 'AddRetriesAndTimeouts1764230500002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions"
      ADD COLUMN "retry_at" TIMESTAMPTZ,
      ADD COLUMN "timeout_seconds" INTEGER,
      ADD COLUMN "timed_out_at" TIMESTAMPTZ`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions" DROP COLUMN "retry_at", DROP COLUMN "timeout_seconds", DROP COLUMN "timed_out_at"`);
  }
}
