import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Runs whose metric summaries changed since they were last announced. A batch marks its run in
 * its own transaction; an announcer takes the marks a few times a second and queues one event
 * per run, instead of one event per batch (hundreds a second under load).
 */
export class AddPendingSummaries1764230600003 implements MigrationInterface {
  name = 'AddPendingSummaries1764230600003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "tracking"."summaries_pending" (
      "run_uuid" UUID PRIMARY KEY,
      "since" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "tracking"."summaries_pending"`);
  }
}
