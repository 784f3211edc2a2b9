import { MigrationInterface, QueryRunner } from 'typeorm';

/** The run whose code snapshot a child run copies (its pipeline, or the pipeline above its search), so a restarted scheduler knows it too. */
export class AddExecutionCodeOf1764230500006 implements MigrationInterface {
  name = 'AddExecutionCodeOf1764230500006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions" ADD COLUMN "code_of" UUID`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "scheduler"."executions" DROP COLUMN "code_of"`);
  }
}
