import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';

/** Pipelines configuration: the shared variables and the engine's own. */
export class PipelinesEnv extends BaseServiceEnv {
  /** Milliseconds between two passes over the pipeline runs (due timers, actions still to carry out). */
  @IsInt() @Min(20) @Max(60_000) MYELIN_PIPELINES_TICK_MS: number = 250;
  /** Seconds after which a running op run is confirmed with the API (recovers status events missed while down). */
  @IsInt() @Min(1) @Max(3600) MYELIN_OP_CHECK_SECONDS: number = 5;
  /** Where the op runs' working directories are, to read `outputs/outputs.json` (default: $MYELIN_HOME/runs, as the scheduler). */
  @IsOptional() @IsString() MYELIN_RUNS_DIR?: string;
  /** Slots of a schedule missed while the service was down or the schedule paused: fire the newest (latest), every one (all), or none. */
  @IsIn(['latest', 'all', 'none']) MYELIN_SCHEDULE_CATCH_UP: 'latest' | 'all' | 'none' = 'latest';
}
