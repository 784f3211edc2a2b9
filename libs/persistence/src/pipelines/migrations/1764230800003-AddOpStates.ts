import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ops of a pipeline run's engine snapshot, one row each (libs/dag `OpRow`), written only when
 * they change: a step of a wide pipeline changes one or two ops, and rewriting all of them in the
 * run's snapshot (a TOASTed value of tens of kB) cost about 1 ms per step on the embedded
 * database. The run's `snapshot` keeps the rest (phase, queue, timers) and says `opsIn: op_states`.
 */
export class AddOpStates1764230800003 implements MigrationInterface {
  name = 'AddOpStates1764230800003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "pipelines"."op_states" (
      "pipeline_uuid" UUID NOT NULL REFERENCES "pipelines"."runs"("uuid") ON DELETE CASCADE,
      -- The op's index in the pipeline's graph.
      "op" INTEGER NOT NULL,
      "state" JSONB NOT NULL,
      PRIMARY KEY ("pipeline_uuid", "op")
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "pipelines"."op_states"`);
  }
}
