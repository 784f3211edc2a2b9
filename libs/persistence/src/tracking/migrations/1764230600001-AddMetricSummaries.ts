import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTableSql } from '../../outbox/outbox.entity';

/** Per run and metric: last value and step, min, max, count, kept up to date on every batch; and tracking's outbox. */
export class AddMetricSummaries1764230600001 implements MigrationInterface {
  name = 'AddMetricSummaries1764230600001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "tracking"."metric_summaries" (
      "run_uuid" UUID NOT NULL,
      "name_id" INTEGER NOT NULL REFERENCES "tracking"."metric_names"("id"),
      "last_value" DOUBLE PRECISION,
      "last_step" BIGINT,
      "last_at" TIMESTAMPTZ,
      "min_value" DOUBLE PRECISION,
      "max_value" DOUBLE PRECISION,
      "count" BIGINT NOT NULL DEFAULT 0,
      PRIMARY KEY ("run_uuid", "name_id")
    )`);
    await q.query(createOutboxTableSql('tracking'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "tracking"."outbox"`);
    await q.query(`DROP TABLE "tracking"."metric_summaries"`);
  }
}
