import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { MessageKind } from '@myelin/contracts';

export interface OutboxRow {
  id: number;
  pattern: string;
  kind: MessageKind;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/**
 * The transactional outbox of one schema: a service writes the message in the same transaction
 * as the state change it announces, and a relay publishes it afterwards. A crash between the two
 * delays the message; it never loses it.
 */
export function outboxEntityFor(schema: string): new () => OutboxRow {
  @Entity({ schema, name: 'outbox' })
  class OutboxEntity implements OutboxRow {
    @PrimaryGeneratedColumn({ type: 'bigint' }) id!: number;
    @Column({ type: 'text' }) pattern!: string;
    @Column({ type: 'text' }) kind!: MessageKind;
    @Column({ type: 'jsonb' }) payload!: Record<string, unknown>;
    @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  }
  Object.defineProperty(OutboxEntity, 'name', { value: `${schema[0].toUpperCase()}${schema.slice(1)}OutboxEntity` });
  return OutboxEntity;
}

export function createOutboxTableSql(schema: string): string {
  return `CREATE TABLE "${schema}"."outbox" (
    "id" BIGSERIAL PRIMARY KEY,
    "pattern" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
  )`;
}
