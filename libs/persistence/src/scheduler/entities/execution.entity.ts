import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { RunKind, RunStatus } from '@myelin/contracts';

/**
 * The scheduler's own record of a run it was asked to execute: the queue entry, the process
 * it started, and how far its logs were shipped. It is what the scheduler reconciles from
 * after a restart.
 */
@Entity({ schema: 'scheduler', name: 'executions' })
export class ExecutionEntity {
  @PrimaryColumn({ name: 'run_uuid', type: 'uuid' }) runUuid!: string;
  @Column({ type: 'text' }) project!: string;
  @Column({ type: 'integer' }) number!: number;
  @Column({ type: 'text' }) kind!: RunKind;
  @Column({ type: 'text' }) cmd!: string;
  @Column({ type: 'jsonb' }) params!: Record<string, unknown>;
  @Column({ type: 'jsonb' }) spec!: Record<string, unknown>;
  /** Code directory on the submitting host (local executor snapshots it). */
  @Column({ name: 'code_dir', type: 'text', nullable: true }) codeDir!: string | null;
  /** Resume: the run whose outputs this run writes into. */
  @Column({ name: 'outputs_of', type: 'uuid', nullable: true }) outputsOf!: string | null;
  /** Copy: the run whose outputs are copied in before the start. */
  @Column({ name: 'copy_outputs_from', type: 'uuid', nullable: true }) copyOutputsFrom!: string | null;
  @Column({ type: 'integer', default: 0 }) priority!: number;
  @Column({ type: 'text' }) status!: RunStatus;
  @Column({ type: 'integer', default: 0 }) attempt!: number;
  @Column({ name: 'max_restarts', type: 'integer', default: 0 }) maxRestarts!: number;
  @Column({ type: 'text', default: 'local' }) executor!: string;
  /** Process id (local executor) and its start time, to tell our process from a reused pid. */
  @Column({ type: 'integer', nullable: true }) pid!: number | null;
  @Column({ name: 'pid_start_time', type: 'text', nullable: true }) pidStartTime!: string | null;
  @Column({ type: 'text', nullable: true }) workdir!: string | null;
  @Column({ name: 'stdout_offset', type: 'bigint', default: 0 }) stdoutOffset!: number;
  @Column({ name: 'stderr_offset', type: 'bigint', default: 0 }) stderrOffset!: number;
  @Column({ name: 'exit_code', type: 'integer', nullable: true }) exitCode!: number | null;
  @Column({ name: 'stop_requested_at', type: 'timestamptz', nullable: true }) stopRequestedAt!: Date | null;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true }) finishedAt!: Date | null;
  /** Admission: the submitter's username and teams (`org/team`), for quotas. */
  @Column({ type: 'text', nullable: true }) submitter!: string | null;
  @Column({ type: 'jsonb', default: () => "'[]'" }) teams!: string[];
  /** The group or pipeline the run belongs to, and how many of its children may run at once. */
  @Column({ name: 'parent_uuid', type: 'uuid', nullable: true }) parentUuid!: string | null;
  /** The run whose code snapshot this one copies (see RunStart.codeOf); null: the parent's, if any. */
  @Column({ name: 'code_of', type: 'uuid', nullable: true }) codeOf!: string | null;
  @Column({ name: 'parent_kind', type: 'text', nullable: true }) parentKind!: 'group' | 'pipeline' | null;
  @Column({ name: 'parent_concurrency', type: 'integer', nullable: true }) parentConcurrency!: number | null;
  /** What the run holds while it runs: cores, MB, GPUs (from `environment.resources`). */
  @Column({ type: 'double precision', default: 0 }) cpu!: number;
  @Column({ name: 'memory_mb', type: 'double precision', default: 0 }) memoryMb!: number;
  @Column({ type: 'double precision', default: 0 }) gpu!: number;
  /** GPU device ids the run holds on the local executor's host (CUDA_VISIBLE_DEVICES); null: none. */
  @Column({ type: 'jsonb', nullable: true }) devices!: string[] | null;
  /** The last condition announced (a waiting run's reason: which limit holds it). */
  @Column({ name: 'status_reason', type: 'text', nullable: true }) statusReason!: string | null;
  @Column({ name: 'status_message', type: 'text', nullable: true }) statusMessage!: string | null;
  /** Fencing token of the claim that started the run; a status write with another token is refused. */
  @Column({ type: 'bigint', default: 0 }) fence!: number;
  /** The scheduler replica supervising the run. */
  @Column({ type: 'text', nullable: true }) owner!: string | null;
  /** Retrying: when the next attempt is queued. */
  @Column({ name: 'retry_at', type: 'timestamptz', nullable: true }) retryAt!: Date | null;
  /** Each attempt fails with reason Timeout after this many seconds of running; null = none. */
  @Column({ name: 'timeout_seconds', type: 'integer', nullable: true }) timeoutSeconds!: number | null;
  @Column({ name: 'timed_out_at', type: 'timestamptz', nullable: true }) timedOutAt!: Date | null;
  /** Last sign of life of a live run: its process/pod seen alive, or a heartbeat from its tracking client. */
  @Column({ name: 'heartbeat_at', type: 'timestamptz', nullable: true }) heartbeatAt!: Date | null;
  /** When the finished run's working directory (code, logs, bookkeeping; never outputs) was removed after the TTL. */
  @Column({ name: 'workdir_cleaned_at', type: 'timestamptz', nullable: true }) workdirCleanedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
