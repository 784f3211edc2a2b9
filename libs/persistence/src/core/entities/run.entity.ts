import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { RunKind, RunStatus } from '@myelin/contracts';

@Entity({ schema: 'core', name: 'runs' })
export class RunEntity {
  @PrimaryColumn('uuid') uuid!: string;
  @Column({ name: 'project_id', type: 'uuid' }) projectId!: string;
  /** Per-project sequence number (`myelin get 3`). */
  @Column({ type: 'integer' }) number!: number;
  @Column({ type: 'text' }) kind!: RunKind;
  @Column({ type: 'text', nullable: true }) name!: string | null;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" }) tags!: string[];
  /** The polyaxonfile(s) as submitted, for display and copy/restart. */
  @Column({ type: 'text' }) content!: string;
  /** The compiled spec (libs/spec output). */
  @Column({ type: 'jsonb' }) spec!: Record<string, unknown>;
  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" }) params!: Record<string, unknown>;
  /** Where the code was on the submitting machine (a local executor snapshots it). */
  @Column({ name: 'code_dir', type: 'text', nullable: true }) codeDir!: string | null;
  @Column({ type: 'text' }) status!: RunStatus;
  @Column({ name: 'status_reason', type: 'text', default: '' }) statusReason!: string;
  @Column({ name: 'status_message', type: 'text', default: '' }) statusMessage!: string;
  @Column({ name: 'exit_code', type: 'integer', nullable: true }) exitCode!: number | null;
  @Column({ name: 'parent_uuid', type: 'uuid', nullable: true }) parentUuid!: string | null;
  @Column({ name: 'original_uuid', type: 'uuid', nullable: true }) originalUuid!: string | null;
  @Column({ name: 'cloning_strategy', type: 'text', nullable: true }) cloningStrategy!: string | null;
  /** A group's trial: the optimizer's trial id (unique within the group). */
  @Column({ name: 'trial_key', type: 'text', nullable: true }) trialKey!: string | null;
  /** False for a run tracked from outside the platform: it reports its own status. */
  @Column({ type: 'boolean', default: true }) managed!: boolean;
  @Column({ name: 'created_by', type: 'uuid' }) createdBy!: string;
  @Column({ type: 'text', default: '' }) readme!: string;
  @Column({ name: 'archived_at', type: 'timestamptz', nullable: true }) archivedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
}
