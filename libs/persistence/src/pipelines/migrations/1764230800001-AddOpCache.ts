import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Op cache (`cache: true`): the content key of every finished op run that ran, by scope (project,
 * pipeline name, op), with its status and outputs; and the key an action started its op run with.
 */
export class AddOpCache1764230800001 implements MigrationInterface {
  name = 'AddOpCache1764230800001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "pipelines"."op_cache" (
      "run_uuid" UUID PRIMARY KEY,
      "scope" TEXT NOT NULL,
      -- libs/dag CacheKey: the key and one digest per part, so a miss can say what changed.
      "key" JSONB NOT NULL,
      "status" TEXT NOT NULL,
      "outputs" JSONB NOT NULL DEFAULT '{}'::jsonb,
      "finished_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "op_cache_scope" ON "pipelines"."op_cache" ("scope", "finished_at" DESC)`);
    await q.query(`ALTER TABLE "pipelines"."actions" ADD COLUMN "cache_scope" TEXT, ADD COLUMN "cache_key" JSONB`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "pipelines"."actions" DROP COLUMN "cache_key", DROP COLUMN "cache_scope"`);
    await q.query(`DROP TABLE "pipelines"."op_cache"`);
  }
}
