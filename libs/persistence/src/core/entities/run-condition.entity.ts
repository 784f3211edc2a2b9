import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { RunStatus } from '@myelin/contracts';

/** One row per accepted status change: the run's history (status, reason, message, time). */
@Entity({ schema: 'core', name: 'run_conditions' })
export class RunConditionEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: number;
  @Column({ name: 'run_uuid', type: 'uuid' }) runUuid!: string;
  @Column({ type: 'text' }) status!: RunStatus;
  @Column({ type: 'text', default: '' }) reason!: string;
  @Column({ type: 'text', default: '' }) message!: string;
  @Column({ type: 'timestamptz' }) at!: Date;
}
