import { MigrationInterface, QueryRunner } from 'typeorm';

/** GPU devices a local run holds (CUDA_VISIBLE_DEVICES), so a restarted scheduler knows which are taken. */
export class AddExecutionDevices1764230500004 implements MigrationInterface {
  name = 'AddExecutionDevices1764230500004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions" ADD COLUMN "devices" JSONB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions" DROP COLUMN "devices"`);
  }
}
