import { IsInt, Max, Min } from 'class-validator';
import { BaseServiceEnv } from '@myelin/config';
import { IsIn, IsOptional, IsString, Matches } from 'class-validator';
import { ARTIFACTS_STORE_PATTERN } from '@myelin/artifacts';

export class TrackingEnv extends BaseServiceEnv {
  /** Seconds a verified token (and its access to a run) is cached before the API is asked again. */
  @IsInt() @Min(0) @Max(300) MYELIN_AUTH_CACHE_SECONDS: number = 10;
  /**
   * Longest wait, in milliseconds, between two looks at the database while following a run's
   * logs; new lines wake the follower at once (in-process, or through Redis between replicas).
   */
  @IsInt() @Min(20) MYELIN_LOG_FOLLOW_POLL_MS: number = 2000;
  /** Points (or log lines) per ingest batch; above it a request gets 413 and the clients split. */
  @IsInt() @Min(1) @Max(1_000_000) MYELIN_TRACKING_MAX_BATCH_POINTS: number = 10_000;
  /**
   * Transactions writing metric batches at once (batches arriving meanwhile are grouped into the
   * next one). Default 3 on a PostgreSQL server; 1 on the embedded database, whose single session
   * serialises transactions anyway, so waiting batches are better grouped than queued.
   */
  @IsOptional() @IsInt() @Min(1) @Max(64) MYELIN_TRACKING_INGEST_WRITERS?: number;
  /** Largest JSON request body, in bytes. */
  @IsInt() @Min(1024) MYELIN_TRACKING_MAX_BODY_BYTES: number = 16 * 1024 * 1024;
  /** Where runs' outputs live: `local` (the runs folder below) or `s3://bucket[/prefix]`. */
  @Matches(ARTIFACTS_STORE_PATTERN, { message: 'must be "local" or "s3://bucket[/prefix]"' }) MYELIN_ARTIFACTS_STORE: string = 'local';
  /** Local store: the folder of run working directories, as the scheduler's (default: $MYELIN_HOME/runs). */
  @IsOptional() @IsString() MYELIN_RUNS_DIR?: string;
  /** S3 store: an S3-compatible server's URL (MinIO, Ceph...); unset: AWS. */
  @IsOptional() @Matches(/^https?:\/\//, { message: 'must be an http:// or https:// URL' }) MYELIN_S3_ENDPOINT?: string;
  /** S3 store: the bucket's region (default us-east-1). */
  @IsOptional() @IsString() MYELIN_S3_REGION?: string;
  /** S3 store: path-style URLs; `auto` = when MYELIN_S3_ENDPOINT is set. */
  @IsIn(['auto', 'true', 'false']) MYELIN_S3_FORCE_PATH_STYLE: string = 'auto';
  /** S3 store: keys; unset, the AWS SDK's default chain applies (profile, instance role...). */
  @IsOptional() @IsString() AWS_ACCESS_KEY_ID?: string;
  @IsOptional() @IsString() AWS_SECRET_ACCESS_KEY?: string;
}
