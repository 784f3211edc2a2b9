import { MigrationInterface, QueryRunner } from 'typeorm';
import { createOutboxTableSql } from '../../outbox/outbox.entity';

export class CreateCoreOutbox1764230400002 implements MigrationInterface {
  name = 'CreateCoreOutbox1764230400002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(createOutboxTableSql('core'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "core"."outbox"`);
  }
}
