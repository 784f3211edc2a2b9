import { MigrationInterface, QueryRunner } from 'typeorm';

/** A group's trial runs are keyed by the optimizer's trial id: a retried request creates nothing twice. */
export class AddTrialKeys1764230400007 implements MigrationInterface {
  name = 'AddTrialKeys1764230400007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "core"."runs" ADD COLUMN "trial_key" TEXT`);
    await q.query(`CREATE UNIQUE INDEX "runs_parent_trial_key" ON "core"."runs" ("parent_uuid", "trial_key") WHERE "trial_key" IS NOT NULL`);
    await q.query(`CREATE INDEX "runs_parent_idx" ON "core"."runs" ("parent_uuid") WHERE "parent_uuid" IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "core"."runs_parent_idx"`);
    await q.query(`DROP INDEX "core"."runs_parent_trial_key"`);
    await q.query(`ALTER TABLE "core"."runs" DROP COLUMN "trial_key"`);
  }
}
