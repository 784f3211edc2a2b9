import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every run gets a token and has it revoked when it ends (`WHERE run_uuid = … AND revoked_at IS
 * NULL`): without an index that statement read every token ever issued, so each run's end cost
 * more as history grew. Partial: only live tokens are indexed, the set stays small.
 */
export class IndexLiveRunTokens1764230400011 implements MigrationInterface {
  name = 'IndexLiveRunTokens1764230400011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX "tokens_live_run_idx" ON "core"."tokens" ("run_uuid") WHERE "run_uuid" IS NOT NULL AND "revoked_at" IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "core"."tokens_live_run_idx"`);
  }
}
