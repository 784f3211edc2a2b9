import { IsInt, Max, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';

export class TrackingEnv extends BaseServiceEnv {
  /** Seconds a verified token (and its access to a run) is cached before the API is asked again. */
  @IsInt() @Min(0) @Max(300) MYELIN_AUTH_CACHE_SECONDS: number = 10;
  /** Milliseconds between two looks at the database while following a run's logs. */
  @IsInt() @Min(20) MYELIN_LOG_FOLLOW_POLL_MS: number = 250;
}
