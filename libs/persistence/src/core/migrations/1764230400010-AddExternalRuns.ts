import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Runs tracked from outside the platform (a script on a laptop using the tracking client) are
 * not executed by the scheduler: they report their own status. `managed` tells them apart.
 */
export class AddExternalRuns1764230400010 implements MigrationInterface {
  name = 'AddExternalRuns1764230400010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "core"."runs" ADD COLUMN "managed" BOOLEAN NOT NULL DEFAULT true`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "core"."runs" DROP COLUMN "managed"`);
  }
}
