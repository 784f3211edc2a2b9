import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scheduled pipelines: each schedule's libs/dag ScheduleState (saved with every tick), and one row
 * per fired slot, written before the slot's pipeline run is asked for (keyed by schedule and slot).
 */
export class AddSchedules1764230800002 implements MigrationInterface {
  name = 'AddSchedules1764230800002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "pipelines"."schedules" (
      "uuid" UUID PRIMARY KEY,
      "project" TEXT NOT NULL,
      "spec" JSONB NOT NULL,
      "state" JSONB NOT NULL,
      -- active | finished | stopped; paused separately, so resume returns to where it was.
      "status" TEXT NOT NULL DEFAULT 'active',
      "paused" BOOLEAN NOT NULL DEFAULT false,
      "catch_up" TEXT NOT NULL DEFAULT 'latest',
      -- When to tick next; null: tick at the next pass (new, resumed, or a run just finished).
      "next_at" TIMESTAMPTZ,
      "fired" INTEGER NOT NULL DEFAULT 0,
      "missed" INTEGER NOT NULL DEFAULT 0,
      "blocked" TEXT,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "updated_at" TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE "pipelines"."schedule_slots" (
      "schedule_uuid" UUID NOT NULL REFERENCES "pipelines"."schedules"("uuid") ON DELETE CASCADE,
      "slot" TIMESTAMPTZ NOT NULL,
      -- The slot's pipeline run once the API created it (a retry of it takes its place).
      "run_uuid" UUID,
      "status" TEXT,
      "created_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY ("schedule_uuid", "slot")
    )`);
    await q.query(`CREATE INDEX "schedule_slots_run" ON "pipelines"."schedule_slots" ("run_uuid")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "pipelines"."schedule_slots"`);
    await q.query(`DROP TABLE "pipelines"."schedules"`);
  }
}
