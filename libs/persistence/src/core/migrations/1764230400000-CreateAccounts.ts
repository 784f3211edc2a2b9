import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAccounts1764230400000 implements MigrationInterface {
  name = 'CreateAccounts1764230400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "core"."users" (
      "id" UUID PRIMARY KEY,
      "username" TEXT NOT NULL UNIQUE,
      "email" TEXT,
      "password_hash" TEXT,
      "is_superuser" BOOLEAN NOT NULL DEFAULT FALSE,
      "is_active" BOOLEAN NOT NULL DEFAULT TRUE,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "core"."tokens" (
      "id" UUID PRIMARY KEY,
      "user_id" UUID NOT NULL REFERENCES "core"."users"("id") ON DELETE CASCADE,
      "token_hash" TEXT NOT NULL UNIQUE,
      "prefix" TEXT NOT NULL,
      "name" TEXT NOT NULL,
      "scope" TEXT NOT NULL DEFAULT 'user',
      "run_uuid" UUID,
      "expires_at" TIMESTAMPTZ,
      "revoked_at" TIMESTAMPTZ,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX "tokens_user_idx" ON "core"."tokens" ("user_id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "core"."tokens"`);
    await q.query(`DROP TABLE "core"."users"`);
  }
}
