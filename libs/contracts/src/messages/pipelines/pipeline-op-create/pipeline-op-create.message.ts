import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, MaxLength, Min } from 'class-validator';
import { defineMessage } from '../../message-kind';
import { IsPlainObject } from '../../validators';

/** Statuses the pipelines service may give an op run that never executes (decided by the engine). */
export const PIPELINE_OP_MARKS = ['skipped', 'upstream_failed', 'stopped', 'failed'] as const;
export type PipelineOpMark = (typeof PIPELINE_OP_MARKS)[number];

/**
 * Request to the API from the pipelines service: create (or return, if it exists) the child run of
 * a pipeline run for one attempt of one op. The key (pipeline run, op, attempt) makes a retried
 * request return the same run, so an op is never started twice.
 *
 * Without `mark`, the op's template (an inline `templates` entry of the pipeline) is compiled with
 * `params` (upstream outputs already injected) and started like any run (RunStart → scheduler).
 * With `mark`, the op run is created directly with that final status and never executes: the op
 * was skipped, upstream_failed or stopped before it started, failed before it could start (an
 * upstream output it needs is missing), or (`reusedFrom`) reused from the run being retried or,
 * with `cached`, from an earlier run with the same cache key. For a started op run, `reason` (why
 * it runs: the trigger, or the cache miss) is kept in its spec as `pipelineDecision`.
 */
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace PipelineOpCreate {
  export const PATTERN = 'api.req.pipeline-op.create.v1';
  export class Payload {
    @IsUUID() pipelineUuid!: string;
    @IsString() @MaxLength(128) @Matches(/^[-A-Za-z0-9_.]+$/) op!: string;
    /** 1 for the first attempt, 2 for the first retry...; 0 for an op marked without ever starting. */
    @IsInt() @Min(0) attempt!: number;
    /** The op's params with `{{ ops.X.outputs.y }}` resolved. */
    @IsPlainObject() params!: Record<string, unknown>;
    @IsOptional() @IsIn(PIPELINE_OP_MARKS) mark?: PipelineOpMark;
    /** Why the engine decided this (the status reason of a marked run, the message of a started one). */
    @IsOptional() @IsString() @MaxLength(2000) reason?: string;
    /** Retry of a pipeline run: the op run of the earlier pipeline run whose success is reused. */
    @IsOptional() @IsUUID() reusedFrom?: string;
    /** With `reusedFrom`: the op was a cache hit (`cache: true`), not a retry's reuse. */
    @IsOptional() @IsBoolean() cached?: boolean;
  }
  /** The op run as it is now: a repeated request doubles as a status check after a restart. */
  export interface Reply {
    runUuid: string;
    number: number;
    status: string;
    /**
     * An op whose template is a `group`, once the group is `done`: its outputs are the best trial's
     * params and the value of the search metric (`{lr: 0.1, loss: 0.02}`); empty when no trial
     * reported the metric.
     */
    outputs?: Record<string, unknown>;
  }
  export const definition = defineMessage(PATTERN, 'request', Payload);
}
