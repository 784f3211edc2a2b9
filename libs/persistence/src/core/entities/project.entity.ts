import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity({ schema: 'core', name: 'projects' })
export class ProjectEntity {
  @PrimaryColumn('uuid') id!: string;
  /** The owning user, or null when an organization owns the project. */
  @Column({ name: 'owner_id', type: 'uuid', nullable: true }) ownerId!: string | null;
  @Column({ name: 'org_id', type: 'uuid', nullable: true }) orgId!: string | null;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'text', default: '' }) description!: string;
  @Column({ name: 'is_public', type: 'boolean', default: false }) isPublic!: boolean;
  /** Last per-project run number handed out; incremented atomically when a run is created. */
  @Column({ name: 'last_run_number', type: 'integer', default: 0 }) lastRunNumber!: number;
  @Column({ type: 'text', default: '' }) readme!: string;
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" }) tags!: string[];
  /** Soft delete: archived projects are hidden and purged after the retention period. */
  @Column({ name: 'archived_at', type: 'timestamptz', nullable: true }) archivedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
