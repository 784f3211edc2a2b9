import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';

export class SchedulerEnv extends BaseServiceEnv {
  /** Runs executing at once on this scheduler (global concurrency of the local executor). */
  @IsInt() @Min(1) @Max(10_000) MYELIN_MAX_PARALLEL: number = 8;
  /** Seconds between SIGTERM and SIGKILL when a run is stopped. */
  @IsInt() @Min(0) @Max(3600) MYELIN_STOP_GRACE_SECONDS: number = 10;
  /** Where run working directories live (default: $MYELIN_HOME/runs). */
  @IsOptional() @IsString() MYELIN_RUNS_DIR?: string;
  /** API URL given to jobs (POLYAXON_API_HOST, MYELIN_HOST). */
  @IsString() MYELIN_PUBLIC_URL: string = 'http://127.0.0.1:8000';
  /** Tracking URL given to jobs (MYELIN_TRACKING_HOST) when it is not behind MYELIN_PUBLIC_URL (distributed mode without an ingress). */
  @IsOptional() @IsString() MYELIN_PUBLIC_TRACKING_URL?: string;
  /**
   * Prepended to jobs' PYTHONPATH so training code can `from myelin import tracking` without
   * installing anything (default: the Python client shipped in this repository, clients/python;
   * "" turns it off).
   */
  @IsOptional() @IsString() MYELIN_JOB_PYTHONPATH?: string;
  /** Milliseconds between two passes over the queue and the running processes. */
  @IsInt() @Min(10) MYELIN_SCHEDULER_TICK_MS: number = 200;
  /** Runs at once per project (0: no per-project limit beyond quotas). */
  @IsInt() @Min(0) @Max(10_000) MYELIN_MAX_PARALLEL_PER_PROJECT: number = 0;
  /** With MYELIN_REDIS_URL: how long a replica's claim on a run lasts without renewal (another replica adopts the run after it). */
  @IsInt() @Min(1000) @Max(600_000) MYELIN_SCHEDULER_LEASE_MS: number = 15_000;
  /** This replica's name in `owner` of the runs it starts (default: host, pid and a random suffix). */
  @IsOptional() @IsString() MYELIN_SCHEDULER_REPLICA?: string;
}
