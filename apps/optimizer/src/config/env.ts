import { IsInt, Max, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';

export class OptimizerEnv extends BaseServiceEnv {
  /** Milliseconds between two looks at every running group (resumes after lost messages). */
  @IsInt() @Min(50) MYELIN_OPTIMIZER_TICK_MS: number = 2000;
  /** Seconds to wait, after a trial's run succeeded, for its metric value to arrive before it counts as failed. */
  @IsInt() @Min(0) @Max(3600) MYELIN_TRIAL_VALUE_GRACE_SECONDS: number = 30;
  /** Seconds after which a running trial is confirmed with the API (recovers missed events). */
  @IsInt() @Min(1) MYELIN_TRIAL_CHECK_SECONDS: number = 10;
}
