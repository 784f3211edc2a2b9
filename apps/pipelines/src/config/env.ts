import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';
import { SCHEDULE_CATCH_UPS, type ScheduleCatchUp } from '@myelin/spec';

/** Pipelines configuration: the shared variables and the engine's own. */
export class PipelinesEnv extends BaseServiceEnv {
  /** Milliseconds between two passes over the pipeline runs (due timers, actions still to carry out). */
  @IsInt() @Min(20) @Max(60_000) MYELIN_PIPELINES_TICK_MS: number = 250;
  /** Seconds after which a running op run is confirmed with the API (recovers status events missed while down). */
  @IsInt() @Min(1) @Max(3600) MYELIN_OP_CHECK_SECONDS: number = 5;
  /** Where the op runs' working directories are, to read `outputs/outputs.json` (default: $MYELIN_HOME/runs, as the scheduler). */
  @IsOptional() @IsString() MYELIN_RUNS_DIR?: string;
  /**
   * Seconds an op run's outputs are waited for when they are read through tracking and its store
   * has no `outputs.json` yet, if a later op refers to them (an S3 store gets a local job's
   * outputs after its final status). Past this, the op has no outputs.
   */
  @IsInt() @Min(0) @Max(3600) MYELIN_OUTPUTS_WAIT_SECONDS: number = 30;
  /** Slots of a schedule missed while the service was down or the schedule paused: fire the newest (latest), every one (all), or none. */
  @IsIn(SCHEDULE_CATCH_UPS) MYELIN_SCHEDULE_CATCH_UP: ScheduleCatchUp = 'latest';
}
